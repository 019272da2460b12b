"""Bringing a state store to the current schema.

Until the first Alembic revision lands this creates the tables from the SQLModel metadata; from
then on `upgrade` runs the Alembic migrations (`handoff db upgrade`, also run on start).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel


def import_all_tables() -> None:
    """Import every module that defines tables so the metadata is complete."""
    import importlib

    for module in ("sync.store.tables", "routing.tables", "routing.sla.tables"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def upgrade(engine: Engine) -> None:
    import_all_tables()
    SQLModel.metadata.create_all(engine)
