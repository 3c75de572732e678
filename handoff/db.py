"""Database engine and the unit of work that domain functions run in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so writers queue."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

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
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


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

    def notify(self, target: str, name: str, payload: dict[str, Any]) -> None:
        """Queue a real-time event; it leaves only after commit."""
        self.notices.append(Notice(target, name, payload))


class Database:
    """Owns the engine and opens units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Commit on success, roll back on any error."""
        with self._sessions() as session:
            uow = UnitOfWork(session)
            try:
                yield uow
                session.commit()
            except BaseException:
                session.rollback()
                uow.notices.clear()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
