"""The fast path's SLA step: the demo request's clock opens and the owner's task is created by the
fast path itself (the worker's SLA check runs once an hour here, its sync too), through the same
ladder code a scheduled run uses; read back through hubspot-api-client. The next scheduled sync
then finds nothing to change for that person: no outbox item for their record, one task still.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from crm_clients import CrmPerson
from sqlmodel import Session, col, select
from test_speed_to_lead import SECRET, _demo_form, _routed, _running, _submit

from routing.sla.tables import SlaClock, SlaRungFired
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, RunRecord

pytestmark = pytest.mark.slow


def test_the_fast_path_opens_the_clock_and_tasks_the_owner_and_the_next_sync_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    email = "morgan.ellis@northwind-analytics.com"
    with _running(tmp_path, store_url, contacts=60, sla_every="1h") as live:
        sandbox, worker, _, client, _ = live
        worker.wait_for("(applied)")
        _submit(sandbox, _demo_form(client.api), email)
        person = _routed(client, email, worker)  # the SLA check is an hour away: the fast path
        worker.wait_for("speed.sla_step")
        worker.stop()
        assert person.stage == "marketingqualifiedlead"
        assert [owner for owner, _ in person.tasks] == [person.owner], person.tasks
        before = _fast_path_facts(store_url, email, person)

        # the next scheduled sync (the worker stopped: a `handoff sync` on the same store)
        sync = subprocess.run(
            [sys.executable, "-m", "config.cli", "sync", "-c", str(tmp_path / "handoff.yaml")],
            cwd=tmp_path, env=worker.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert sync.returncode == 0, sync.stdout[-3000:] + sync.stderr[-3000:]
        engine = make_engine(store_url)
        try:
            with Session(engine) as session:
                runs = [r for r in session.exec(select(RunRecord)) if r.id not in before]
                assert len(runs) == 1 and runs[0].finished_at is not None
                items = session.exec(
                    select(OutboxItem).where(
                        col(OutboxItem.run_id) == runs[0].id,
                        col(OutboxItem.record_id) == person.record_id,
                    )
                ).all()
                assert items == [], [(i.kind, i.field, i.value, i.reason) for i in items]
        finally:
            engine.dispose()
        again = client.person("contact", person.record_id)
        assert again.tasks == person.tasks and again.owner == person.owner


def _fast_path_facts(store_url: str, email: str, person: CrmPerson) -> set[str]:
    """The clock, its fired rung and the one task item, all the fast path's; the run ids."""
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            clocks = session.exec(
                select(SlaClock).where(col(SlaClock.lead_key) == f"email:{email}")
            ).all()
            assert len(clocks) == 1 and clocks[0].owner_email == person.owner
            fired = session.exec(
                select(SlaRungFired).where(col(SlaRungFired.clock_id) == clocks[0].id)
            ).all()
            assert len(fired) == 1
            tasks = session.exec(
                select(OutboxItem).where(
                    col(OutboxItem.record_id) == person.record_id, col(OutboxItem.kind) == "task"
                )
            ).all()
            assert len(tasks) == 1 and tasks[0].reason.startswith("SLA "), tasks
            assert "-only-" in tasks[0].run_id  # a fast-path run, not a scheduled one
            return {r.id for r in session.exec(select(RunRecord))}
    finally:
        engine.dispose()
