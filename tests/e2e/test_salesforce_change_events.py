"""Speed to lead on Salesforce: `handoff run` (a subprocess) subscribed to the sandbox org's
Change Data Capture through the Pub/Sub API (gRPC over TLS).

A Lead created through simple-salesforce with a demo request (a "Request a demo" campaign
response) is decided on the fast path: its owner, status MQL and one task in that owner's queue
are read back through simple-salesforce. The scheduled sync is set to once an hour (its first run
happens at start, before the test's leads exist), so only the change events can have done it.
A restart resumes after the stored replay id: leads created while the worker was down are
decided once it is back (one of them routed by the restarted worker's first sync before the
change event path reads it: the fast path still fires its task at once), each with its owner and
exactly one task, and nobody is decided twice. A replay id older than the bus's retention
falls back to the scheduled sync's cursor, and the worker says so.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from crm_clients import CrmPerson, SalesforceClient
from demo_requests import salesforce_lead
from e2e_stack import SEED_NOW
from sqlmodel import Session, select
from test_speed_to_lead import DEADLINE, ROOT, Worker

from config.loader import load_config
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.demo import sandbox_environment
from sync.speed_config import speed_to_lead_config
from sync.store.engine import make_engine
from sync.store.tables import ChangeInbox

pytestmark = pytest.mark.slow
TOPICS = 3  # Lead, Contact and CampaignMember change events


def _config(tmp: Path) -> Path:
    path = tmp / "handoff.yaml"
    path.write_text(speed_to_lead_config("salesforce"))  # the task is the fast path's
    load_config(path)
    return path


class Org:
    """The sandbox org, its Pub/Sub endpoint and `handoff run` against them."""

    def __init__(self, tmp: Path, sandbox: Sandbox, env: dict[str, str], store_url: str) -> None:
        self.sandbox = sandbox
        self.config = _config(tmp)
        self.tmp = tmp
        self.env = {**os.environ, **env, "HANDOFF_STATE_URL": store_url, "PYTHONPATH": str(ROOT)}
        self.client = SalesforceClient(sandbox, load_config(self.config))
        self.workers: list[Worker] = []
        assert sandbox.pubsub is not None
        self.pubsub = sandbox.pubsub.service
        found = self.client.api.query("SELECT Id FROM Campaign WHERE Name = 'Request a demo'")
        self.campaign = (
            found["records"][0]["Id"]
            if found["records"]
            else self.client.api.Campaign.create({"Name": "Request a demo"})["id"]
        )

    def start(self) -> Worker:
        before = self.pubsub.subscribes
        worker = Worker(self.config, self.env, self.tmp / "heartbeat")
        self.workers.append(worker)
        worker.wait_for("handoff worker running")
        deadline = time.monotonic() + DEADLINE
        while self.pubsub.subscribes < before + TOPICS:  # subscribed: nothing after is missed
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.05)
        return worker

    def demo_request(self, email: str) -> str:
        """A Lead and its "Request a demo" campaign response, as a form handler makes them."""
        api = self.client.api
        lead = salesforce_lead(api, email, LastName=email.split("@")[0].title())
        api.CampaignMember.create(
            {"CampaignId": self.campaign, "LeadId": lead, "Status": "Responded"}
        )
        return lead

    def routed(self, lead_id: str, worker: Worker, *, task: bool = True) -> CrmPerson:
        """Poll through simple-salesforce until the Lead is MQL with a task (or, `task=False`,
        an owner: the scheduled sync's SLA check, hourly here, would add the task)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            person = self.client.person("lead", lead_id)
            if person.stage == "MQL" and (person.tasks if task else person.owner):
                return person
            assert time.monotonic() < deadline, f"{lead_id} not routed:\n{worker.output()[-4000:]}"
            time.sleep(0.25)


@contextmanager
def _org(tmp_path: Path, store_url: str) -> Iterator[Org]:
    portal = generate_portal(3, 60, SEED_NOW)
    sandbox = Sandbox(portal, hubspot=False, salesforce=True, ca_directory=tmp_path / "ca")
    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        org = Org(tmp_path, sandbox, env, store_url)
        try:
            yield org
        finally:
            for worker in org.workers:
                worker.stop()


def _inbox_empty(store_url: str, worker: Worker) -> None:
    engine = make_engine(store_url)
    deadline = time.monotonic() + DEADLINE
    try:
        while True:
            with Session(engine) as session:
                if session.exec(select(ChangeInbox)).first() is None:
                    return
            assert time.monotonic() < deadline, worker.output()[-3000:]
            time.sleep(0.1)
    finally:
        engine.dispose()


def _held_until(released: threading.Event, request: SandboxRequest, lead_id: str) -> None:
    """Hold the worker's own read of this Lead (the fast path's: by id, every field) until
    `released`."""
    query = request.param("q") or ""
    if query.startswith("SELECT Id, SystemModstamp") and f"Id IN ('{lead_id}')" in query:
        released.wait(DEADLINE)


def _decided(worker: Worker) -> Counter[str]:
    """Lead id -> how many times this worker's change event path decided it."""
    seen: Counter[str] = Counter()
    for line in worker.lines:
        if '"cdc.decided"' in line:
            seen[str(json.loads(line)["record_id"])] += 1
    return seen


def test_a_demo_request_is_routed_from_change_events_and_a_restart_loses_nothing(
    tmp_path: Path, store_url: str
) -> None:
    with _org(tmp_path, store_url) as org:
        worker = org.start()
        worker.wait_for("(applied)")  # the first scheduled sync, before the demo requests
        first = org.demo_request("avery.first@northwind-analytics.com")
        person = org.routed(first, worker)
        assert person.owner, person
        assert [owner for owner, _ in person.tasks] == [person.owner], person.tasks
        assert "cdc.received" in worker.output()
        _inbox_empty(store_url, worker)  # decided and out of the inbox: a restart now re-reads
        worker.stop()

        # while the worker is down: two more demo requests, then the worker comes back
        down = [
            org.demo_request("blake.second@northwind-analytics.com"),
            org.demo_request("casey.third@northwind-analytics.com"),
        ]
        # the change event path's reads of the first are held until the restarted worker's
        # first sync is applied: that sync routes it, and the fast path finds it routed
        synced = threading.Event()
        org.sandbox.server("salesforce").before_request.append(
            lambda request: _held_until(synced, request, down[0])
        )
        again = org.start()
        again.wait_for("(applied)")
        synced.set()
        for lead_id in down:
            # routed by the change event path or by the restarted worker's first sync beside
            # it: either way the fast path fires the owner's task (the SLA check is hourly)
            later = org.routed(lead_id, again)
            assert later.owner, later
            assert [owner for owner, _ in later.tasks] == [later.owner], later.tasks
        # replayed, decided: each of them (the owner's write makes a change event of its own,
        # so counting decisions could see one lead twice before the other once)
        deadline = time.monotonic() + DEADLINE
        while not all(_decided(again)[lead_id] >= 1 for lead_id in down):
            assert time.monotonic() < deadline, f"{_decided(again)}\n{again.output()[-3000:]}"
            time.sleep(0.1)
        assert "after the stored replay id" in again.output()
        assert _decided(again)[first] == 0  # not read twice: it was before the stored replay id
        assert len(org.client.person("lead", first).tasks) == 1


def test_an_expired_replay_id_falls_back_to_the_scheduled_sync_and_says_so(
    tmp_path: Path, store_url: str
) -> None:
    with _org(tmp_path, store_url) as org:
        worker = org.start()
        worker.wait_for("(applied)")
        lead = org.demo_request("drew.fourth@northwind-analytics.com")
        org.routed(lead, worker)
        worker.stop()
        missed = org.demo_request("emery.fifth@northwind-analytics.com")
        assert org.sandbox.salesforce is not None
        org.sandbox.salesforce.change_events.expire_all()  # 72 hours later: the replay id is void
        again = org.start()
        again.wait_for("cdc.replay_expired")
        output = again.output()
        assert "scheduled sync" in output and "subscribing from the latest event" in output
        # the scheduled sync's first run reads it from its cursor
        assert org.routed(missed, again, task=False).owner
        fresh = org.demo_request("finley.sixth@northwind-analytics.com")
        assert org.routed(fresh, again).owner  # and the new subscription goes on
