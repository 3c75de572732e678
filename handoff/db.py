"""Database engine and the unit of work that domain functions run in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from handoff.domain.errors import DomainError

# How long a SQLite writer waits for another process's lock before giving up.
SQLITE_LOCK_TIMEOUT_SECONDS = 30.0


class DatabaseUnavailable(DomainError):
    """The database did not answer (connection refused or lost, file locked):
    nothing of the request was written; the caller may try again."""

    code, status = "unavailable", 503

    def __init__(self) -> None:
        super().__init__("Banco de dados indisponível no momento. Tente novamente em instantes.")


def is_unavailable(error: DBAPIError) -> bool:
    """A lost or refused connection (PostgreSQL) or a lock held too long
    (SQLite), as opposed to a bug such as a constraint violation."""
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return any(
        sign in text
        for sign in (
            "database is locked",
            "could not connect",
            "connection refused",
            "server closed the connection",
            "connection already closed",
            "terminating connection",
            "ssl syscall error",
            "eof detected",
            "no connection to the server",
        )
    )


def make_engine(url: str, lock_timeout: float = SQLITE_LOCK_TIMEOUT_SECONDS) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so writers queue."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock_timeout}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when a transaction begins,
            # and take the write lock at BEGIN so writers queue instead of
            # failing on upgrade.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A refused connection fails at once instead of hanging the worker thread.
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={"connect_timeout": 5},
    )


@dataclass
class Notice:
    """A real-time event to push once the transaction that caused it commits."""

    target: str
    name: str
    payload: dict[str, Any]


@dataclass
class UnitOfWork:
    """A database session plus the notices its changes produce."""

    session: Session
    notices: list[Notice] = field(default_factory=list)
    # Whether it wrote outbox jobs: the worker is woken after the commit.
    outbox_touched: bool = False

    def notify(self, target: str, name: str, payload: dict[str, Any]) -> None:
        """Queue a real-time event; it leaves only after commit."""
        self.notices.append(Notice(target, name, payload))


class Database:
    """Owns the engine and opens units of work."""

    def __init__(self, url: str, lock_timeout: float = SQLITE_LOCK_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commit on success, roll back on any error. A database that does not
        answer becomes :class:`DatabaseUnavailable` (the transaction is
        rolled back, so nothing is half-written)."""
        with self._sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                session.commit()
            except BaseException as error:
                uow.notices.clear()
                try:
                    session.rollback()
                except DBAPIError:
                    pass  # the connection is gone; the server rolled back for us
                if isinstance(error, DBAPIError) and is_unavailable(error):
                    raise DatabaseUnavailable() from error
                raise

    def dispose(self) -> None:
        self.engine.dispose()
