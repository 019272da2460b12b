"""A demo request the scheduled run hands on (no fast path caught it: the worker was down, or
none runs) has its owner's task when the run ends, not at the next SLA check an hour on; read
back through the real clients, on both CRMs.

The speed-to-lead config's fast lane tasks the owner at 0.01% of its hour (0.36 s after the
handoff), and its SLA check runs hourly. The run hands the lead on at its own moment and fired
the rungs due at that same moment: the task waited for the next check (found in CI: the
Salesforce speed benchmark's smoke run waiting for a task that never came). A live run fires the
rungs due when it gets to them, and waits (at most 2 s) for one of its handoffs' falling due that
soon.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_clients import CrmPerson, HubSpotClient, SalesforceClient
from demo_requests import hubspot_form, salesforce_lead, submit_form
from e2e_stack import speed_worker

from sandbox.runtime import Sandbox
from sync.runtime import Runtime

pytestmark = pytest.mark.slow
EMAIL = "avery.quinn@northwind-analytics.com"


def _demo_request(crm: str, sandbox: Sandbox, runtime: Runtime) -> tuple[str, CrmPerson]:
    """The demo request, a scheduled run, then the person as the CRM holds them."""
    config = runtime.config
    if crm == "hubspot":
        hubspot = HubSpotClient(sandbox, config)
        submit_form(sandbox.info, hubspot_form(hubspot.api), EMAIL)
        runtime.run()
        contact = hubspot.api.crm.contacts.basic_api.get_by_id(EMAIL, id_property="email")
        return "contact", hubspot.person("contact", str(contact.id))
    salesforce = SalesforceClient(sandbox, config)
    api = salesforce.api
    campaign = api.Campaign.create({"Name": "Request a demo"})["id"]
    lead = salesforce_lead(api, EMAIL)
    api.CampaignMember.create({"CampaignId": campaign, "LeadId": lead, "Status": "Responded"})
    runtime.run()
    return "lead", salesforce.person("lead", lead)


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_a_demo_request_handed_on_by_a_run_has_its_task_when_the_run_ends(
    crm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", "scheduled-run-test-secret")  # webhooks' (unused)
    with speed_worker(crm, tmp_path, command="sync") as (sandbox, runtime):
        _, person = _demo_request(crm, sandbox, runtime)
    assert person.owner, person
    assert person.stage in ("MQL", "marketingqualifiedlead"), person
    assert len(person.tasks) == 1, person  # in the same run, not an hour on
    assert person.tasks[0][0] == person.owner
