"""Campaign memberships as the sandbox presents them, read with `Campaign.Name` / `Campaign.Type`
through the real simple-salesforce client: forms and webinars keep their names, registered and
attended stay apart, and three webinars are three campaigns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sandbox.portal import PortalActivity
from tests.sandbox_salesforce.conftest import (
    NOW,
    SalesforceClient,
    SalesforceSandbox,
    make_portal,
)

MEMBERS = "SELECT Id, LeadId, Status, Campaign.Name, Campaign.Type FROM CampaignMember"


def test_campaign_member_carries_its_campaign_name_and_type(sf: SalesforceClient) -> None:
    rows = sf.query_all(MEMBERS)["records"]
    by_name = {r["Campaign"]["Name"]: r for r in rows}
    assert set(by_name) == {"Demo Request", "Q4 Launch"}
    webinar = by_name["Q4 Launch"]
    assert webinar["Campaign"]["Type"] == "Webinar" and webinar["Status"] == "Attended"
    assert webinar["Campaign"]["attributes"]["type"] == "Campaign"
    assert by_name["Demo Request"]["Campaign"]["Type"] == "Web"
    assert by_name["Demo Request"]["Status"] == "Responded"


def test_three_webinars_stay_three_campaigns_registered_apart_from_attended(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    portal = make_portal(leads=3, contacts=0)
    portal.activities.clear()
    names = ["Pipeline Clinic", "Routing Live", "Scoring 101"]
    for i, name in enumerate(names):
        kind = "webinar_attended" if i == 1 else "webinar_registered"
        when = NOW - timedelta(days=i + 1)
        portal.activities.append(
            PortalActivity(f"w{i}", "p0", kind, when, None, {"webinar_name": name})
        )
    rows = start_sandbox(portal).client().query_all(MEMBERS)["records"]
    assert sorted((r["Campaign"]["Name"], r["Status"]) for r in rows) == [
        ("Pipeline Clinic", "Registered"),
        ("Routing Live", "Attended"),
        ("Scoring 101", "Registered"),
    ]
    assert {r["Campaign"]["Type"] for r in rows} == {"Webinar"}
