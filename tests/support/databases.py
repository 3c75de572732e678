"""Fresh databases for a test module: a SQLite file or a new PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from sqlalchemy.engine import make_url

# The machine's PostgreSQL (trust auth); each test module gets its own database.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def fresh_postgres() -> Iterator[str]:
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"servicedesk_test_{uuid.uuid4().hex[:12]}"
    try:
        connection = psycopg2.connect(
            host=admin.host, port=admin.port or 5432, user=admin.username, dbname=admin.database
        )
    except psycopg2.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({error}); start it "
            "(.ci/run does) or set TEST_POSTGRES_URL"
        ) from error
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


@contextmanager
def fresh_database(backend: str, folder: Path, name: str = "handoff") -> Iterator[str]:
    """A URL of an empty database of ``backend``."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
    else:
        with fresh_postgres() as url:
            yield url
