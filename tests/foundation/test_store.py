"""The state store on SQLite and PostgreSQL: migrations, UTC timestamps, bulk upserts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from sync.store.engine import make_engine
from sync.store.schema import StoreUnavailable, upgrade
from sync.store.tables import OwnerRecord, SyncCursor
from sync.store.upsert import upsert


def test_migrations_build_every_table_and_match_the_models(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert {"people", "activities", "outbox", "runs", "sync_cursors", "person_state"} <= tables
    assert {"routing_rotation", "routing_assignment", "sla_clocks", "alembic_version"} <= tables
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], f"models changed without a migration: {diff}"


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)


def test_timestamps_come_back_aware_utc(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    with Session(engine) as session:
        session.add(
            SyncCursor(
                connection="hubspot",
                stream="contacts",
                value=datetime(2026, 11, 20, 16, 0, tzinfo=paris),
                updated_at=datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
            )
        )
        session.commit()
    with Session(engine) as session:
        row = session.get_one(SyncCursor, ("hubspot", "contacts"))
        assert row.value == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
        assert row.value.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            SyncCursor(
                connection="x", stream="y", value=datetime(2026, 1, 1), updated_at=datetime.now(UTC)
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()


def test_bulk_upsert_inserts_then_updates(engine: Engine) -> None:
    rows = [
        {"connection": "c", "crm_id": str(i), "email": f"r{i}@x.com", "name": "", "active": True}
        for i in range(300)
    ]
    with Session(engine) as session:
        upsert(session, OwnerRecord, rows)
        upsert(session, OwnerRecord, [{**rows[0], "active": False}])
        session.commit()
    with Session(engine) as session:
        owners = session.exec(select(OwnerRecord)).all()
        assert len(owners) == 300
        assert session.get_one(OwnerRecord, ("c", "0")).active is False


def test_unreachable_store_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailable, match=r"Check state\.url"):
        upgrade(make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
