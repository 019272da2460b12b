"""A demo request decided by the fast path while a scheduled run reads the same Lead: the run's
pull reads it just before the fast path's owner write lands and stores it just after. The Lead
keeps the fast path's owner and has one task, as in a control run where the two did not cross;
read back through simple-salesforce, field by field.

Found in CI (the Salesforce speed benchmark's smoke run, two tasks for one lead): the run's pull
stored its older read over the store's echo of the fast path's write (the owner, the stage), so
the run's routing pass saw a Lead with no owner, routed it again and restarted its SLA clock (the
old one ended as "reassigned" to the same rep); the restarted clock's "task the owner" rung
fired again. The crossing is made exact with the sandbox's request hooks: the fast path's field
write (sObject Collections PATCH) waits until the run's Lead page is built; the page's answer
waits until the fast path's owner and task read back.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from crm_clients import CrmPerson, SalesforceClient
from demo_requests import salesforce_lead
from e2e_stack import speed_worker

from sandbox.runtime import Sandbox
from sandbox.server import SandboxRequest, SandboxResponse
from sync.change_events import listening
from sync.runtime import Runtime

pytestmark = pytest.mark.slow
WAIT = 60.0  # seconds any one step may take
TOPICS = 3  # Lead, Contact and CampaignMember change events
EMAIL = "avery.quinn@northwind-analytics.com"


@dataclass
class Crossing:
    """The sandbox's hooks that cross the fast path's write with the run's read of `lead`."""

    lead: str = ""
    write_held: threading.Event = field(default_factory=threading.Event)
    page_built: threading.Event = field(default_factory=threading.Event)
    fast_done: threading.Event = field(default_factory=threading.Event)

    def before(self, request: SandboxRequest) -> SandboxResponse | None:
        """The fast path's field write of the Lead waits for the run's page."""
        if (
            self.lead
            and not self.write_held.is_set()
            and request.method == "PATCH"
            and "composite/sobjects" in request.path
            and self.lead.encode() in request.body
        ):
            self.write_held.set()
            assert self.page_built.wait(WAIT), "the run never read the Lead"
        return None

    def after(self, request: SandboxRequest, response: SandboxResponse) -> None:
        """The run's page holding the Lead (read before the write) waits for the fast path."""
        query = request.param("q") or ""
        if (
            self.lead
            and self.write_held.is_set()
            and not self.page_built.is_set()
            and "FROM Lead " in query
            and "ORDER BY SystemModstamp" in query
            and self.lead.encode() in response.body
        ):
            self.page_built.set()
            self.fast_done.wait(WAIT)


def _made(directory: Path) -> Path:
    directory.mkdir()
    return directory


def _owned_with_task(client: SalesforceClient, lead: str) -> CrmPerson:
    deadline = time.monotonic() + WAIT
    while True:
        person = client.person("lead", lead)
        if person.owner and person.tasks:
            return person
        assert time.monotonic() < deadline, f"no owner and task for {lead}: {person}"
        time.sleep(0.1)


def _log_a_call(sandbox: Sandbox, api: Any, lead: str) -> None:
    """A call on the Lead logged by someone who does not own it (no change event: the run's
    activity pull reads it, and has the Lead to decide again)."""
    assert sandbox.salesforce is not None
    api.Task.create(
        {
            "WhoId": lead,
            "OwnerId": sandbox.salesforce.org.api_user_id,
            "Subject": "Call: left a voicemail",
            "TaskSubtype": "Call",
            "Status": "Completed",
            "ActivityDate": date.today().isoformat(),
        }
    )


def _demo_request_beside_a_run(
    sandbox: Sandbox, runtime: Runtime, client: SalesforceClient, crossing: Crossing | None
) -> tuple[CrmPerson, CrmPerson]:
    """A demo request, a call logged on the Lead, then a scheduled run: the Lead as the fast path
    left it, then after the run. With `crossing`, the call is logged while the fast path's write
    waits, and the run reads the Lead before the write and stores it after; without, the call
    and the run come once the fast path is done."""
    assert sandbox.pubsub is not None
    server = sandbox.server("salesforce")
    service, api = sandbox.pubsub.service, client.api
    campaign = api.Campaign.create({"Name": "Request a demo"})["id"]
    lead = salesforce_lead(api, EMAIL)  # before the listener: decided once, with its request
    if crossing is not None:
        crossing.lead = lead
        server.before_request.append(crossing.before)
        server.after_request.append(crossing.after)
    before = service.subscribes
    with listening(runtime) as listener:
        assert listener is not None
        deadline = time.monotonic() + WAIT
        while service.subscribes < before + TOPICS:  # subscribed: nothing after is missed
            assert time.monotonic() < deadline
            time.sleep(0.05)
        api.CampaignMember.create({"CampaignId": campaign, "LeadId": lead, "Status": "Responded"})
        if crossing is not None:
            assert crossing.write_held.wait(WAIT), "the fast path never wrote the Lead"
            _log_a_call(sandbox, api, lead)  # the run has the Lead to decide again
            run = threading.Thread(target=runtime.run, name="scheduled-run")
            run.start()  # begins after the fast path's decision, reads before its write
            assert crossing.page_built.wait(WAIT), "the run never read the Lead"
            first = _owned_with_task(client, lead)
            crossing.fast_done.set()
            run.join(timeout=3 * WAIT)
            assert not run.is_alive()
        else:
            first = _owned_with_task(client, lead)
            _log_a_call(sandbox, api, lead)
            runtime.run()
        time.sleep(1.0)  # a change event of the run's own writes is decided too
        runtime.run(pull=False)  # and the worker's SLA check a minute on fires what is due
    return first, client.person("lead", lead)


def test_a_run_crossing_the_fast_path_leaves_the_lead_as_a_run_after_it_does(
    tmp_path: Path,
) -> None:
    with speed_worker("salesforce", _made(tmp_path / "control")) as (sandbox, runtime):
        client = SalesforceClient(sandbox, runtime.config)
        _, control = _demo_request_beside_a_run(sandbox, runtime, client, None)
    crossing = Crossing()
    with speed_worker("salesforce", _made(tmp_path / "crossing")) as (sandbox, runtime):
        client = SalesforceClient(sandbox, runtime.config)
        first, crossed = _demo_request_beside_a_run(sandbox, runtime, client, crossing)
    assert crossing.fast_done.is_set()  # the run's page was held until the fast path was done
    assert crossed.owner == first.owner and crossed.tasks == first.tasks  # not routed again
    assert len(control.tasks) == 1 and control.tasks[0][0] == control.owner
    assert _seen(crossed) == _seen(control)


def _seen(person: CrmPerson) -> tuple[object, ...]:
    """What the rep and their manager see of the Lead (a task's due time is the run's own)."""
    tasks = [
        (owner, re.sub(r"due by .*$", "due by <time>", subject)) for owner, subject in person.tasks
    ]
    return person.owner, person.stage, person.score, person.reasons, tasks
