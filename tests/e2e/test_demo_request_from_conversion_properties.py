"""The HubSpot fast path knows of a demo request from the contact's conversion properties, not the
Forms API; the scheduled sync's Forms API read later brings the same submission, scored once.

`handoff run` against the sandbox (its scheduled sync once an hour, after the first): a demo form
submitted on a page ("Book a demo: Demo request" in `recent_conversion_event_name`, a hidden
`asset_stage`) is routed by the fast path, owner, stage and the owner's task read back through
hubspot-api-client, with no Forms API submissions read meanwhile (a sandbox hook counts them).
The store holds one form submission for the person: the stand-in made from the contact. The next
scheduled sync (`handoff sync` on the same store) reads the Forms API submission: the stand-in
gives way to it (one form submission still, now `form:<conversionId>`), and that run plans nothing
for the person; the CRM shows the same owner, score, reasons and one task.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from demo_requests import hubspot_form, submit_form
from sqlmodel import Session, col, select
from test_speed_to_lead import SECRET, _routed, _running

from connectors.activity_keys import STAND_IN
from sandbox.runtime import Sandbox
from sandbox.server import SandboxRequest
from sync.store.engine import make_engine
from sync.store.tables import ActivityRecord, OutboxItem, RunRecord

pytestmark = pytest.mark.slow
EMAIL = "rowan.blake@northwind-analytics.com"
SUBMISSIONS = "/form-integrations/v1/submissions/forms/"
PAGE = {"pageUri": "https://www.example.com/demo", "pageName": "Book a demo"}


class FormsReads:
    """Counts the Forms API submissions reads the sandbox answers while `counting`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.counting = False
        self.count = 0
        self._lock = threading.Lock()
        sandbox.server("hubspot").before_request.append(self._seen)

    def _seen(self, request: SandboxRequest) -> None:
        if self.counting and request.path.startswith(SUBMISSIONS):
            with self._lock:
                self.count += 1


def _forms_of(store_url: str, contact_id: str) -> list[ActivityRecord]:
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            return list(
                session.exec(
                    select(ActivityRecord).where(
                        col(ActivityRecord.contact_id) == contact_id,
                        col(ActivityRecord.kind) == "form_submission",
                    )
                )
            )
    finally:
        engine.dispose()


def test_the_fast_path_reads_the_demo_request_from_the_contact_and_the_next_sync_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    with _running(tmp_path, store_url, contacts=60, sla_every="1h") as live:
        sandbox, worker, _, client, _ = live
        reads = FormsReads(sandbox)
        worker.wait_for("(applied)")  # the first scheduled sync has read the forms; none since
        form = hubspot_form(client.api)
        reads.counting = True
        submit_form(sandbox.info, form, EMAIL, context=PAGE, asset_stage="bottom")  # hidden field
        person = _routed(client, EMAIL, worker)
        worker.wait_for("speed.sla_step")
        reads.counting = False
        worker.stop()
        assert reads.count == 0, "the fast path read the Forms API's submissions"
        assert person.stage == "marketingqualifiedlead", person
        assert [owner for owner, _ in person.tasks] == [person.owner], person.tasks
        assert "Demo request" in person.reasons, person.reasons
        forms = _forms_of(store_url, person.record_id)
        assert [f.crm_id.startswith(STAND_IN) for f in forms] == [True], forms
        stand_in = forms[0].properties
        assert stand_in["form_name"] == "Demo request" and stand_in["asset_stage"] == "bottom"

        run_id = _next_sync(tmp_path, worker.env, store_url)
        forms = _forms_of(store_url, person.record_id)  # the Forms API's submission, once
        assert [f.crm_id.startswith("form:") for f in forms] == [True], forms
        assert forms[0].properties["form_name"] == "Demo request"
        assert _planned_for(store_url, run_id, person.record_id) == []
        again = client.person("contact", person.record_id)
        assert (again.owner, again.score, again.reasons, again.tasks) == (
            person.owner,
            person.score,
            person.reasons,
            person.tasks,
        )


def _next_sync(tmp_path: Path, env: dict[str, str], store_url: str) -> str:
    """`handoff sync` on the worker's store (the next scheduled run, the worker stopped)."""
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            before = {r.id for r in session.exec(select(RunRecord))}
        sync = subprocess.run(
            [sys.executable, "-m", "config.cli", "sync", "-c", str(tmp_path / "handoff.yaml")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert sync.returncode == 0, sync.stdout[-3000:] + sync.stderr[-3000:]
        with Session(engine) as session:
            runs = [r for r in session.exec(select(RunRecord)) if r.id not in before]
        assert len(runs) == 1 and runs[0].finished_at is not None
        return runs[0].id
    finally:
        engine.dispose()


def _planned_for(store_url: str, run_id: str, record_id: str) -> list[tuple[str, str, str]]:
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            items = session.exec(
                select(OutboxItem).where(
                    col(OutboxItem.run_id) == run_id, col(OutboxItem.record_id) == record_id
                )
            ).all()
            return [(i.kind, str(i.field), str(i.value)) for i in items]
    finally:
        engine.dispose()
