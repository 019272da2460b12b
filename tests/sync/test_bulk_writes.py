"""The store's bulk writes (sync/store/upsert.py) leave the same rows on both backends: on
PostgreSQL a batch is one statement over column arrays (sync/store/bulk_pg.py), on SQLite an
executemany, row by row. Rows repeating a key in one batch end as a row-by-row write leaves them,
defaults fill missing columns, JSON `None` is JSON null, secrets are redacted, naive times refused.
The arrays go in binary; the echo mirror's updates are one UPDATE over arrays (bulk_update)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from config.secrets import register_secret
from sync.echo import Echo, remember_echoes
from sync.store.bulk_pg import BATCH_ROWS
from sync.store.tables import OutboxItem, PersonRecord, PersonState, WrittenValue
from sync.store.upsert import insert_ignore, upsert

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1))


def _person(crm_id: str, email: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "connection": "hubspot",
        "crm_id": crm_id,
        "object_type": "contact",
        "person_key": (email or crm_id).lower(),
        "email": email,
        "fields": fields,
        "modified_at": T0.astimezone(PARIS),
        "created_at": None,
    }  # status and survivor_id left to their defaults ("active", None)


def _people(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.exec(select(PersonRecord).order_by(PersonRecord.crm_id)).all()
        return [
            (r.crm_id, r.email, r.fields, r.modified_at, r.created_at, r.status, r.survivor_id)
            for r in rows
        ]


def test_an_upsert_keeps_the_last_row_of_a_key_and_fills_defaults(engine: Engine) -> None:
    with Session(engine) as session:
        upsert(session, PersonRecord, [_person("1", "a@x.test", score=1)])
        session.commit()
        upsert(
            session,
            PersonRecord,
            [
                _person("1", "first@x.test", score=2),
                _person("2", None),  # an all-None column in its batch: email, created_at
                _person("1", "last@x.test", score=3, tags=["a", None], nested={"k": None}),
            ],
        )
        session.commit()
    last = {"score": 3, "tags": ["a", None], "nested": {"k": None}}
    assert _people(engine) == [
        ("1", "last@x.test", last, T0, None, "active", None),
        ("2", None, {}, T0, None, "active", None),
    ]


def test_an_insert_that_ignores_conflicts_keeps_the_first_row_of_a_key(engine: Engine) -> None:
    def item(key: str, value: Any, reason: str) -> dict[str, Any]:
        return {
            "key": key,
            "run_id": "r1",
            "connection": "hubspot",
            "object_type": "contact",
            "record_id": "1",
            "kind": "field",
            "field": "lead_score",
            "value": value,
            "previous": None,  # JSON null, as SQLAlchemy's JSON type binds None
            "payload": {},
            "reason": reason,
            "created_at": T0,
        }

    with Session(engine) as session:
        insert_ignore(session, OutboxItem, [item("k1", 10, "held")])
        session.commit()
        insert_ignore(
            session,
            OutboxItem,
            [item("k1", 11, "ignored"), item("k2", 20, "first"), item("k2", 21, "second")],
        )
        session.commit()
        rows = session.exec(select(OutboxItem).order_by(OutboxItem.key)).all()
        got = [(r.key, r.value, r.previous, r.reason, r.status, r.attempts) for r in rows]
    assert got == [("k1", 10, None, "held", "pending", 0), ("k2", 20, None, "first", "pending", 0)]


def test_secrets_in_bulk_written_rows_are_redacted(engine: Engine) -> None:
    register_secret("pat-na1-0123456789abcdef")
    with Session(engine) as session:
        upsert(
            session,
            PersonRecord,
            [_person("1", "a@x.test", note="token pat-na1-0123456789abcdef echoed")],
        )
        upsert(
            session,
            WrittenValue,
            [
                {
                    "connection": "hubspot",
                    "record_id": "1",
                    "field": "pat-na1-0123456789abcdef",
                    "value": "pat-na1-0123456789abcdef",
                    "written_at": T0,
                }
            ],
        )
        session.commit()
        written = session.exec(select(WrittenValue)).one()
    assert _people(engine)[0][2] == {"note": "token *** echoed"}
    assert (written.field, written.value) == ("***", "***")


def test_secrets_in_json_columns_written_one_by_one_are_redacted(engine: Engine) -> None:
    """An ORM insert and a Core update of JSON columns: on PostgreSQL the values reach the driver
    wrapped (psycopg's `Json`), not as text; the stored JSON holds `***` on both backends."""
    secret = "pat-na1-fedcba9876543210"
    register_secret(secret)
    with Session(engine) as session:
        session.add(
            PersonRecord(
                connection="hubspot",
                crm_id="9",
                object_type="contact",
                person_key="9",
                fields={"note": f"echoed {secret}", secret: [secret, 1]},
                modified_at=T0,
            )
        )
        session.commit()
    with engine.begin() as conn:
        conn.execute(
            update(PersonRecord)
            .where(PersonRecord.crm_id == "9")  # type: ignore[arg-type]
            .values(fields={"again": {"deep": f"x {secret}"}, "n": 2})
        )
        conn.execute(
            insert(PersonRecord).values(
                connection="hubspot",
                crm_id="10",
                object_type="contact",
                person_key="10",
                fields={"k": secret},
                modified_at=T0,
            )
        )
    with engine.connect() as conn:
        stored = [
            str(row[0]) for row in conn.execute(text("SELECT fields FROM people ORDER BY crm_id"))
        ]
    assert all(secret not in row for row in stored), stored
    assert _people(engine)[0][2] == {"k": "***"}
    assert _people(engine)[1][2] == {"again": {"deep": "x ***"}, "n": 2}


def test_a_naive_time_is_refused(engine: Engine) -> None:
    row = _person("1", "a@x.test") | {"modified_at": datetime(2026, 12, 6, 7, 0)}
    with Session(engine) as session, pytest.raises(Exception, match="naive datetime"):
        upsert(session, PersonRecord, [row])


def test_a_batch_larger_than_one_statement_is_written_whole(engine: Engine) -> None:
    rows = [_person(f"{i:06d}", f"p{i}@x.test", i=i) for i in range(BATCH_ROWS + 7)]
    with Session(engine) as session:
        upsert(session, PersonRecord, rows)
        session.commit()
    people = _people(engine)
    assert len(people) == BATCH_ROWS + 7
    assert people[-1][:3] == (
        f"{BATCH_ROWS + 6:06d}",
        f"p{BATCH_ROWS + 6}@x.test",
        {"i": BATCH_ROWS + 6},
    )


def test_our_writes_mirrored_into_the_store_as_the_crm_echoes_them(engine: Engine) -> None:
    """remember_echoes: the stored records take our values and the CRM's new modified time (on
    PostgreSQL one UPDATE over arrays), a record not held is left alone, a state that had seen
    the version we overwrote takes the new time, and a secret in a value is redacted."""
    register_secret("pat-na1-0123456789abcdef")
    later = T0 + timedelta(minutes=3)
    with Session(engine) as session:
        upsert(session, PersonRecord, [_person("1", "a@x.test", score=1), _person("2", None)])
        upsert(
            session,
            PersonState,
            [{"person_key": "a@x.test", "reasons": [], "source_modified_at": T0}],
        )
        session.commit()
        remember_echoes(
            session,
            {
                ("hubspot", "1"): Echo(later, {"owner": "pat-na1-0123456789abcdef", "score": 2}),
                ("hubspot", "404"): Echo(later, {"score": 9}),  # not held: nothing to mirror
            },
        )
        session.commit()
        state = session.exec(select(PersonState)).one()
    assert _people(engine) == [
        ("1", "a@x.test", {"score": 2, "owner": "***"}, later, None, "active", None),
        ("2", None, {}, T0, None, "active", None),
    ]
    assert state.source_modified_at == later


def test_a_versioned_upsert_never_takes_a_record_back_to_an_older_version(engine: Engine) -> None:
    """A pull that read a record before Handoff's own write landed, and stores it after the
    write's echo, leaves the echo; the same version with other fields, and a newer one, land."""
    echo = {**_person("1", "ana@example.com", owner_id="rep-7"), "modified_at": T0}
    before = {**_person("1", "ana@example.com", owner_id=None), "modified_at": T0 - timedelta(1)}
    edited = {**_person("1", "ana@example.com", owner_id="rep-7", phone="555"), "modified_at": T0}
    later = {**_person("1", "ana@example.com", owner_id="rep-9"), "modified_at": T0 + timedelta(1)}
    fresh = _person("2", "bo@example.com")  # a record the store never held: inserted
    with Session(engine) as session:
        upsert(session, PersonRecord, [echo])
        upsert(session, PersonRecord, [before, fresh], versioned_by="modified_at")
        session.commit()
    [ana, bo] = _people(engine)
    assert (ana[2], ana[3]) == ({"owner_id": "rep-7"}, T0) and bo[0] == "2"
    for row in (edited, later):
        with Session(engine) as session:
            upsert(session, PersonRecord, [row], versioned_by="modified_at")
            session.commit()
        assert _people(engine)[0][2] == row["fields"]
