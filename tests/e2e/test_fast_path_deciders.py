"""Several fast-path deciders: demo requests from different people are decided at once, each
ending with one owner and exactly one task, as a control run with one decider (on SQLite) decides them.

Through `handoff run` (a subprocess) and the real clients against the sandbox, on both CRMs and
both stores. Parallel, shown by outcome rather than timing: the sandbox holds the worker's first
read of each person (the fast path's by-id read) until all of them are in flight together, which
one decider can never reach (its first read would wait alone, and the test fails); with
`sync.fast_path_deciders: 3` all three are read, decided and routed. The control run decides the
same requests with one decider, from the same portal: per person the same stage, score, reasons
and task; the owners are the same round-robin slots (the order among the three may differ).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from crm_clients import CrmPerson, HubSpotClient, SalesforceClient
from e2e_stack import SEED_NOW
from test_speed_to_lead import DEADLINE, ROOT, SECRET, Worker, _free_port

from config.loader import load_config
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.demo import sandbox_environment
from sync.speed_config import speed_to_lead_config

pytestmark = pytest.mark.slow
PEOPLE = ("avery", "blake", "casey")
DOMAIN = "northwind-analytics.com"


class AllInFlight:
    """A sandbox hook: once armed, the worker's matching reads wait until `parties` of them are
    in flight together (once); `met` tells whether they were."""

    def __init__(self, parties: int, matches: Callable[[SandboxRequest], bool]) -> None:
        self.barrier = threading.Barrier(parties, timeout=DEADLINE)
        self.matches = matches
        self.armed = False
        self.met = False

    def __call__(self, request: SandboxRequest) -> None:
        if not self.armed or self.met or not self.matches(request):
            return
        try:
            self.barrier.wait()
            self.met = True
        except threading.BrokenBarrierError:
            pass


@dataclass
class Stack:
    crm: str
    sandbox: Sandbox
    config: Path
    env: dict[str, str]
    tmp: Path

    def worker(self) -> Worker:
        worker = Worker(self.config, self.env, self.tmp / "heartbeat")
        worker.wait_for("handoff worker running")
        worker.wait_for("(applied)")  # the first sync, before the demo requests
        if self.crm == "salesforce":
            assert self.sandbox.pubsub is not None
            service = self.sandbox.pubsub.service
            deadline = time.monotonic() + DEADLINE
            while service.subscribes < 3:
                assert time.monotonic() < deadline, worker.output()[-3000:]
                time.sleep(0.05)
        return worker


@contextmanager
def _stack(tmp: Path, crm: str, store_url: str, deciders: int) -> Iterator[Stack]:
    tmp.mkdir(parents=True)
    portal = generate_portal(3, 60, SEED_NOW)
    sandbox = Sandbox(
        portal, hubspot=crm == "hubspot", salesforce=crm == "salesforce", ca_directory=tmp / "ca"
    )
    port = _free_port()
    with sandbox, sandbox_environment(sandbox.info, tmp) as env:
        text = speed_to_lead_config(crm, listen_port=port if crm == "hubspot" else None)
        live = "\nsync:\n  first_run: live\n"
        assert live in text
        text = text.replace(live, f"{live}  fast_path_deciders: {deciders}\n", 1)
        config = tmp / "handoff.yaml"
        config.write_text(text)
        load_config(config)
        run_env = {
            **os.environ,
            **env,
            "HANDOFF_STATE_URL": store_url,
            "HUBSPOT_CLIENT_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        if crm == "hubspot":
            assert sandbox.hubspot is not None
            sandbox.hubspot.enable_webhooks(
                f"http://127.0.0.1:{port}/webhooks/hubspot/hubspot", SECRET, retry_base_seconds=0.2
            )
        yield Stack(crm, sandbox, config, run_env, tmp)


# -- the CRMs --------------------------------------------------------------------------------------


def _hubspot_requests(stack: Stack) -> dict[str, str]:
    """A demo form per person; name -> email."""
    info = stack.sandbox.info
    client = HubSpotClient(stack.sandbox, load_config(stack.config))
    forms = client.api.marketing.forms.forms_api.get_page(limit=100).results
    form = next(f.id for f in forms if f.name == "Demo request")
    made = {}
    for name in PEOPLE:
        email = f"{name}@{DOMAIN}"
        fields = {
            "email": email, "firstname": name.title(), "lastname": "Quinn",
            "jobtitle": "VP of Sales", "company": "Northwind Analytics", "numemployees": "450",
            "country": "US", "state": "NY", "asset_stage": "bottom",
        }  # fmt: skip
        answer = requests.post(
            f"{info.hubspot_base_url}/submissions/v3/integration/submit/"
            f"{info.hubspot_portal_id}/{form}",
            json={
                "fields": [
                    {"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()
                ]
            },
            verify=str(info.ca_file),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        made[name] = email
    return made


def _hubspot_routed(stack: Stack, worker: Worker, made: dict[str, str]) -> dict[str, CrmPerson]:
    client = HubSpotClient(stack.sandbox, load_config(stack.config))
    out: dict[str, CrmPerson] = {}
    deadline = time.monotonic() + 2 * DEADLINE
    while len(out) < len(made):
        for name, email in made.items():
            try:
                found = client.api.crm.contacts.basic_api.get_by_id(email, id_property="email")
            except Exception as exc:
                if "404" in str(exc) or "Not Found" in str(exc):
                    continue
                raise
            person = client.person("contact", found.id)
            if person.owner and person.tasks:
                out[name] = person
        assert time.monotonic() < deadline, worker.output()[-4000:]
        time.sleep(0.25)
    return out


def _hubspot_first_read(request: SandboxRequest) -> bool:
    """The fast path's read of one contact by id (not the form submitters' look-up by email)."""
    return (
        request.method == "POST"
        and request.path.rstrip("/").endswith("/objects/contacts/batch/read")
        and request.headers.get("user-agent", "").startswith("handoff")
        and not (request.json() or {}).get("idProperty")
    )


def _salesforce_requests(stack: Stack) -> dict[str, str]:
    api = SalesforceClient(stack.sandbox, load_config(stack.config)).api
    campaign = api.Campaign.create({"Name": "Request a demo"})["id"]
    made = {}
    for name in PEOPLE:
        lead = api.Lead.create(
            {
                "FirstName": name.title(), "LastName": "Quinn", "Email": f"{name}@{DOMAIN}",
                "Company": "Northwind Analytics", "Title": "VP of Sales",
                "NumberOfEmployees": 450, "Country": "US", "State": "NY",
            }
        )  # fmt: skip
        api.CampaignMember.create(
            {"CampaignId": campaign, "LeadId": lead["id"], "Status": "Responded"}
        )
        made[name] = str(lead["id"])
    return made


def _salesforce_routed(stack: Stack, worker: Worker, made: dict[str, str]) -> dict[str, CrmPerson]:
    client = SalesforceClient(stack.sandbox, load_config(stack.config))
    out: dict[str, CrmPerson] = {}
    deadline = time.monotonic() + 2 * DEADLINE
    while len(out) < len(made):
        for name, lead_id in made.items():
            person = client.person("lead", lead_id)
            if person.owner and person.tasks:
                out[name] = person
        assert time.monotonic() < deadline, worker.output()[-4000:]
        time.sleep(0.25)
    return out


def _salesforce_first_read(request: SandboxRequest) -> bool:
    query = request.param("q") or ""  # the fast path's by-id read (the bulk pull's is by time)
    return query.startswith("SELECT Id, SystemModstamp") and " WHERE Id IN ('" in query


CRMS = {
    "hubspot": (_hubspot_requests, _hubspot_routed, _hubspot_first_read),
    "salesforce": (_salesforce_requests, _salesforce_routed, _salesforce_first_read),
}


def _decide(
    tmp: Path, crm: str, store_url: str, deciders: int
) -> tuple[dict[str, CrmPerson], bool]:
    """The demo requests decided by `deciders` threads: the people as the CRM reads back, and
    whether their first reads were all in flight together."""
    make, routed, first_read = CRMS[crm]
    together = AllInFlight(len(PEOPLE), first_read)
    with _stack(tmp, crm, store_url, deciders) as stack:
        stack.sandbox.server(crm).before_request.append(together)
        worker = stack.worker()
        try:
            together.armed = deciders > 1  # the control run is not held
            people = routed(stack, worker, make(stack))
        finally:
            worker.stop()
    return people, together.met


@pytest.mark.parametrize("crm", sorted(CRMS))
def test_several_deciders_decide_different_people_at_once_as_one_decider_does(
    tmp_path: Path, store_url: str, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    control_store = f"sqlite:///{tmp_path / 'control.db'}"  # the outcome is the store's to keep
    control, _ = _decide(tmp_path / "control", crm, control_store, 1)
    parallel, met = _decide(tmp_path / "parallel", crm, store_url, 3)
    assert met, "the three first reads were never in flight together"
    for name in PEOPLE:
        person, expected = parallel[name], control[name]
        assert len(person.tasks) == 1 and person.tasks[0][0] == person.owner, person.tasks
        for field in ("stage", "score", "reasons"):
            assert getattr(person, field) == getattr(expected, field), (field, person, expected)
        subject = person.tasks[0][1].split(", due by ")[0]
        assert subject == expected.tasks[0][1].split(", due by ")[0], (person, expected)
    # the same round-robin slots were taken, whichever person got which
    assert Counter(p.owner for p in parallel.values()) == Counter(p.owner for p in control.values())
