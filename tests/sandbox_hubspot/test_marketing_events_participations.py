"""The Marketing Events API (tier FREE in HubSpot's spec) on a Starter portal: the portal's events,
each event's participations and a contact's (by id or email), current state per webinar, paged
by `limit` (1-100) and `after`; and the connector's webinar source reading it event by event
through hubspot-api-client."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from config.connections import ActivityMapping
from connectors.hubspot.webinars import WebinarParticipations
from connectors.mapping import parse_timestamp
from sandbox.fixture import load_fixture
from sandbox.hubspot import HubSpotEmulator
from tests.sandbox_hubspot.conftest import TOKEN

FIXTURE = """
now: "2026-11-20T12:00:00Z"
tier: starter
owners: [{id: o1, email: maya@handoff-demo.com, first_name: Maya, last_name: Patel}]
people:
  - {id: p1, first_name: Ana, last_name: Lee, email: ana@acme.io, title: VP, created_at: -30d}
  - {id: p2, first_name: Bo, last_name: Kim, email: bo@acme.io, title: VP, created_at: -30d}
activities:
  - {person: p1, kind: webinar_registered, at: -9d, properties: {webinar_name: Routing live}}
  - {person: p1, kind: webinar_attended, at: -7d, properties: {webinar_name: Routing live}}
  - {person: p1, kind: webinar_registered, at: -3d, properties: {webinar_name: SLA ladders}}
"""
PATH = "/marketing/v3/marketing-events/participations/contacts/{}/breakdown"


def _portal(tmp_path: Path, holder) -> HubSpotEmulator:
    path = tmp_path / "portal.yaml"
    path.write_text(FIXTURE)
    slot, _ = holder
    slot.emulator = emulator = HubSpotEmulator(load_fixture(path), token=TOKEN)
    return emulator


def test_participations_by_id_and_email_in_pages_below_enterprise(tmp_path, holder, client, raw):
    emulator = _portal(tmp_path, holder)
    assert emulator.tier == "starter"
    api = client.marketing.events.retrieve_participant_state_api
    contact = emulator.contact_id("p1")
    rows, after = [], None
    while True:
        kwargs = {"limit": 1, "_preload_content": False, **({"after": after} if after else {})}
        page = json.loads(api.get_participations_breakdown_by_contact_id(contact, **kwargs).data)
        assert len(page["results"]) <= 1 and page["total"] == 2
        rows += page["results"]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    states = {r["associations"]["marketingEvent"]["name"]: r["properties"] for r in rows}
    assert {n: s["attendanceState"] for n, s in states.items()} == {
        "Routing live": "ATTENDED",
        "SLA ladders": "REGISTERED",
    }
    assert states["Routing live"]["occurredAt"].startswith("2026-11-13")  # the attendance
    by_email = raw.json(raw.get(PATH.format("ana@acme.io"), {"limit": 100}))
    assert [r["id"] for r in by_email["results"]] == [r["id"] for r in rows]
    assert raw.json(raw.get(PATH.format(emulator.contact_id("p2"))))["results"] == []
    events = client.marketing.events.basic_api.get_all(limit=100, _preload_content=False)
    listed = {e["eventName"]: e["objectId"] for e in json.loads(events.data)["results"]}
    assert set(listed) == {"Routing live", "SLA ladders"}
    one = api.get_participations_breakdown_by_marketing_event_id(
        int(listed["Routing live"]), limit=100, _preload_content=False
    )
    [row] = json.loads(one.data)["results"]
    assert row["associations"]["contact"]["contactId"] == contact
    assert row["properties"]["attendanceState"] == "ATTENDED"
    missing = raw.get("/marketing/v3/marketing-events/participations/1/breakdown")
    assert missing.status == 404 and raw.json(missing)["status"] == "error"
    for bad in (0, 101, "x"):
        response = raw.get(PATH.format(contact), {"limit": bad})
        assert response.status == 400 and raw.json(response)["category"] == "VALIDATION_ERROR"


def test_connector_maps_attended_and_registered_to_canonical_keys(tmp_path, holder, client):
    emulator = _portal(tmp_path, holder)
    mappings = {
        s: [ActivityMapping(source=s, kind=s)] for s in ("webinar_registered", "webinar_attended")
    }
    reader = WebinarParticipations(SimpleNamespace(client=client, name="hs"), mappings)  # type: ignore[arg-type]
    contact = emulator.contact_id("p1")
    assert list(reader.for_contacts([emulator.contact_id("p2")], None)) == []
    found = list(reader.stream(None))
    got = {(a.kind, a.properties["webinar_name"], a.properties["member_status"]) for a in found}
    assert got == {
        ("webinar_attended", "Routing live", "attended"),
        ("webinar_registered", "SLA ladders", "registered"),
    }
    since = parse_timestamp("2026-11-15T00:00:00Z")
    assert [a.properties["webinar_name"] for a in reader.for_contacts([contact], since)] == [
        "SLA ladders"
    ]
