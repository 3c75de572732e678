"""Bring the database schema up to date with Alembic, and check that the
migrations build exactly the models' schema (``python -m handoff.migrate
check``, run by ``make check``)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from handoff.models import Base

INI = Path(__file__).with_name("alembic.ini")


def alembic_config(database_url: str) -> Config:
    config = Config(str(INI))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration not yet applied."""
    command.upgrade(alembic_config(database_url), "head")


def differences(database_url: str) -> list[Any]:
    """What the migrated schema at ``database_url`` lacks or has beyond the models."""
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    if argv != ["check"]:
        print("usage: python -m handoff.migrate check", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        found = differences(f"sqlite:///{folder}/check.db")
    for difference in found:
        print(f"models and migrations differ: {difference}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
