"""The canonical activity vocabulary: translation, the raw. prefix, and config naming rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from config.scoring import ActivityFilter
from connectors import activity_keys as keys
from connectors.memory import InMemoryConnector
from connectors.records import Activity, ActivityKind, Actor, Contact

AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def test_translation_takes_the_first_nonempty_raw_property_and_keeps_every_raw_one() -> None:
    out = keys.translate(
        {"hs_url": "", "hs_page_url": "https://x.io/pricing", "hs_page_title": "Pricing", "n": 3},
        {keys.URL: ("hs_url", "hs_page_url"), keys.PAGE_TITLE: ("hs_page_title",)},
    )
    assert out == {
        "url": "https://x.io/pricing",
        "page_title": "Pricing",
        "raw.hs_page_url": "https://x.io/pricing",
        "raw.hs_page_title": "Pricing",
        "raw.n": "3",
    }


def test_a_raw_property_named_like_a_canonical_key_feeds_it_and_stages_are_lower_case() -> None:
    out = keys.translate({"asset_stage": " Bottom ", "Status": "Attended"}, {})
    assert out["asset_stage"] == "bottom"
    assert "member_status" not in out and out["raw.Status"] == "Attended"
    out = keys.translate({"Status": "Attended"}, {keys.MEMBER_STATUS: ("Status",)})
    assert out["member_status"] == "attended"


def test_config_accepts_canonical_and_raw_prefixed_names_and_explains_others() -> None:
    ok = ActivityFilter.model_validate(
        {"kinds": ["page_view"], "properties": {"page_title": "Pricing", "raw.hs_url": "x"}}
    )
    assert set(ok.properties) == {"page_title", "raw.hs_url"}
    with pytest.raises(ValidationError) as info:
        ActivityFilter.model_validate({"kinds": ["page_view"], "properties": {"hs_url": "x"}})
    message = str(info.value)
    assert "raw.hs_url" in message and "canonical key" in message and "url" in message


def test_memory_adapter_translates_the_portal_vocabulary() -> None:
    crm = InMemoryConnector("memory", clock=lambda: AT)
    crm.add_activity(
        Activity(
            "memory",
            "a1",
            "c1",
            ActivityKind.PAGE_VIEW,
            AT,
            Actor.CONTACT,
            properties={"url": "https://x.io/pricing", "title": "Pricing"},
        )
    )
    crm.add_activity(
        Activity(
            "memory",
            "a2",
            "c1",
            ActivityKind.EMAIL_OPEN,
            AT,
            Actor.CONTACT,
            properties={"subject": "Q4 launch", "campaign": "Launch"},
        )
    )
    contact = Contact("memory", "contact", "c1", AT)
    view, email = list(crm.pull_activities([contact], None))
    assert view.properties["url"] == "https://x.io/pricing"
    assert view.properties["page_title"] == "Pricing"
    assert view.properties["raw.title"] == "Pricing"
    assert email.properties["email_subject"] == "Q4 launch"
    assert email.properties["campaign"] == "Launch"


def test_a_pages_funnel_stage_comes_from_its_url_when_the_crm_names_none() -> None:
    stages = {"bottom": ["/case-studies/", "/compare/"], "top": ["/blog/"]}
    staged = keys.stage_by_url({"url": "https://x.io/Compare/leadrelay"}, stages)
    assert staged == {"url": "https://x.io/Compare/leadrelay", "asset_stage": "bottom"}
    assert keys.stage_by_url({"url": "https://x.io/pricing"}, stages) is None
    kept = {"url": "https://x.io/blog/a", "asset_stage": "middle"}
    assert keys.stage_by_url(kept, stages) is None  # the CRM's own stage wins
    assert keys.stage_by_url({"form_name": "Demo"}, stages) is None


def test_hubspot_asset_stages_need_url_parts() -> None:
    from config.connections import HubSpotSettings

    ok = HubSpotSettings.model_validate(
        {"access_token": "x", "asset_stages": {"bottom": [" /Compare/ "]}}
    )
    assert ok.asset_stages == {"bottom": ["/compare/"]}
    with pytest.raises(ValidationError) as info:
        HubSpotSettings.model_validate({"access_token": "x", "asset_stages": {"top": [""]}})
    assert "asset_stages.top" in str(info.value)
    with pytest.raises(ValidationError):
        HubSpotSettings.model_validate({"access_token": "x", "asset_stages": {"hot": ["/x"]}})
