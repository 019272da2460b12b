"""The writer reads the due outbox keys a page at a time (sync/due_items.py `record_chunks`): the
chunks are the same as one read of them all gives (whole records, `size` records a chunk, a
partial last chunk held back until the final write), and items not due never come back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sync import due_items
from sync.due_items import record_chunks
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem

NOW = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def _outbox(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        for record in range(13):
            for field in range(1 + record % 5):  # one to five fields a record
                status = "applied" if (record, field) == (4, 0) else "pending"
                session.add(
                    OutboxItem(
                        key=f"k-{record:02d}-{field}",
                        run_id="run" if record != 7 else "earlier",
                        connection="hubspot",
                        object_type="contact",
                        record_id=f"{record:02d}",
                        kind="field",
                        field=f"f{field}",
                        value=field,
                        status=status,
                        created_at=NOW,
                    )
                )
        session.add(  # another connection's item: not this writer's
            OutboxItem(
                key="k-sf",
                run_id="run",
                connection="salesforce",
                object_type="Lead",
                record_id="x",
                kind="field",
                created_at=NOW,
            )
        )
        session.commit()
    return engine


def _chunks(engine: Engine, final: bool) -> list[list[str]]:
    return list(record_chunks(engine, NOW, "hubspot", "run", final, size=3))


def test_due_keys_read_a_page_at_a_time_make_the_same_chunks(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _outbox(store_url)
    whole = {final: _chunks(engine, final) for final in (True, False)}
    monkeypatch.setattr(due_items, "KEYS_PAGE", 4)  # pages end inside records
    for final in (True, False):
        assert _chunks(engine, final) == whole[final]
    final_keys = [key for chunk in whole[True] for key in chunk]
    assert "k-04-0" not in final_keys and "k-sf" not in final_keys  # applied; other connection
    assert len(final_keys) == len(set(final_keys)) == 36 - 1  # every due item once
    for chunk in whole[True]:
        records = {key[2:4] for key in chunk}
        assert len(records) <= 3
        for record in records:  # a record's due items all in one chunk
            assert sum(key.startswith(f"k-{record}") for key in final_keys) == sum(
                key.startswith(f"k-{record}") for key in chunk
            )
    # not final: only this run's pending items, and the partial last chunk waits
    partial = [key for chunk in whole[False] for key in chunk]
    assert not any(key.startswith("k-07") for key in partial)
    assert all(len({key[2:4] for key in chunk}) == 3 for chunk in whole[False])
    assert set(partial) < set(final_keys)
    engine.dispose()
