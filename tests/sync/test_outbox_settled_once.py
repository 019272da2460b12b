"""The writer updates a field write's outbox row once, when its outcome is known (sync/apply.py):
field writes are idempotent, so no `sending` mark is committed before their call (on PostgreSQL
each UPDATE is a new row version and index entries). Tasks are still marked first: a resent task
looks its key up. A sync through the real HubSpot client against the sandbox, on both stores;
what landed is read back with hubspot-api-client."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from hubspot import HubSpot
from sla_lapse import every_window_lapsed
from sqlalchemy import event
from sqlmodel import Session, select

from sync.store.tables import OutboxItem
from tests.faults.crm_snapshot import read_hubspot
from tests.faults.fault_stack import SEED_NOW, drill


def test_each_field_write_is_settled_in_one_update(tmp_path: Path, store_url: str) -> None:
    updates: list[tuple[str, Any, int]] = []
    with drill(tmp_path, store_url, contacts=150) as d:
        pipeline = d.pipeline()

        @event.listens_for(pipeline.engine, "after_cursor_execute")
        def _seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
                updates.append((statement, params, cursor.rowcount))

        first = pipeline.run(as_of=SEED_NOW)  # scores, stages, owners, SLA clocks
        assert not first.errors, first.errors
        lapsed = every_window_lapsed(pipeline.engine) + timedelta(days=3)
        second = pipeline.run(as_of=lapsed)  # escalations: reminder and manager tasks
        assert not second.errors, second.errors
        crm: dict[str, dict[str, Any]] = {}
        tasks: Counter[Any] = Counter()
        read_hubspot(d.sandbox, crm, tasks)
        scores_in_crm = _hubspot_scores(d.sandbox)
    with Session(pipeline.engine) as session:
        items = session.exec(select(OutboxItem)).all()
    fields = [i for i in items if i.kind == "field" and i.status == "applied"]
    task_items = [i for i in items if i.kind == "task" and i.status == "applied"]
    assert len(fields) > 300 and task_items  # the run wrote fields and created tasks
    assert all(i.attempts == 1 for i in fields + task_items)
    marked = sum(
        rowcount for _, params, rowcount in updates if "sending" in _values(params)
    )  # rows marked `sending` before a call: the tasks only
    assert marked == len(task_items)
    settled = sum(
        rowcount
        for _, params, rowcount in updates
        if {"applied", "unchanged"} & set(_values(params))
    )
    assert settled == len(fields) + len(task_items)
    # what the rows say landed is in the CRM: each person's score and one task per task item
    scores = {i.record_id: i.value for i in fields if i.field == "score"}
    assert len(scores) >= 100
    assert {r: float(scores_in_crm[r]) for r in scores} == {r: float(v) for r, v in scores.items()}
    assert sum(tasks.values()) == len(task_items)


def _hubspot_scores(sandbox: Any) -> dict[str, Any]:
    """Each contact's `handoff_score`, read with hubspot-api-client."""
    info = sandbox.info
    client = HubSpot(
        access_token=info.hubspot_token, host=info.hubspot_base_url, ssl_ca_cert=str(info.ca_file)
    )
    found: dict[str, Any] = {}
    after = None
    while True:
        page = client.crm.contacts.basic_api.get_page(
            limit=100, properties=["handoff_score"], after=after
        )
        found.update({str(c.id): c.properties.get("handoff_score") for c in page.results})
        if page.paging is None or page.paging.next is None:
            return found
        after = page.paging.next.after


def _values(params: Any) -> list[Any]:
    if isinstance(params, dict):  # named parameters; a key list is one array on PostgreSQL
        params = list(params.values())
    if isinstance(params, list | tuple):
        return [
            v for p in params for v in (_values(p) if isinstance(p, list | tuple | dict) else [p])
        ]
    return [params]
