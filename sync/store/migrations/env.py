"""Alembic environment: runs on the connection handed over by `sync.store.schema.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from sync.store.schema import import_all_tables

import_all_tables()
target_metadata = SQLModel.metadata
config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from sync.store.engine import make_engine

        engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///handoff.db")
        with engine.connect() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
