"""The fast path decides beside a running bulk sync, on both CRMs, through `handoff run` (a
subprocess) and the real clients against the sandbox.

A demo request arriving while the worker's first full sync is mid-run gets its owner and exactly
one task before that run ends (ordered by the worker's own events: the fast path's decision and
SLA step are logged before the bulk run's `run.done`); the person's final CRM state (owner, stage,
score, reasons, tasks) equals that of an uninterrupted control run, where the same request was
made before the worker started and the full sync decided it; and a second scheduled sync plans
nothing for that person. A contact the bulk run already holds, changed mid-run, is decided at once
too (not held back until the run ends), once.

The demo requests come from Canada: one rep covers it, so the owner does not depend on where the
round robin stood (a control run decides everyone in key order, the fast path in between).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from crm_clients import CrmPerson, HubSpotClient, SalesforceClient
from e2e_stack import SEED_NOW
from hubspot.crm.contacts import SimplePublicObjectInput
from sqlmodel import Session, col, select
from test_speed_to_lead import DEADLINE, ROOT, SECRET, Worker, _free_port

from config.loader import load_config
from routing.tables import Assignment
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.demo import sandbox_environment
from sync.speed_config import speed_to_lead_config
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, RunRecord

pytestmark = pytest.mark.slow
CONTACTS = 3000
SLOW_PAGES = 0.4  # seconds each bulk page answers late: the full sync is still running meanwhile
CANADA = "canada: always,"  # the test's config: Canada's calendar open now (the task at once)
EMAIL = "avery.quinn@northwind-analytics.com"
KEY = f"email:{EMAIL}"
DEMO = {
    "firstname": "Avery",
    "lastname": "Quinn",
    "jobtitle": "VP of Sales",
    "company": "Northwind Analytics",
    "numemployees": "450",
    "country": "CA",
    "state": "ON",
    "asset_stage": "bottom",
}


@dataclass
class BulkHold:
    """Once engaged (the bulk run is under way), the bulk run's next contact pages wait until
    released: however slow the machine, the bulk run cannot end before the test has seen what
    the fast path did beside it."""

    engaged: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def page(self) -> None:
        if self.engaged.is_set():
            assert self.released.wait(4 * DEADLINE), "the test never released the bulk run"


@dataclass
class Stack:
    sandbox: Sandbox
    config: Path
    env: dict[str, str]
    store_url: str
    tmp: Path

    def worker(self) -> Worker:
        worker = Worker(self.config, self.env, self.tmp / "heartbeat")
        worker.wait_for("handoff worker running")
        return worker

    def second_sync(self) -> str:
        """`handoff sync` (the next scheduled run, worker stopped): its run id."""
        done = subprocess.run(
            [sys.executable, "-m", "config.cli", "sync", "-c", str(self.config)],
            cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        with Session(engine := make_engine(self.store_url)) as session:
            runs = session.exec(select(RunRecord).order_by(col(RunRecord.started_at))).all()
        engine.dispose()
        return [r.id for r in runs if "-only-" not in r.id][-1]

    def planned(self, run_id: str, record_id: str) -> list[OutboxItem]:
        with Session(engine := make_engine(self.store_url)) as session:
            rows = session.exec(
                select(OutboxItem).where(
                    col(OutboxItem.run_id) == run_id, col(OutboxItem.record_id) == record_id
                )
            ).all()
        engine.dispose()
        return list(rows)


@contextmanager
def _stack(
    tmp: Path,
    crm: str,
    *,
    slow: float,
    sla_every: str,
    webhooks: bool = True,
    hold: BulkHold | None = None,
) -> Iterator[Stack]:
    tmp.mkdir(parents=True, exist_ok=True)
    portal = generate_portal(3, CONTACTS, SEED_NOW)
    sandbox = Sandbox(
        portal, hubspot=crm == "hubspot", salesforce=crm == "salesforce", ca_directory=tmp / "ca"
    )
    if slow:
        pages = "/crm/v3/objects/contacts" if crm == "hubspot" else "/query"

        def late(request: SandboxRequest) -> None:
            if request.method == "GET" and request.path.rstrip("/").endswith(pages):
                time.sleep(slow)
                if hold is not None:
                    hold.page()

        sandbox.server(crm).before_request.append(late)
    store_url = f"sqlite:///{tmp / 'state.db'}"
    port = _free_port()
    with sandbox, sandbox_environment(sandbox.info, tmp) as env:
        text = speed_to_lead_config(
            crm, sla_every=sla_every, listen_port=port if crm == "hubspot" else None
        )
        config = tmp / "handoff.yaml"
        text = text.replace("canada: us-east,", CANADA, 1)
        if hold is not None:  # a held page is not a timeout
            text = text.replace(
                "tier: professional", "tier: professional\n      timeout_seconds: 600", 1
            )
        config.write_text(text)
        load_config(config)
        run_env = {
            **os.environ,
            **env,
            "HANDOFF_STATE_URL": store_url,
            "HUBSPOT_CLIENT_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        if crm == "hubspot" and webhooks:
            assert sandbox.hubspot is not None
            sandbox.hubspot.enable_webhooks(
                f"http://127.0.0.1:{port}/webhooks/hubspot/hubspot", SECRET, retry_base_seconds=0.2
            )
        yield Stack(sandbox, config, run_env, store_url, tmp)


def _events(worker: Worker) -> list[dict[str, object]]:
    out = []
    for line in worker.lines:
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def _index(events: list[dict[str, object]], match: Callable[[dict[str, object]], bool]) -> int:
    return next((i for i, e in enumerate(events) if match(e)), -1)


def _bulk_done(events: list[dict[str, object]]) -> int:
    """Where the bulk run (the worker's first full sync) logged its end."""
    return _index(
        events, lambda e: e.get("event") == "run.done" and e.get("job") == "sync"
    )  # the fast path's own runs log theirs without the scheduled job's context


def _wait(what: Callable[[], bool], worker: Worker, why: str) -> None:
    deadline = time.monotonic() + 3 * DEADLINE
    while not what():
        assert worker.proc.poll() is None, worker.output()[-3000:]
        assert time.monotonic() < deadline, f"{why}:\n{worker.output()[-3000:]}"
        time.sleep(0.1)


def _mid_run(stack: Stack, worker: Worker) -> None:
    """Once the bulk run has decided someone (its pull handed them on), and before it ends."""
    engine = make_engine(stack.store_url)

    def decided_someone() -> bool:
        with engine.connect() as connection:
            return (
                connection.exec_driver_sql("SELECT 1 FROM person_state LIMIT 1").first() is not None
            )

    try:
        _wait(decided_someone, worker, "the bulk run decided nobody")
    finally:
        engine.dispose()
    assert _bulk_done(_events(worker)) < 0, "the bulk run ended before the test could begin"


# -- HubSpot -------------------------------------------------------------------------------------


def _hubspot_demo(stack: Stack) -> None:
    info = stack.sandbox.info
    client = HubSpotClient(stack.sandbox, load_config(stack.config))
    forms = client.api.marketing.forms.forms_api.get_page(limit=100).results
    form = next(f.id for f in forms if f.name == "Demo request")
    answer = requests.post(
        f"{info.hubspot_base_url}/submissions/v3/integration/submit/{info.hubspot_portal_id}/{form}",
        json={
            "fields": [
                {"objectTypeId": "0-1", "name": k, "value": v}
                for k, v in {"email": EMAIL, **DEMO}.items()
            ],
            "context": {"pageUri": "https://www.example.com/demo", "pageName": "Book a demo"},
        },
        verify=str(info.ca_file),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def _hubspot_person(stack: Stack, worker: Worker) -> CrmPerson:
    client = HubSpotClient(stack.sandbox, load_config(stack.config))
    found: list[CrmPerson] = []

    def routed() -> bool:
        try:
            contact = client.api.crm.contacts.basic_api.get_by_id(EMAIL, id_property="email")
        except Exception as exc:
            if "404" in str(exc) or "Not Found" in str(exc):
                return False
            raise
        person = client.person("contact", contact.id)
        found[:] = [person]
        return bool(person.owner and person.tasks)

    _wait(routed, worker, f"{EMAIL} not routed")
    return found[0]


def _tasks(person: CrmPerson) -> list[tuple[str | None, str]]:
    """The tasks, less the wall-clock minute their subject gives as the due time."""
    return [(owner, subject.split(", due by ")[0]) for owner, subject in person.tasks]


def _same_state(person: CrmPerson, control: CrmPerson) -> None:
    for name in ("owner", "stage", "score", "reasons"):
        assert getattr(person, name) == getattr(control, name), (name, person, control)
    assert _tasks(person) == _tasks(control), (person, control)
    assert len(person.tasks) == 1 and person.tasks[0][0] == person.owner, person.tasks


def test_hubspot_demo_request_during_a_bulk_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    with _stack(tmp_path / "control", "hubspot", slow=0.0, sla_every="3s", webhooks=False) as stack:
        _hubspot_demo(stack)  # before the worker starts: its full sync decides it
        worker = stack.worker()
        try:
            worker.wait_for("(applied)")
            control = _hubspot_person(stack, worker)
        finally:
            worker.stop()

    hold = BulkHold()
    beside = _stack(tmp_path / "beside", "hubspot", slow=SLOW_PAGES, sla_every="1h", hold=hold)
    with beside as stack:
        worker = stack.worker()
        try:
            _mid_run(stack, worker)
            hold.engaged.set()
            client = HubSpotClient(stack.sandbox, load_config(stack.config))
            held = _held_contact(stack)
            client.api.crm.contacts.basic_api.update(
                held, SimplePublicObjectInput(properties={"jobtitle": "Chief Revenue Officer"})
            )
            _hubspot_demo(stack)
            person = _hubspot_person(stack, worker)
            _wait(lambda: '"speed.decided"' in worker.output() and _decided(worker, held) > 0,
                  worker, "the held contact was not decided")  # fmt: skip
            hold.released.set()  # the bulk run's pages go on: it ends after what the test saw
            _wait(lambda: "(applied)" in worker.output(), worker, "the bulk run did not end")
        finally:
            hold.released.set()
            worker.stop()
            (stack.tmp / "worker.log").write_text(worker.output())
        events = _events(worker)
        done = _bulk_done(events)
        ours = _index(events, lambda e: e.get("event") == "speed.decided" and e.get("record_id") == person.record_id)  # fmt: skip
        task = _index(events, lambda e: e.get("event") == "speed.sla_step" and _ours(e) and e.get("written"))  # fmt: skip
        assert 0 <= ours < done and 0 <= task < done, (ours, task, done)  # before the run ended
        held_at = _index(events, lambda e: e.get("event") == "speed.decided" and e.get("record_id") == held)  # fmt: skip
        assert 0 <= held_at < done  # not held back until the bulk run's end
        assert _assignments(stack.store_url) == 1  # routed once, by the fast path
        _same_state(person, control)
        after = HubSpotClient(stack.sandbox, load_config(stack.config)).person(
            "contact", person.record_id
        )
        assert after == person  # the bulk run's end undid nothing

        run_id = stack.second_sync()
        assert stack.planned(run_id, person.record_id) == []
        again = HubSpotClient(stack.sandbox, load_config(stack.config)).person(
            "contact", person.record_id
        )
        assert again == person


def _held_contact(stack: Stack) -> str:
    engine = make_engine(stack.store_url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT p.crm_id FROM people p JOIN person_state s "
                "ON s.person_key = p.person_key LIMIT 1"
            ).first()
    finally:
        engine.dispose()
    assert row is not None
    return str(row[0])


def _ours(event: dict[str, object]) -> bool:
    """The demo request's person, as the log shows them (emails are masked there)."""
    return str(event.get("person", "")).endswith("@" + EMAIL.split("@")[1])


def _assignments(store_url: str) -> int:
    """The demo request's routing decisions in the store."""
    with Session(engine := make_engine(store_url)) as session:
        rows = session.exec(select(Assignment).where(col(Assignment.lead_key) == KEY)).all()
    engine.dispose()
    return len(rows)


def _decided(worker: Worker, record_id: str) -> int:
    return sum(
        1
        for e in _events(worker)
        if e.get("event") in ("speed.decided", "cdc.decided") and e.get("record_id") == record_id
    )


# -- Salesforce ----------------------------------------------------------------------------------


def _salesforce_demo(stack: Stack) -> str:
    api = SalesforceClient(stack.sandbox, load_config(stack.config)).api
    found = api.query("SELECT Id FROM Campaign WHERE Name = 'Request a demo'")
    campaign = (
        found["records"][0]["Id"]
        if found["records"]
        else api.Campaign.create({"Name": "Request a demo"})["id"]
    )
    lead = api.Lead.create(
        {
            "FirstName": DEMO["firstname"],
            "LastName": DEMO["lastname"],
            "Email": EMAIL,
            "Company": DEMO["company"],
            "Title": DEMO["jobtitle"],
            "NumberOfEmployees": int(DEMO["numemployees"]),
            "Country": DEMO["country"],
            "State": DEMO["state"],
        }
    )
    api.CampaignMember.create({"CampaignId": campaign, "LeadId": lead["id"], "Status": "Responded"})
    return str(lead["id"])


def _salesforce_person(stack: Stack, worker: Worker, lead_id: str) -> CrmPerson:
    client = SalesforceClient(stack.sandbox, load_config(stack.config))
    found: list[CrmPerson] = []

    def routed() -> bool:
        first = client.person("lead", lead_id)  # a Lead always has an owner: wait for the task
        if not (first.owner and first.tasks):
            return False
        # read again: the Lead and its tasks are two queries, and the owner's write precedes the
        # task's, so a Lead read before the task read may predate both
        found[:] = [client.person("lead", lead_id)]
        return True

    _wait(routed, worker, f"{lead_id} not routed")
    return found[0]


def _subscribed(stack: Stack, worker: Worker) -> None:
    assert stack.sandbox.pubsub is not None
    service = stack.sandbox.pubsub.service
    _wait(lambda: service.subscribes >= 3, worker, "not subscribed")


def test_salesforce_demo_request_during_a_bulk_sync(tmp_path: Path) -> None:
    with _stack(tmp_path / "control", "salesforce", slow=0.0, sla_every="3s") as stack:
        lead = _salesforce_demo(stack)
        worker = stack.worker()
        try:
            worker.wait_for("(applied)")
            control = _salesforce_person(stack, worker, lead)
        finally:
            worker.stop()

    with _stack(tmp_path / "beside", "salesforce", slow=SLOW_PAGES, sla_every="1h") as stack:
        worker = stack.worker()
        try:
            _subscribed(stack, worker)
            _mid_run(stack, worker)
            lead = _salesforce_demo(stack)
            person = _salesforce_person(stack, worker, lead)
            worker.wait_for("(applied)")
        finally:
            worker.stop()
            (stack.tmp / "worker.log").write_text(worker.output())
        events = _events(worker)
        done = _bulk_done(events)
        ours = _index(events, lambda e: e.get("event") == "cdc.decided" and e.get("record_id") == lead)  # fmt: skip
        task = _index(events, lambda e: e.get("event") == "speed.sla_step" and _ours(e) and e.get("written"))  # fmt: skip
        assert 0 <= ours < done and 0 <= task < done, (ours, task, done)
        assert _assignments(stack.store_url) == 1
        _same_state(person, control)
        client = SalesforceClient(stack.sandbox, load_config(stack.config))
        assert client.person("lead", lead) == person

        run_id = stack.second_sync()
        assert stack.planned(run_id, lead) == []
        assert client.person("lead", lead) == person
