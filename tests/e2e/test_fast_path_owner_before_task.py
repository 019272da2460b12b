"""Owner before task on the HubSpot fast path, beside a bulk run that decided the person first.

`handoff run` against the sandbox; its first full sync decides everyone and writes behind in
whole chunks. A sandbox hook holds the bulk run's chunked writes (contact batch updates of more
than one record) from the first one on, so the owners its routing pass decides stay pending in the
outbox. One of those people (their owner decided by the bulk run, not yet written) then submits
the demo form. The fast path decides them (the bulk run's owner kept) and fires the fast lane's
first rung, the owner's task: the sandbox's own order of answers shows the contact's
`hubspot_owner_id` written before the task associated with it was created (the fast path sends the
person's pending field writes first, whichever run planned them). Once the hold is lifted and the
bulk run ends, hubspot-api-client reads the contact's owner, its stage (MQL) and exactly one task,
in that owner's queue.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from crm_clients import HubSpotClient
from demo_requests import hubspot_form, submit_form
from sqlmodel import Session, col, select
from test_speed_to_lead import DEADLINE, SECRET, Worker, _routed, _running

from sandbox.runtime import Sandbox
from sandbox.server import SandboxRequest, SandboxResponse
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, PersonRecord

pytestmark = pytest.mark.slow
BATCH_UPDATE = "/crm/v3/objects/contacts/batch/update"
TASKS_CREATE = "/crm/v3/objects/tasks/batch/create"


class WriteOrder:
    """What the sandbox answered, in order: owner writes and task creations, by contact; and a
    hold on the bulk run's chunked contact writes while `holding`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.answered: list[tuple[str, str]] = []  # ("owner" | "write" | "task", contact id)
        self.holding = threading.Event()
        self.held = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        server = sandbox.server("hubspot")
        server.before_request.append(self._hold)
        server.after_request.append(self._answered)

    def release(self) -> None:
        self.holding.clear()
        self._released.set()

    def _hold(self, request: SandboxRequest) -> SandboxResponse | None:
        bulk = request.path == BATCH_UPDATE and len(request.json().get("inputs") or []) > 1
        if self.holding.is_set() and bulk:  # a bulk chunk, not one person's
            with self._lock:
                self.held += 1
            self._released.wait(timeout=4 * DEADLINE)
        return None

    def _answered(self, request: SandboxRequest, response: SandboxResponse) -> None:
        if request.method != "POST" or not 200 <= response.status < 300:
            return
        seen: list[tuple[str, str]] = []
        if request.path == BATCH_UPDATE:
            for item in request.json().get("inputs") or []:
                seen.append(("write", str(item.get("id"))))
                if (item.get("properties") or {}).get("hubspot_owner_id"):
                    seen.append(("owner", str(item.get("id"))))
        elif request.path == TASKS_CREATE:
            for item in request.json().get("inputs") or []:
                for link in item.get("associations") or []:
                    seen.append(("task", str((link.get("to") or {}).get("id"))))
        if seen:
            with self._lock:
                self.answered += seen

    def first(self, what: str, contact_id: str) -> int:
        with self._lock:
            return next((i for i, e in enumerate(self.answered) if e == (what, contact_id)), -1)


def _pending_person(store_url: str, worker: Worker) -> tuple[str, str, set[str]]:
    """A contact with no owner yet whose score the bulk run decided and has not written:
    (id, email, the keys of its pending field items)."""
    engine = make_engine(store_url)
    deadline = time.monotonic() + 4 * DEADLINE
    try:
        while True:
            with Session(engine) as session:
                items = session.exec(
                    select(OutboxItem).where(
                        col(OutboxItem.kind) == "field",
                        col(OutboxItem.status) == "pending",
                        col(OutboxItem.run_id).not_like("%-only-%"),
                    )
                ).all()
                for record_id in sorted({i.record_id for i in items}):
                    row = session.get(PersonRecord, (items[0].connection, record_id))
                    if row is not None and row.email and not row.fields.get("owner_id"):
                        return (
                            record_id,
                            row.email,
                            {i.key for i in items if i.record_id == record_id},
                        )
            assert worker.proc.poll() is None, worker.output()[-3000:]
            assert time.monotonic() < deadline, f"nobody pending:\n{worker.output()[-3000:]}"
            time.sleep(0.2)
    finally:
        engine.dispose()


def _statuses(store_url: str, keys: set[str]) -> set[str]:
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(OutboxItem).where(col(OutboxItem.key).in_(sorted(keys))))
            return {row.status for row in rows}
    finally:
        engine.dispose()


@contextmanager
def _held_bulk(tmp_path: Path, store_url: str) -> Iterator[tuple[Any, ...]]:
    with _running(tmp_path, store_url, contacts=1500, sla_every="1h") as live:
        order = WriteOrder(live[0])
        order.holding.set()
        try:
            yield (*live, order)
        finally:
            order.release()


def test_the_fast_path_writes_the_owner_the_bulk_run_decided_before_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    store_url = f"sqlite:///{tmp_path / 'state.db'}"
    with _held_bulk(tmp_path, store_url) as (sandbox, worker, _, client, _, order):
        worker_waits = time.monotonic() + 4 * DEADLINE
        while order.held < 1:  # the bulk run's writer waits on its first chunk from now on
            assert time.monotonic() < worker_waits, worker.output()[-3000:]
            time.sleep(0.1)
        contact_id, email, pending = _pending_person(store_url, worker)
        assert order.first("write", contact_id) < 0  # nothing of theirs written yet
        page = {"pageUri": "https://www.example.com/demo", "pageName": "Book a demo"}
        submit_form(sandbox.info, hubspot_form(client.api), email, context=page)
        person = _routed(client, email, worker)  # owner and task, the bulk run's writes held
        owner_at, task_at = order.first("owner", contact_id), order.first("task", contact_id)
        assert 0 <= order.first("write", contact_id) <= owner_at < task_at, order.answered
        # the bulk run's writes for them went with the fast path's, before the task
        # (sent, or superseded by the fast path's own value for the field)
        assert not _statuses(store_url, pending) & {"pending", "sending"}
        assert "(applied)" not in worker.output()  # the bulk run has not ended meanwhile
        order.release()
        worker.wait_for("(applied)")
        after = HubSpotClient(sandbox, client.config).person("contact", contact_id)
    assert person.record_id == contact_id
    assert after.owner == person.owner and after.stage == "marketingqualifiedlead", after
    assert [owner for owner, _ in after.tasks] == [after.owner], after.tasks
    decided = [json.loads(x) for x in worker.lines if '"speed.decided"' in x]
    assert any(e.get("record_id") == contact_id for e in decided)
