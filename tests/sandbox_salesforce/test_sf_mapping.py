"""How a Portal appears as Salesforce records."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.ids import derived_id, normalize, to_18
from tests.sandbox_salesforce.conftest import (
    SID,
    Clock,
    SalesforceClient,
    SalesforceSandbox,
    make_portal,
)


def test_ids_are_stable_18_character_ids() -> None:
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # Salesforce's documented example
    assert normalize("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize("not an id") is None
    first = SalesforceEmulator(make_portal(), session_id=SID, clock=Clock())
    second = SalesforceEmulator(make_portal(), session_id=SID, clock=Clock())
    assert set(first.org.records["Lead"]) == set(second.org.records["Lead"])
    assert derived_id("Lead", "p0") in first.org.records["Lead"]


def test_people_owners_and_accounts(sf: SalesforceClient) -> None:
    users = sf.query(
        "SELECT Email, IsActive, UserType FROM User WHERE UserType = 'Standard' ORDER BY Email"
    )
    assert [(u["Email"], u["IsActive"]) for u in users["records"]] == [
        ("ana.ruiz@example.com", True),
        ("ben.okafor@example.com", True),
        ("cy.gone@example.com", False),
    ]
    lead = sf.query(
        "SELECT Company, Status, Country, NumberOfEmployees, Industry, OwnerId, IsConverted, "
        "Handoff_Score__c, CreatedDate FROM Lead WHERE Email = 'person1@acme.io'"
    )["records"][0]
    assert lead["Company"] == "Acme Analytics" and lead["Status"] == "MQL"
    assert (lead["Country"], lead["NumberOfEmployees"], lead["Industry"]) == ("US", 300, "Software")
    assert lead["OwnerId"] == derived_id("User", "o1") and lead["IsConverted"] is False
    assert lead["Handoff_Score__c"] == 1.0
    assert lead["CreatedDate"] == "2026-10-31T15:01:00.000+0000"
    contact = sf.query(
        "SELECT AccountId, MailingCountry FROM Contact WHERE Email = 'person30@bolt.de'"
    )
    assert contact["records"][0]["AccountId"] == derived_id("Account", "c2")
    account = sf.Account.get(derived_id("Account", "c1"))
    assert (account["Website"], account["BillingState"]) == ("https://www.acme.io", "CA")


def test_activities_become_tasks_events_and_campaign_members(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    p0 = derived_id("Lead", "p0")
    calls = sf.query(
        f"SELECT TaskSubtype, Status, IsClosed, OwnerId, ActivityDate FROM Task WHERE WhoId = '{p0}' AND IsClosed = true"
    )
    assert [(t["TaskSubtype"], t["Status"], t["ActivityDate"]) for t in calls["records"]] == [
        ("Call", "Completed", "2026-11-18")
    ]
    open_tasks = sf.query("SELECT Subject, Handoff_Task_Key__c FROM Task WHERE IsClosed = false")
    assert [(t["Subject"], t["Handoff_Task_Key__c"]) for t in open_tasks["records"]] == [
        ("Follow up", "hk-1")
    ]
    events = sf.query(f"SELECT StartDateTime FROM Event WHERE WhoId = '{p0}'")["records"]
    assert [e["StartDateTime"] for e in events] == ["2026-11-19T15:00:00.000+0000"]
    lead = sf.Lead.get(p0)
    assert (
        lead["LastActivityDate"] == "2026-11-19"
        and lead["SystemModstamp"] == "2026-11-19T15:00:00.000+0000"
    )
    members = sf.query(
        "SELECT CampaignId, LeadId, Status, HasResponded FROM CampaignMember ORDER BY Status"
    )
    statuses = [(m["LeadId"], m["Status"], m["HasResponded"]) for m in members["records"]]
    assert statuses == [
        (derived_id("Lead", "p1"), "Attended", True),  # registered, then attended: one membership
        (derived_id("Lead", "p2"), "Responded", True),  # the Demo Request form
    ]
    campaigns = sf.query("SELECT Name, Type FROM Campaign ORDER BY Name")["records"]
    assert [(c["Name"], c["Type"]) for c in campaigns] == [
        ("Demo Request", "Web"),
        ("Q4 Launch", "Webinar"),
    ]
    sandbox.clock.advance(minutes=1)
    campaign = members["records"][0]["CampaignId"]
    sandbox.emulator.add_activity(
        "CampaignMember", CampaignId=campaign, LeadId=derived_id("Lead", "p3"), Status="Registered"
    )
    bumped = sf.Lead.get(derived_id("Lead", "p3"))
    assert bumped["SystemModstamp"] == "2026-11-20T15:01:00.000+0000"


def test_portal_properties_add_custom_fields(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    portal = make_portal()
    portal.people[5].properties = {"Region__c": "EMEA", "LeadSource": "Webinar", "hs_raw": "x"}
    sf = start_sandbox(portal).client()
    rows = sf.query("SELECT Email, Region__c, LeadSource FROM Lead WHERE Region__c != null")[
        "records"
    ]
    assert [(r["Email"], r["Region__c"], r["LeadSource"]) for r in rows] == [
        ("person5@acme.io", "EMEA", "Webinar")
    ]
    assert sf.query("SELECT COUNT() FROM Lead WHERE Region__c = null")["totalSize"] == 29
    earlier = sf.Lead.get(derived_id("Lead", "p0"))  # inserted before the field existed
    assert earlier["Region__c"] is None
