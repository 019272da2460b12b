"""A full sync reads each contact's companies and engagements from the contact list pages
(`associations=`) instead of v4 associations batch reads, with the same outcome; a contact with
more links of a type than one list page shows (100) is read through v4 as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hs_harness import build_hubspot_connector
from portal_data import base_time, demo_portal

from connectors.hubspot import HubSpotConnector
from connectors.records import Activity, Contact
from sandbox.portal import PortalActivity

V4 = "/crm/v4/associations/"


def _full(connector: HubSpotConnector) -> tuple[list[Contact], list[Activity]]:
    now = datetime.now(UTC)
    connector.begin_accounts()
    contacts = [c for b in connector.pull_contacts("contact", None, now) for c in b.contacts]
    with_accounts = connector.with_accounts(contacts)
    return with_accounts, list(connector.pull_activities(with_accounts, None))


def _v4_calls(connector: HubSpotConnector) -> dict[str, int]:
    return {k: n for k, n in connector.usage.calls.items() if V4 in k}


def _key(activities: list[Activity]) -> set[tuple[str, str, str]]:
    return {(a.id, a.contact_id, a.kind) for a in activities}


def test_full_sync_takes_links_from_the_list_pages_with_the_same_outcome() -> None:
    portal = demo_portal(base_time())
    inline, _, stop = build_hubspot_connector(portal)
    try:
        contacts, activities = _full(inline)
        assert _v4_calls(inline) == {}
        assert any(
            k.startswith("POST /crm/v3/objects/calls/batch/read") for k in inline.usage.calls
        )
        listed = {k: n for k, n in inline.usage.calls.items() if "/crm/v3/objects/contacts" in k}
        assert listed, inline.usage.calls
    finally:
        stop()
    reference, _, stop = build_hubspot_connector(portal)
    reference._inline.wanted = ()  # list pages without associations: every link through v4
    try:
        again, expected = _full(reference)
        assert _v4_calls(reference)  # the reference really took the other road
    finally:
        stop()
    assert activities and _key(activities) == _key(expected)
    assert {c.id: dict(c.fields) for c in contacts} == {c.id: dict(c.fields) for c in again}
    assert any(k.startswith("account") and v for c in contacts for k, v in c.fields.items())


def test_a_contact_with_more_links_than_a_list_page_shows_is_read_through_v4() -> None:
    base = base_time()
    portal = demo_portal(base)
    busy = portal.people[0]
    portal.activities += [
        PortalActivity(
            id=f"busy-call-{n}",
            person_id=busy.id,
            kind="call",
            occurred_at=base - timedelta(hours=n),
        )
        for n in range(130)
    ]
    connector, emulator, stop = build_hubspot_connector(portal)
    try:
        _, activities = _full(connector)
        busy_id = emulator.contact_id(busy.id)
        calls = [a for a in activities if a.contact_id == busy_id and a.id.startswith("calls:")]
        assert len(calls) >= 130
        assert {k: n for k, n in _v4_calls(connector).items() if "/calls/" in k}
        assert not {k for k in _v4_calls(connector) if "/emails/" in k or "/companies/" in k}
    finally:
        stop()


def test_the_links_kept_for_the_pages_in_hand_are_compact() -> None:
    """40 pages of 100 contacts with 20 links each (what a full sync holds at most while the
    activities are read): kept as (id, type) tuples, a few MB, not the list pages' dicts."""
    import json
    import tracemalloc

    from connectors.hubspot.inline_links import PAGES_KEPT, InlineLinks

    links = InlineLinks()
    links.wanted = ("companies", "calls", "emails", "meetings", "notes")
    pages = [
        json.dumps(
            [
                {
                    "id": str(contact),
                    "associations": {
                        to_type: {
                            "results": [
                                {"id": str(contact * 100 + n), "type": f"contact_to_{to_type}"}
                                for n in range(4)
                            ]
                        }
                        for to_type in links.wanted
                    },
                }
                for contact in range(page * 100, page * 100 + 100)
            ]
        )
        for page in range(PAGES_KEPT)
    ]
    tracemalloc.start()
    try:
        for text in pages:
            links.keep(json.loads(text))  # the page itself is dropped, as the reader does
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(links) == PAGES_KEPT * 100
    known, rest = links.split("calls", ["0", "3999", "4000"])
    assert rest == ["4000"] and [i for i, _ in known["3999"]] == [f"3999{n:02d}" for n in range(4)]
    assert kept < 14_000_000, kept  # ~340 bytes a link as dicts (27 MB here), ~140 as tuples
