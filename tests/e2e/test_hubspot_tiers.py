"""Pricing visits and demo requests reach the decision on every HubSpot tier.

The example config runs unchanged against a Professional and an Enterprise sandbox portal; the
outcome is read back through hubspot-api-client: the contact is an MQL whose reasons name the
pricing visits and the demo request. On Professional the Events API is refused (HubSpot's 403),
so page views come from the `hs_analytics_last_url` history and the run says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hubspot
import pytest
from e2e_stack import SEED_NOW, Stack
from sqlmodel import Session

from config.loader import load_config
from config.scoring import ScoringConfig
from sandbox.portal import Portal, PortalActivity, PortalCompany, PortalPerson
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import PersonState

WATCHED = ["lifecyclestage", "handoff_score_behaviour", "handoff_score_reasons", "hubspot_owner_id"]


def _portal(tier: str, *, demo: bool = True, pricing_views: int = 2) -> Portal:
    now = datetime.now(UTC).replace(microsecond=0)  # the run decides as of now
    portal = generate_portal(11, 3, SEED_NOW)
    portal.tier = tier
    portal.companies.append(
        PortalCompany("acme", "Acme Analytics", "acme-analytics.com", 220, "Software", "US", "NY")
    )
    portal.people.append(
        PortalPerson(
            "vp",
            "Dana",
            "Okafor",
            "dana@acme-analytics.com",
            "VP Marketing",
            "acme",
            now - timedelta(days=40),
            now - timedelta(days=40),
        )
    )
    at = now - timedelta(days=2)
    for n in range(pricing_views):
        url = "https://www.handoff-demo.com/pricing"
        portal.activities.append(
            PortalActivity(f"pv{n}", "vp", "page_view", at + timedelta(hours=n), None, {"url": url})
        )
    if demo:
        portal.activities.append(
            PortalActivity(
                "demo",
                "vp",
                "form_submission",
                at + timedelta(hours=5),
                None,
                {"form_name": "Request a demo", "url": "https://www.handoff-demo.com/demo"},
            )
        )
    return portal


def _stack(
    portal: Portal, tmp_path: Path, store_url: str, tier: str | None, crm: str = "hubspot"
) -> Iterator[Stack]:
    sandbox = Sandbox(portal, salesforce=crm == "both", ca_directory=tmp_path / "ca")
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        config = load_config(example_config(crm))  # unchanged: it says tier: professional
        state = config.state.model_copy(update={"url": store_url})
        if tier is not None:  # an admin who states the portal's tier
            hs, *others = config.connections
            assert hs.hubspot is not None
            settings = hs.hubspot.model_copy(update={"tier": tier})
            config = config.model_copy(
                update={"connections": [hs.model_copy(update={"hubspot": settings}), *others]}
            )
        config = config.model_copy(update={"state": state})
        engine = make_engine(store_url)
        upgrade(engine)
        yield Stack(sandbox, config, engine, tmp_path)
        engine.dispose()


def _read_back(stack: Stack, person: str) -> dict[str, str]:
    info = stack.sandbox.info
    emulator = stack.sandbox.hubspot
    assert emulator is not None and info.hubspot_base_url
    client = hubspot.HubSpot(
        access_token=info.hubspot_token,
        host=info.hubspot_base_url,
        ssl_ca_cert=str(info.ca_file),
    )
    contact = client.crm.contacts.basic_api.get_by_id(
        emulator.contact_id(person), properties=WATCHED
    )
    return {k: v or "" for k, v in contact.properties.items()}


@pytest.mark.parametrize(
    ("crm", "portal_tier", "config_tier", "page_views_from"),
    [
        ("hubspot", "professional", None, "hs_analytics_last_url history"),
        ("hubspot", "enterprise", None, "hs_analytics_last_url history"),
        ("hubspot", "enterprise", "enterprise", "Events API"),
        ("both", "professional", None, "hs_analytics_last_url history"),
        ("both", "enterprise", "enterprise", "Events API"),
    ],
)
def test_pricing_and_demo_make_an_mql_on_every_tier(
    tmp_path: Path,
    store_url: str,
    crm: str,
    portal_tier: str,
    config_tier: str | None,
    page_views_from: str,
) -> None:
    stack_iter = _stack(_portal(portal_tier), tmp_path, store_url, config_tier, crm)
    stack = next(stack_iter)
    try:
        result = stack.pipeline().run()
        assert not result.errors, result.errors
        contact = _read_back(stack, "vp")
        assert contact["lifecyclestage"] == "marketingqualifiedlead", contact
        reasons = contact["handoff_score_reasons"].lower()
        with Session(stack.engine) as session:
            state = session.get(PersonState, "email:dana@acme-analytics.com")
        assert state is not None and state.mql and state.fast_lane, state
        assert "pricing" in reasons and "requested a demo" in reasons, reasons
        assert float(contact["handoff_score_behaviour"]) >= 40
        assert contact["hubspot_owner_id"], "the demo request routes the lead to a rep"
        emulator = stack.sandbox.hubspot
        assert emulator is not None
        used_events = emulator.log.total("events.list") > 0
        assert used_events == (page_views_from == "Events API")
        assert emulator.log.total("forms.submissions") > 0  # forms through the Forms API
        calls = result.api_calls["hubspot"]
        assert calls["GET /form-integrations/v1/submissions/forms/{id}"] > 0  # one label
        if page_views_from != "Events API":
            assert any(
                "page views unavailable" in w and "hs_analytics_last_url" in w
                for w in result.warnings
            ), result.warnings
        else:
            assert not [w for w in result.warnings if w.startswith("hubspot:")]
    finally:
        next(stack_iter, None)


def test_one_pricing_view_scores_behaviour_through_the_real_client(
    tmp_path: Path, store_url: str
) -> None:
    """The issue's minimal repro: one contact, one page view at /pricing, a url_contains rule."""
    pricing_rule = next(r for r in ScoringConfig().behaviour if r.id == "pricing_visit")
    assert pricing_rule.match.url_contains == ["/pricing"]
    stack_iter = _stack(
        _portal("professional", demo=False, pricing_views=1), tmp_path, store_url, None
    )
    stack = next(stack_iter)
    try:
        result = stack.pipeline().run()
        assert not result.errors, result.errors
        contact = _read_back(stack, "vp")
        assert float(contact["handoff_score_behaviour"]) > 0, contact
        assert "pricing" in contact["handoff_score_reasons"].lower()
    finally:
        next(stack_iter, None)


def test_a_configured_enterprise_tier_refused_by_the_portal_falls_back_and_warns(
    tmp_path: Path, store_url: str
) -> None:
    stack_iter = _stack(_portal("professional"), tmp_path, store_url, "enterprise")
    stack = next(stack_iter)
    try:
        result = stack.pipeline().run()
        assert not result.errors, result.errors
        assert any("Events API refused" in w for w in result.warnings), result.warnings
        contact = _read_back(stack, "vp")
        assert contact["lifecyclestage"] == "marketingqualifiedlead", contact
    finally:
        next(stack_iter, None)


def test_enterprise_reads_events_only_for_contacts_that_changed(
    tmp_path: Path, store_url: str
) -> None:
    stack_iter = _stack(_portal("enterprise"), tmp_path, store_url, "enterprise")
    stack = next(stack_iter)
    try:
        pipeline = stack.pipeline()
        emulator = stack.sandbox.hubspot
        assert emulator is not None
        first = pipeline.run()
        assert not first.errors, first.errors
        contacts = len(emulator.store.objects["contacts"])
        assert emulator.log.total("events.list") == contacts  # one query per contact, full pull
        idle = emulator.log.total("events.list")
        pipeline.run()
        assert emulator.log.total("events.list") == idle  # nothing changed: no Events API call
        contact = emulator.contact_id("vp")
        emulator.add_activity(
            contact,
            "page_view",
            datetime.now(UTC),
            properties={"url": "https://www.handoff-demo.com/pricing"},
        )
        again = pipeline.run()
        assert not again.errors, again.errors
        assert emulator.log.total("events.list") == idle + 1  # the one contact that changed
        assert "pricing 3x" in _read_back(stack, "vp")["handoff_score_reasons"].lower()
    finally:
        next(stack_iter, None)


def test_a_token_without_the_forms_scope_is_a_warning_and_the_run_goes_on(
    tmp_path: Path, store_url: str
) -> None:
    stack_iter = _stack(_portal("professional"), tmp_path, store_url, None)
    stack = next(stack_iter)
    try:
        emulator = stack.sandbox.hubspot
        assert emulator is not None
        emulator.knobs.missing_scopes = {"forms": ["forms."]}
        result = stack.pipeline().run()
        assert not result.errors, result.errors
        refusal = next(w for w in result.warnings if "form submissions unavailable" in w)
        assert "MISSING_SCOPES" in refusal and "forms scope" in refusal
        contact = _read_back(stack, "vp")
        assert "pricing" in contact["handoff_score_reasons"].lower()  # page views still count
        assert "demo" not in contact["handoff_score_reasons"].lower()
    finally:
        next(stack_iter, None)


def test_professional_reads_webinars_event_by_event_and_a_refusal_names_webinars(
    tmp_path: Path, store_url: str
) -> None:
    portal = _portal("professional", demo=False, pricing_views=0)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    portal.activities.append(
        PortalActivity("web", "vp", "webinar_attended", at, None, {"webinar_name": "Live demo"})
    )
    stack_iter = _stack(portal, tmp_path, store_url, None)
    stack = next(stack_iter)
    try:
        emulator = stack.sandbox.hubspot
        assert emulator is not None
        result = stack.pipeline().run()
        assert not result.errors, result.errors
        assert not [w for w in result.warnings if "webinar" in w]
        assert emulator.log.total("marketing_events.list") == 1  # once per run, not per contact
        assert "webinar" in _read_back(stack, "vp")["handoff_score_reasons"].lower()
        emulator.knobs.missing_scopes = {"crm.objects.marketing_events.read": ["marketing_events."]}
        refused = stack.pipeline().run()
        assert not refused.errors, refused.errors
        refusal = next(w for w in refused.warnings if "webinars unavailable" in w)
        assert "MISSING_SCOPES" in refusal and "marketing_events.read" in refusal
    finally:
        next(stack_iter, None)
