"""The seeded demo portal (deterministic, believable) and the fixture file format."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.fixture import FixtureError, load_fixture
from sandbox.hubspot import HubSpotEmulator
from sandbox.seed import generate_portal
from sandbox.seed_market import ACADEMIC_DOMAINS, COMPETITOR_DOMAINS, FREE_MAIL
from tests.sandbox_hubspot.conftest import NOW

EXAMPLE = Path(__file__).resolve().parents[2] / "sandbox" / "fixtures" / "example.yaml"


def _digest(portal) -> str:
    h = hashlib.sha256()
    for p in portal.people:
        h.update(
            repr((p.id, p.email, p.title, p.owner_id, p.lifecycle_stage, p.created_at)).encode()
        )
    for a in portal.activities:
        h.update(repr((a.person_id, a.kind, a.occurred_at, sorted(a.properties.items()))).encode())
    return h.hexdigest()


def test_same_seed_same_portal_other_seed_other_portal():
    assert _digest(generate_portal(3, 300, NOW)) == _digest(generate_portal(3, 300, NOW))
    assert _digest(generate_portal(3, 300, NOW)) != _digest(generate_portal(4, 300, NOW))


def test_owners_match_the_demo_territories():
    portal = generate_portal(1, 50, NOW)
    by_territory = Counter(o.territory for o in portal.owners if o.active and o.territory)
    assert set(by_territory) == {"na-east", "na-west", "emea", "apac"}
    assert all(2 <= n <= 4 for n in by_territory.values())
    assert sum(not o.active for o in portal.owners) == 1
    queue = [o for o in portal.owners if (o.first_name, o.last_name) == ("Lead", "Queue")]
    assert len(queue) == 1 and queue[0].active


def test_portal_is_a_believable_b2b_mix():
    portal = generate_portal(5, 2000, NOW)
    domains = Counter(p.email.split("@")[1] for p in portal.people)
    assert sum(domains[d] for d in FREE_MAIL) > 50
    assert sum(domains[d] for d in ACADEMIC_DOMAINS) > 20
    assert sum(domains[d] for d in COMPETITOR_DOMAINS) > 5
    titles = {p.title for p in portal.people}
    assert any(t.startswith("Intern") for t in titles) and {"CEO", "CFO"} & titles
    kinds = Counter(a.kind for a in portal.activities)
    assert {
        "page_view",
        "form_submission",
        "email_open",
        "email_click",
        "webinar_attended",
        "call",
        "meeting",
    } <= set(kinds)
    assert any(a.properties.get("url", "").endswith("/pricing") for a in portal.activities)
    assert any(a.properties.get("form_name") == "Demo request" for a in portal.activities)
    assert 15 <= len(portal.activities) / len(portal.people) <= 25
    assert all(NOW - timedelta(days=90) <= a.occurred_at <= NOW for a in portal.activities)
    assert any(c.owner_id for c in portal.companies)
    assert any(p.lead_status for p in portal.people) and portal.tasks
    inactive = {o.id for o in portal.owners if not o.active}
    assert not any(p.owner_id in inactive for p in portal.people)


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="tz-aware"):
        generate_portal(1, 5, NOW.replace(tzinfo=None))


def test_example_fixture_loads_and_serves():
    portal = load_fixture(EXAMPLE)
    assert [p.id for p in portal.people] == ["p1", "p2", "p3", "p4"]
    emulator = HubSpotEmulator(portal, token="t", clock=lambda: NOW)
    dana = emulator.contact(emulator.contact_id("p1"))
    assert dana["hs_analytics_num_page_views"] == "2"
    assert dana["recent_conversion_event_name"] == "Demo request"
    assert emulator.contact(emulator.contact_id("p4"))["hs_lead_status"] == "ATTEMPTED_TO_CONTACT"


def test_relative_times_follow_now():
    portal = load_fixture(EXAMPLE, now=NOW)
    assert portal.activities[0].occurred_at == NOW - timedelta(days=3)
    assert portal.tasks[0].due_at == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "owners: [{id: o1, email: a@b.c, first_name: A, last_name: B, team: x}]",
            "owners[0].team",
        ),
        (
            "people: [{id: p1, first_name: A, last_name: B, email: a@b.c, created_at: -1d, company: c9}]",
            "people[0].company",
        ),
        (
            "people: [{id: p1, first_name: A, last_name: B, email: a@b.c, created_at: '2026-01-01T00:00:00'}]",
            "add Z",
        ),
        (
            "people: [{id: p1, first_name: A, last_name: B, email: a@b.c, created_at: -1d}]",
            "needs `now`",
        ),
        ("activities: [{person: p1, kind: page_view, at: -1d}]", "activities[0].person"),
        (
            "people: [{id: p1, first_name: A, last_name: B, email: a@b.c, created_at: soon}]",
            "not a time",
        ),
        ("- just a list", "top level"),
    ],
)
def test_fixture_errors_name_the_place(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(FixtureError) as caught:
        load_fixture(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
