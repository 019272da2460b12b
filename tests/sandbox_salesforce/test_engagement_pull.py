"""The Salesforce connector with Account Engagement against the sandbox: visitor activities as
the run's event stream in canonical keys, campaign members with their campaign's name and
status, and a business unit that refuses or does not answer as a warning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.connections import Connection
from connectors.errors import FatalError
from connectors.factory import build_connector
from connectors.records import ActivityKind, Contact
from connectors.salesforce.engagement import EngagedSalesforceConnector
from sandbox.portal import PortalActivity
from sandbox.salesforce.ids import derived_id
from tests.sandbox_salesforce.conftest import NOW, SID, SalesforceSandbox, make_portal

UNIT = "0Uv5g000000SANDBOX"


def connection(
    box: SalesforceSandbox, stage_field: str | None = None, **engagement: Any
) -> Connection:
    return Connection.model_validate(
        {
            "name": "sfdc",
            "kind": "salesforce",
            "salesforce": {
                "auth": "session",
                "instance_url": box.server.base_url,
                "session_id": SID,
                "ca_file": str(box.server.ca.ca_file),
                "campaign_stage_field": stage_field,
                "account_engagement": {
                    "business_unit_id": UNIT,
                    "base_url": box.server.base_url,
                    **engagement,
                },
            },
            "objects": {"lead": {"email": {"property": "Email"}}},
            "activities": [
                {
                    "source": "CampaignMember",
                    "kind": "webinar_attended",
                    "when": {"Campaign.Type": "Webinar", "Status": "Attended"},
                },
                {
                    "source": "CampaignMember",
                    "kind": "webinar_registered",
                    "when": {"Campaign.Type": "Webinar", "Status": "Registered"},
                },
                {
                    "source": "CampaignMember",
                    "kind": "form_submission",
                    "when": {"Status": "Responded"},
                },
            ],
        }
    )


def engaged(
    box: SalesforceSandbox, stage_field: str | None = None, **engagement: Any
) -> EngagedSalesforceConnector:
    connector = build_connector(connection(box, stage_field, **engagement))
    assert isinstance(connector, EngagedSalesforceConnector)
    return connector


def lead(person: str) -> Contact:
    return Contact("sfdc", "lead", derived_id("Lead", person), NOW)


def test_page_views_forms_and_email_arrive_in_canonical_keys(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    portal = make_portal(leads=3, contacts=0)
    portal.activities += [
        PortalActivity("e1", "p0", "email_open", NOW - timedelta(hours=3), None,
                       {"subject": "Your pricing guide", "campaign": "Q4 Nurture"}),
        PortalActivity("e2", "p0", "email_click", NOW - timedelta(hours=2), None,
                       {"subject": "Your pricing guide"}),
        PortalActivity("f2", "p0", "form_submission", NOW - timedelta(hours=1), None,
                       {"form_handler": "Contact Sales (site)"}),
    ]  # fmt: skip
    connector = engaged(start_sandbox(portal))
    stream = list(connector.pull_event_stream(None))
    assert [a.occurred_at for a in stream] == sorted(a.occurred_at for a in stream)
    by_kind = {a.kind: a for a in stream}
    view = by_kind[ActivityKind.PAGE_VIEW]
    assert view.contact_id == derived_id("Lead", "p2")
    assert view.properties["url"] == "/pricing" and view.properties["raw.type"] == "2"
    forms = sorted(
        a.properties["form_name"] for a in stream if a.kind is ActivityKind.FORM_SUBMISSION
    )
    assert forms == ["Contact Sales (site)", "Demo Request"]
    handler = next(a for a in stream if a.properties.get("form_name") == "Contact Sales (site)")
    assert "raw.formHandlerId" in handler.properties and "raw.formId" not in handler.properties
    opened = by_kind[ActivityKind.EMAIL_OPEN]
    assert opened.properties["email_subject"] == "Your pricing guide"
    assert opened.properties["campaign"] == "Q4 Nurture"
    assert by_kind[ActivityKind.EMAIL_CLICK].contact_id == derived_id("Lead", "p0")
    assert connector.warnings == []
    assert connector.usage.calls["pardot.visitor_activities"] == 1


def test_the_stream_is_incremental(start_sandbox: Callable[..., SalesforceSandbox]) -> None:
    box = start_sandbox()
    connector = engaged(box)
    assert list(connector.pull_event_stream(NOW)) == []  # the fixture's fill and view: 3d ago
    since = NOW - timedelta(days=3)  # at or after: the cursor's own instant is read again
    assert [a.kind for a in connector.pull_event_stream(since)] == [
        ActivityKind.FORM_SUBMISSION,
        ActivityKind.PAGE_VIEW,
    ]
    box.emulator.pardot.activities.append(
        {**box.emulator.pardot.activities[-1], "id": 99_999_999, "createdAt": NOW}
    )
    assert [a.id for a in connector.pull_event_stream(NOW)] == ["pardot-99999999"]


def test_the_record_ceiling_restarts_from_the_last_time_read(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    portal = make_portal(leads=3, contacts=0)
    portal.activities += [
        PortalActivity(f"v{n}", "p1", "page_view", NOW - timedelta(minutes=n // 2), None,
                       {"url": f"/docs/{n}"})
        for n in range(25)
    ]  # fmt: skip
    box = start_sandbox(portal)
    box.emulator.pardot.token_record_cap = 10
    connector = engaged(box, page_size=5)
    views = [a for a in connector.pull_event_stream(None) if a.kind is ActivityKind.PAGE_VIEW]
    assert len(views) == 26 and len({a.id for a in views}) == 26


def test_campaign_members_carry_campaign_name_type_and_status(sandbox: SalesforceSandbox) -> None:
    connector = engaged(sandbox)
    found = {a.kind: a for a in connector.pull_activities([lead("p1"), lead("p2")], None)}
    attended = found[ActivityKind.WEBINAR_ATTENDED]
    assert attended.properties["webinar_name"] == "Q4 Launch"
    assert attended.properties["campaign_type"] == "Webinar"
    assert attended.properties["member_status"] == "attended"
    assert attended.properties["raw.Campaign.Name"] == "Q4 Launch"
    # the Demo Request fill comes from Account Engagement, not its Responded membership
    assert ActivityKind.FORM_SUBMISSION not in found


def test_without_a_business_unit_forms_come_from_campaign_members(
    sandbox: SalesforceSandbox,
) -> None:
    connector = engaged(sandbox, business_unit_id="")
    assert list(connector.pull_event_stream(None)) == []
    assert "without a business unit id" in connector.warnings[0]
    found = {a.kind: a for a in connector.pull_activities([lead("p2")], None)}
    form = found[ActivityKind.FORM_SUBMISSION]
    assert form.properties["form_name"] == "Demo Request"
    assert form.properties["member_status"] == "responded"


def test_a_refusing_or_silent_business_unit_is_a_warning(sandbox: SalesforceSandbox) -> None:
    wrong = engaged(sandbox, business_unit_id="0Uv5g000000OTHERBU")
    assert list(wrong.pull_event_stream(None)) == []
    assert "code 201" in wrong.warnings[0] and "base_url" in wrong.warnings[0]
    assert SID not in wrong.warnings[0]  # the token never reaches a message
    sandbox.emulator.pardot.down = True
    down = engaged(sandbox)
    assert list(down.pull_event_stream(None)) == []
    assert "HTTP 503 code 183" in down.warnings[0]
    closed = engaged(sandbox, base_url="https://127.0.0.1:9")
    assert list(closed.pull_event_stream(None)) == []
    assert "did not answer" in closed.warnings[0]
    assert "the rest of the run continues" in closed.warnings[0]


def test_crm_setup_check_names_the_behaviour_sources(sandbox: SalesforceSandbox) -> None:
    sources = engaged(sandbox).behaviour_sources()
    assert sources["campaign responses"].startswith("CampaignMember with Campaign.Name")
    assert "page views" in sources["web behaviour (page views, forms, email)"]
    refused = engaged(sandbox, business_unit_id="0Uv5g000000OTHERBU").behaviour_sources()
    assert "code 201" in refused["web behaviour (page views, forms, email)"]


def test_a_malformed_business_unit_id_is_a_config_error_naming_the_fix(
    sandbox: SalesforceSandbox,
) -> None:
    with pytest.raises(ValidationError, match=r"18 characters starting 0Uv"):
        connection(sandbox, business_unit_id="12345")


def test_a_campaign_stage_field_gives_form_fills_their_asset_stage(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    portal = make_portal(leads=3, contacts=0)
    portal.activities += [
        PortalActivity("w1", "p0", "form_submission", NOW - timedelta(days=2), None,
                       {"form_name": "Whitepaper: Territories", "asset_stage": "top"}),
        PortalActivity("w2", "p0", "form_submission", NOW - timedelta(days=1), None,
                       {"form_name": "Case study: Northwave", "asset_stage": "Bottom"}),
        PortalActivity("w3", "p0", "page_view", NOW - timedelta(hours=5), None,
                       {"url": "/compare/leadrelay", "title": "Handoff vs LeadRelay",
                        "asset_stage": "middle"}),
    ]  # fmt: skip
    box = start_sandbox(portal)
    connector = engaged(box, "Funnel_Stage__c")
    stream = list(connector.pull_event_stream(None))
    forms = {
        a.properties["form_name"]: a.properties.get("asset_stage")
        for a in stream
        if a.kind is ActivityKind.FORM_SUBMISSION
    }
    pages = {
        a.properties["url"]: a.properties.get("asset_stage")
        for a in stream
        if a.kind is ActivityKind.PAGE_VIEW
    }
    assert pages == {"/pricing": None, "/compare/leadrelay": "middle"}  # by its tracking campaign
    assert forms == {
        "Whitepaper: Territories": "top",
        "Case study: Northwave": "bottom",
        "Demo Request": None,  # its campaign has no stage
    }
    assert connector.usage.calls["query"] == 1  # one Campaign query for the page
    plain = engaged(box, "Funnel_Stage__c", business_unit_id="")
    members = [a for a in plain.pull_activities([lead("p0")], None)]
    assert [a.properties.get("asset_stage") for a in members] == ["top", "bottom"]


def test_a_stage_field_the_org_lacks_names_the_config_key(sandbox: SalesforceSandbox) -> None:
    connector = engaged(sandbox, "Stage_Missing__c", business_unit_id="")
    with pytest.raises(FatalError, match=r"salesforce\.campaign_stage_field"):
        list(connector.pull_activities([lead("p1")], None))
