"""Bringing a state store to the current schema with Alembic (`handoff db upgrade`, and on start)."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")
TABLE_MODULES = ("sync.store.tables", "routing.tables", "routing.sla.tables")


class StoreUnavailable(Exception):
    """The state store cannot be reached or opened; the message says where and what to check."""


def import_all_tables() -> None:
    """Import every module that defines tables so the metadata is complete."""
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not exc.name or not module.startswith(exc.name):
                raise


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine) -> None:
    """Run every pending migration. Safe to call on each start and from several replicas."""
    import_all_tables()
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # One migrator at a time across replicas.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7220311)")
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = connection
            if any((MIGRATIONS / "versions").glob("*.py")):
                command.upgrade(cfg, "head")
            else:  # before the first revision exists
                from sqlmodel import SQLModel

                SQLModel.metadata.create_all(connection)
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreUnavailable(
            f"cannot open the state store {where}: {exc.orig}. Check state.url in handoff.yaml "
            "and that the database server is running."
        ) from None
