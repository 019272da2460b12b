"""Activities stored through the SQLite fast path are exactly what the ORM path stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from connectors.records import Activity, ActivityKind, Actor
from sync.store.activities import activity_row, store_activities
from sync.store.tables import ActivityRecord
from sync.store.upsert import upsert

PARIS = timezone(timedelta(hours=1))


def _activities(title: str = "Pricing") -> list[Activity]:
    return [
        Activity(
            "crm",
            "e1",
            "c1",
            ActivityKind.PAGE_VIEW,
            datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC),  # no microseconds: still stored with them
            Actor.CONTACT,
            "web",
            properties={"url": "https://acme.test/pricing", "title": title, "é": "ü"},
        ),
        Activity(
            "crm",
            "e2",
            "c1",
            ActivityKind.CALL,
            datetime(2026, 11, 20, 10, 30, 5, 123456, tzinfo=PARIS),
            Actor.REP,
            "phone",
            owner_id="o1",
        ),
    ]


def _stored(engine: Engine) -> list[tuple[object, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(ActivityRecord).order_by(ActivityRecord.crm_id)).all()
        return [
            (
                r.connection,
                r.crm_id,
                r.contact_id,
                r.kind,
                r.actor,
                r.channel,
                r.owner_id,
                r.occurred_at,
                r.properties,
            )
            for r in rows
        ]


def test_fast_store_reads_back_as_written_and_upserts(engine: Engine) -> None:
    with Session(engine) as session:
        store_activities(session, _activities())
        store_activities(session, _activities(title="Pricing v2"))  # same ids: updated
        session.commit()
    stored = _stored(engine)
    assert len(stored) == 2
    assert stored[0][7] == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert stored[0][8] == {"url": "https://acme.test/pricing", "title": "Pricing v2", "é": "ü"}
    assert stored[1][7] == datetime(2026, 11, 20, 9, 30, 5, 123456, tzinfo=UTC)
    assert stored[1][6] == "o1" and stored[1][8] == {}


def test_sqlite_fast_path_stores_the_same_text_as_sqlalchemy(sqlite_url: str) -> None:
    from sync.store.engine import make_engine
    from sync.store.schema import upgrade

    raw: list[list[tuple[object, ...]]] = []
    for store in ("fast", "orm"):
        engine = make_engine(sqlite_url.replace(".db", f"-{store}.db"))
        upgrade(engine)
        with Session(engine) as session:
            if store == "fast":
                store_activities(session, _activities())
            else:
                upsert(session, ActivityRecord, [activity_row(a) for a in _activities()])
            session.commit()
            raw.append(
                list(session.connection().execute(text("SELECT * FROM activities ORDER BY crm_id")))
            )
        engine.dispose()
    assert raw[0] == raw[1]


def test_naive_time_is_refused(engine: Engine) -> None:
    naive = Activity("crm", "e9", "c1", ActivityKind.CALL, datetime(2026, 1, 1), Actor.REP, "phone")
    with Session(engine) as session, pytest.raises(Exception, match="naive"):
        store_activities(session, [naive])


def test_read_activities_returns_what_was_stored(engine: Engine) -> None:
    from sync.store.activities import read_activities

    with Session(engine) as session:
        store_activities(session, _activities())
        other = Activity("other", "e1", "c1", ActivityKind.CALL, datetime.now(UTC), Actor.REP)
        store_activities(session, [other])  # same record id in another connection: not read
        session.commit()
        read = sorted(read_activities(session, "crm", ["c1", "c2"]), key=lambda a: a.id)
    assert read == _activities()
    assert all(a.occurred_at.tzinfo is UTC for a in read)


def _has_person_index(engine: Engine) -> bool:
    with engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
        return "ix_activities_person" in {n for (n,) in names}


def test_a_bulk_load_drops_the_person_index_and_always_builds_it_again(sqlite_url: str) -> None:
    from sync.store.activities import bulk_load, ensure_indexes
    from sync.store.engine import make_engine
    from sync.store.schema import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    assert _has_person_index(engine)
    with pytest.raises(RuntimeError), bulk_load(engine):
        assert not _has_person_index(engine)
        raise RuntimeError("the stream failed mid-load")
    assert _has_person_index(engine)
    with engine.begin() as connection:  # as a kill -9 during a load leaves it
        connection.exec_driver_sql("DROP INDEX ix_activities_person")
    ensure_indexes(engine)  # what every pull does first
    assert _has_person_index(engine)


def test_stored_activities_are_the_rows_the_generic_upsert_stores(engine: Engine) -> None:
    """Both stores: `store_activities` (SQLite's driver path, PostgreSQL's bound arrays) leaves
    the rows the ORM-typed upsert leaves, a repeated id ends as its last row, a secret in a
    property is redacted."""
    from dataclasses import replace

    from config.secrets import register_secret

    register_secret("pat-na1-0123456789abcdef")
    page = [
        *_activities(),
        replace(_activities()[0], properties={"url": "u", "token": "pat-na1-0123456789abcdef"}),
    ]
    with Session(engine) as session:
        store_activities(session, page)
        upsert(session, ActivityRecord, [activity_row(replace(a, connection="orm")) for a in page])
        session.commit()
    stored = _stored(engine)
    fast = [row[1:] for row in stored if row[0] == "crm"]
    assert fast == [row[1:] for row in stored if row[0] == "orm"]
    assert [row[0] for row in fast] == ["e1", "e2"]
    assert fast[0][7] == {"url": "u", "token": "***"}
