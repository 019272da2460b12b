"""A demo request from a person routed in the standard lane already: the fast lane's first rung
(the owner's task at once) fires, for the owner they have, once.

The person first becomes an MQL without a demo request (fit and a bottom-funnel asset or an
attended webinar): routed in the standard (MQL) lane, whose first rung (a task after 24 business
hours) is not due. Their demo request then moves them to the fast lane: the existing owner is
kept, and the fast lane's clock starts on the territory's calendar (open now in the
speed-to-lead config), so its first rung puts one task in that owner's queue at once. A clock on
the default calendar (none for an owner kept) waited for the next business hour instead.
Read back through hubspot-api-client / simple-salesforce from `handoff run`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from crm_clients import CrmPerson
from demo_requests import hubspot_form, salesforce_lead, submit_form
from test_salesforce_change_events import _org
from test_speed_to_lead import DEADLINE, live  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
ASSET_FORM = "Implementation guide download"  # bottom funnel: behaviour, not the fast lane


def _submit(live_: tuple, form_name: str, email: str) -> None:  # type: ignore[type-arg]
    sandbox, _, _, client, _ = live_
    form = hubspot_form(client.api, form_name)
    submit_form(sandbox.info, form, email, firstname="Rowan", lastname="Vale", industry="Software")


def _hubspot_person(live_: tuple, email: str, *, task: bool) -> CrmPerson:  # type: ignore[type-arg]
    _, worker, _, client, _ = live_
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            found = client.api.crm.contacts.basic_api.get_by_id(email, id_property="email")
            person = client.person("contact", found.id)
            if person.owner and (bool(person.tasks) or not task):
                return person
        except Exception as exc:  # not created yet
            if "404" not in str(exc) and "Not Found" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"{email}:\n{worker.output()[-4000:]}"
        time.sleep(0.25)


def test_hubspot_a_demo_request_after_the_standard_lane_gets_the_fast_lane_task(live) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    worker = live[1]
    email = "rowan.vale@northwind-analytics.com"
    _submit(live, ASSET_FORM, email)
    mql = _hubspot_person(live, email, task=False)
    assert mql.stage == "marketingqualifiedlead" and not mql.tasks, mql  # the standard lane
    worker.wait_for('"speed.decided"')

    _submit(live, "Demo request", email)
    fast = _hubspot_person(live, email, task=True)
    assert fast.owner == mql.owner, (fast, mql)  # kept
    assert [owner for owner, _ in fast.tasks] == [fast.owner], fast.tasks  # one task, theirs


def test_salesforce_a_demo_request_after_the_standard_lane_gets_the_fast_lane_task(
    tmp_path: Path, store_url: str
) -> None:
    with _org(tmp_path, store_url) as org:
        worker = org.start()
        worker.wait_for("(applied)")
        api = org.client.api
        webinar = api.Campaign.create({"Name": "Live: Routing leads in minutes", "Type": "Webinar"})
        lead = salesforce_lead(
            api,
            "rowan.vale@northwind-analytics.com",
            FirstName="Rowan",
            LastName="Vale",
            Industry="Software",
        )
        api.CampaignMember.create(
            {"CampaignId": webinar["id"], "LeadId": lead, "Status": "Attended"}
        )
        mql = org.routed(lead, worker, task=False)  # the standard lane: no task due yet
        assert mql.owner and not mql.tasks, mql

        api.CampaignMember.create(
            {"CampaignId": org.campaign, "LeadId": lead, "Status": "Responded"}
        )
        fast = org.routed(lead, worker)
        assert fast.owner == mql.owner, (fast, mql)  # kept
        assert [owner for owner, _ in fast.tasks] == [fast.owner], fast.tasks
