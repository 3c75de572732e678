"""Alembic environment: migrates the database named by the service's settings."""

from alembic import context
from sqlalchemy import create_engine, pool

from handoff.models import Base
from handoff.settings import Settings

url = context.config.attributes.get("database_url") or Settings().database_url


def run_migrations() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            # Batch mode lets ALTER TABLE migrations run on SQLite too.
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
