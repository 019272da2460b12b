"""The writer settles a chunk's outcomes on a thread of its own while it sends the next chunk
(sync/apply.py): the CRM ends as a run written in one chunk leaves it, every field write is
settled once, and nothing is left `pending` or `sending` when the run's write returns. A sync
through the real HubSpot client against the sandbox, on both stores, read back with
hubspot-api-client against a control run written in one chunk (a store of its own)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from sync.apply import CrmApplier
from sync.store.tables import OutboxItem
from tests.faults.crm_snapshot import read_hubspot
from tests.faults.fault_stack import SEED_NOW, drill


def _run(
    tmp_path: Path, store_url: str, chunk: int | None
) -> tuple[dict[str, Any], Counter[Any], list[OutboxItem], int]:
    with drill(tmp_path, store_url, contacts=150) as d:
        pipeline = d.pipeline()
        if chunk is not None:
            pipeline.connectors["hubspot"].write_chunk_records = chunk  # type: ignore[attr-defined]
        result = pipeline.run(as_of=SEED_NOW)
        assert not result.errors, result.errors
        written = len(result.writes.items)
        crm: dict[str, dict[str, Any]] = {}
        tasks: Counter[Any] = Counter()
        read_hubspot(d.sandbox, crm, tasks)
        with Session(pipeline.engine) as session:
            items = list(session.exec(select(OutboxItem)).all())
    return crm, tasks, items, written


def test_chunks_settled_behind_leave_the_crm_as_one_chunk_does(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settled_on: Counter[str] = Counter()
    settle = CrmApplier._settle

    def _seen(self: CrmApplier, *args: Any, **kwargs: Any) -> None:
        settled_on[threading.current_thread().name.rsplit("_", 1)[0]] += 1
        settle(self, *args, **kwargs)

    monkeypatch.setattr(CrmApplier, "_settle", _seen)
    control = _run(tmp_path / "control", f"sqlite:///{tmp_path}/control.db", 100_000)
    chunked = _run(tmp_path / "chunked", store_url, 7)  # SQLite and PostgreSQL

    assert settled_on["write-settle"] >= 20, settled_on  # 150 contacts, 7 a chunk
    crm, tasks, items, written = chunked
    assert crm == control[0]  # stage, owner, score and reasons of every contact
    assert tasks == control[1]
    assert written == control[3]
    fields = [i for i in items if i.kind == "field"]
    assert len(fields) > 300
    assert not [i for i in fields if i.status in ("pending", "sending")]
    assert all(i.attempts == 1 for i in fields if i.status == "applied")
