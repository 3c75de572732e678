"""Database engine and the unit of work that domain functions run in."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from handoff.domain.audiences import Audience
from handoff.domain.errors import DomainError

# How long a writer waits for another process's lock before giving up.
LOCK_TIMEOUT_SECONDS = 30.0
# Threads for read-only units of work, apart from the writers' (asyncio's
# default executor: 6 threads on 2 cores), so that writers waiting for a
# lock cannot hold every thread while reads could be answered. With the
# writers' threads this stays within the connection pool (5 + 10 overflow).
READER_THREADS = 4
# Execution option that makes a transaction read-only (see make_engine).
READ_ONLY = "handoff_read_only"


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
            "lock timeout",  # PostgreSQL's lock_timeout
        )
    )


def make_engine(url: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> Engine:
    """Create an engine where a write waits at most ``lock_timeout`` seconds
    for another process's lock (SQLite's busy timeout, PostgreSQL's
    ``lock_timeout``), and where a connection with the :data:`READ_ONLY`
    execution option opens read-only transactions: on SQLite a plain
    (deferred) ``BEGIN``, which takes no write lock, so reads of the WAL
    database go on while another process holds it; writes take the lock at
    ``BEGIN IMMEDIATE`` so that they queue instead of failing on upgrade."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": lock_timeout}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN" if _read_only(connection) else "BEGIN IMMEDIATE")

        return engine
    # A refused connection fails at once instead of hanging the worker thread.
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        connect_args={
            "connect_timeout": 5,
            "options": f"-c lock_timeout={max(1, round(lock_timeout * 1000))}",
        },
    )

    @event.listens_for(engine, "begin")
    def _postgresql_begin(connection: Connection) -> None:
        if _read_only(connection):
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


def _read_only(connection: Connection) -> bool:
    return bool(connection.get_execution_options().get(READ_ONLY))


@dataclass
class Notice:
    """A real-time event to push once the transaction that caused it commits."""

    target: Audience
    name: str
    payload: dict[str, Any]


@dataclass
class UnitOfWork:
    """A database session plus the notices its changes produce."""

    session: Session
    notices: list[Notice] = field(default_factory=list)
    # Whether it wrote outbox jobs: the worker is woken after the commit.
    outbox_touched: bool = False

    def notify(self, target: Audience, name: str, payload: dict[str, Any]) -> None:
        """Queue a real-time event; it leaves only after commit."""
        self.notices.append(Notice(target, name, payload))


class Database:
    """Owns the engine and opens units of work."""

    def __init__(self, url: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self.readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="db-read")
        self._lock_timeout = lock_timeout
        # SQLite takes one writer at a time: this process's writers queue on
        # a lock of its own, handed on the moment a commit ends, instead of
        # SQLite's busy handler, which sleeps up to 100 ms between tries (at
        # 1,000 conversations the service's threads mostly waited in it with
        # the database free). Other processes still wait in the busy handler.
        self._one_writer = threading.RLock() if self.engine.dialect.name == "sqlite" else None

    @contextmanager
    def unit_of_work(self, read_only: bool = False) -> Iterator[UnitOfWork]:
        """Commit on success, roll back on any error. A database that does not
        answer becomes :class:`DatabaseUnavailable` (the transaction is
        rolled back, so nothing is half-written). ``read_only``: a
        transaction that takes no write lock (and refuses writes on
        PostgreSQL)."""
        if read_only or self._one_writer is None:
            with self._unit_of_work(read_only) as uow:
                yield uow
            return
        if not self._one_writer.acquire(timeout=self._lock_timeout):
            raise DatabaseUnavailable()
        try:
            with self._unit_of_work(read_only) as uow:
                yield uow
        finally:
            self._one_writer.release()

    @contextmanager
    def _unit_of_work(self, read_only: bool) -> Iterator[UnitOfWork]:
        with (self._read_sessions if read_only else self._sessions)() as session:
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

    def write_lock_free(self, wait: float) -> bool:
        """SQLite: whether the write lock can be had within ``wait`` seconds
        (taken and released at once); False while another process holds it,
        when every write waits and then fails. Other engines lock rows and
        tables, not the database: True."""
        if self.engine.dialect.name != "sqlite":
            return True
        connection = sqlite3.connect(self.engine.url.database or "", timeout=wait)
        try:
            connection.isolation_level = None
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as error:
            if "locked" in str(error):
                return False
            raise
        finally:
            connection.close()

    def dispose(self) -> None:
        self.readers.shutdown(wait=False)
        self.engine.dispose()
