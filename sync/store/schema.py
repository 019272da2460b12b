"""Bringing a state store to the current schema with Alembic (`handoff db upgrade`, and on start)."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from sync.store.engine import SQLITE_BUSY_SECONDS

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 7220311  # pg advisory lock id: one migrator at a time
TABLE_MODULES = ("sync.store.tables", "routing.tables", "routing.sla.tables", "sync.ops.tables")


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


_REVISION = re.compile(r"^revision(?::[^=]*)?=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN_REVISION = re.compile(r"^down_revision(?::[^=]*)?=\s*(None|[\"']([^\"']+)[\"'])", re.M)


@cache
def head_revision() -> str | None:
    """The head of the migration chain, read from the version files' text: what Alembic's script
    directory says, without loading Alembic (a tenth of a second at every start). None when the
    files are not one simple chain (a merge revision): then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(2):
            parents.add(down.group(2))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_current(engine: Engine) -> bool:
    """The store is at the head revision already (one read; any doubt answers False)."""
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        return False  # no such table yet, or unreachable: the full path says which
    return [row[0] for row in found] == [head]


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine) -> None:
    """Run every pending migration. Safe to call on each start and from several processes at
    once: one migrates, the others wait for it, then find the schema current. A store already
    at the head revision is left alone after one read (the common start)."""
    import_all_tables()
    if is_current(engine):
        return
    from alembic import command

    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # One migrator at a time: held until this transaction ends.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            elif engine.dialect.name == "sqlite":
                # Take the write lock before reading the schema version (waits up to the busy
                # timeout); without it two fresh starts both see no tables and race to create them.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            cfg = alembic_config(engine)
            cfg.attributes["connection"] = connection
            if any((MIGRATIONS / "versions").glob("*.py")):
                command.upgrade(cfg, "head")
            else:  # before the first revision exists
                from sqlmodel import SQLModel

                SQLModel.metadata.create_all(connection)
    except OperationalError as exc:
        raise StoreUnavailable(unavailable_message(engine, exc)) from None


def unavailable_message(engine: Engine, exc: OperationalError) -> str:
    """What went wrong opening the store, in terms of what the user can check."""
    where = engine.url.render_as_string(hide_password=True)
    reason = str(exc.orig).strip()
    if engine.dialect.name == "sqlite":
        if "locked" in reason or "busy" in reason:
            return (
                f"the state store {where} stayed locked by another process for "
                f"{SQLITE_BUSY_SECONDS} s ({reason}): another process is writing it. Wait for "
                "it to finish, or stop it, then run again."
            )
        return (
            f"cannot open the state store {where}: {reason}. Check state.url in handoff.yaml and "
            "that its directory exists and is writable."
        )
    return (
        f"cannot open the state store {where}: {reason}. Check state.url in handoff.yaml "
        "and that the database server is running."
    )
