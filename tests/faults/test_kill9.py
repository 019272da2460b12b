"""`kill -9` of the worker at each point of a run; the next run ends with every change applied
exactly once in the CRM and no duplicate task."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from fault_stack import Drill, drill
from sla_lapse import every_window_lapsed

from sandbox.server import SandboxRequest, SandboxResponse
from sync.store.engine import make_engine


def _killer(process_box: dict, when: str, path_part: str, nth: int = 1):  # type: ignore[no-untyped-def, type-arg]
    seen = {"n": 0}
    lock = threading.Lock()

    def hook(request: SandboxRequest, response: SandboxResponse | None = None) -> None:
        if path_part not in request.path:
            return
        with lock:
            seen["n"] += 1
            if seen["n"] == nth and "proc" in process_box:
                os.kill(process_box["proc"].pid, signal.SIGKILL)
                process_box["killed"] = True

    return hook


def _expected_state(d: Drill) -> None:
    """Every decided field holds its latest value in the CRM; no task twice; nothing left open."""
    assert d.open_items() == []
    tasks = d.hubspot_tasks()
    assert not tasks or max(tasks.values()) == 1
    hubspot = d.sandbox.hubspot
    assert hubspot is not None
    from sqlmodel import Session, select

    from sync.store.tables import OutboxItem

    with Session(make_engine(d.store_url)) as session:
        items = session.exec(select(OutboxItem).where(OutboxItem.kind == "field")).all()
    latest = {}
    for item in sorted(items, key=lambda i: i.created_at):
        if item.status in ("applied", "unchanged"):
            latest[(item.record_id, item.field)] = item.value
    properties = {"score": "handoff_score", "owner_id": "hubspot_owner_id"}
    checked = 0
    for (record_id, field), value in latest.items():
        if field in properties:
            crm = hubspot.contact(record_id)[properties[field]]
            assert crm is not None and float(crm) == float(value), (record_id, field, crm, value)
            checked += 1
    assert checked > 0


KILL_POINTS = {
    # point: (hook kind, path fragment, nth matching request)
    "during pull": ("before", "/crm/v4/associations", 2),
    "between plan and apply": ("before", "batch/update", 1),
    "mid-batch": ("before", "batch/update", 2),
    "after the CRM accepted a write": ("after", "batch/update", 1),
}


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill9_then_resume(tmp_path: Path, sqlite_url: str, point: str) -> None:
    kind, path_part, nth = KILL_POINTS[point]
    with drill(tmp_path, sqlite_url) as d:
        box: dict = {}  # type: ignore[type-arg]
        hook = _killer(box, kind, path_part, nth)
        server = d.sandbox.server("hubspot")
        (server.before_request if kind == "before" else server.after_request).append(hook)
        proc = d.sync_process()
        box["proc"] = proc
        proc.wait(timeout=180)
        assert box.get("killed"), f"the drill never reached {point}"
        assert proc.returncode == -signal.SIGKILL
        (server.before_request if kind == "before" else server.after_request).remove(hook)
        resumed = d.sync_process()
        output, _ = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, output[-2000:]
        _expected_state(d)


def test_kill9_after_a_task_was_created_never_duplicates_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url) as d:
        first = d.sync_process()
        assert first.wait(timeout=180) == 0
        later = every_window_lapsed(make_engine(d.store_url)).strftime("%Y-%m-%dT%H:%M:%SZ")
        box: dict = {}  # type: ignore[type-arg]
        hook = _killer(box, "after", "/crm/v3/objects/tasks/batch/create", 1)
        server = d.sandbox.server("hubspot")
        server.after_request.append(hook)
        proc = d.sync_process("--as-of", later)
        box["proc"] = proc
        proc.wait(timeout=180)
        assert box.get("killed")
        server.after_request.remove(hook)
        resumed = d.sync_process("--as-of", later)
        output, _ = resumed.communicate(timeout=180)
        assert resumed.returncode == 0, output[-2000:]
        _expected_state(d)
        assert len(d.hubspot_tasks()) >= 2
