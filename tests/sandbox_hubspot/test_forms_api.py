"""The Forms API on every tier: form definitions, submissions newest first with their paging
limits, and the contact analytics history the Professional path reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId

from sandbox.fixture import load_fixture
from sandbox.hubspot import HubSpotEmulator
from sandbox.hubspot.forms_api import form_guid
from tests.sandbox_hubspot.conftest import TOKEN

FIXTURE = """
now: "2026-11-20T12:00:00Z"
tier: starter
owners: [{id: o1, email: maya@handoff-demo.com, first_name: Maya, last_name: Patel}]
people:
  - {id: p1, first_name: Ana, last_name: Lee, email: ana@acme.io, title: VP, created_at: -30d}
activities:
  - {person: p1, kind: page_view, at: -3d, properties: {url: "https://acme.io/blog"}}
  - {person: p1, kind: page_view, at: -2d, properties: {url: "https://acme.io/pricing"}}
  - {person: p1, kind: form_submission, at: -1d,
     properties: {form_name: Request a demo, url: "https://acme.io/demo", asset_stage: bottom}}
"""


def _all_forms(client) -> list[dict]:
    forms, after = [], None
    while True:
        kwargs = {"limit": 2, "_preload_content": False}
        if after:
            kwargs["after"] = after
        page = json.loads(client.marketing.forms.forms_api.get_page(**kwargs).data)
        forms += page["results"]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            return forms


def test_forms_list_in_pages_on_every_tier(client, emulator, seeded_portal):
    names = {
        a.properties["form_name"] for a in seeded_portal.activities if a.kind == "form_submission"
    }
    for tier in ("starter", "professional", "enterprise"):
        emulator.tier = tier
        forms = _all_forms(client)
        assert {f["name"] for f in forms} == names
        assert len({f["id"] for f in forms}) == len(forms)
        assert all(f["formType"] == "hubspot" and f["archived"] is False for f in forms)


def test_submissions_newest_first_with_email_page_url_and_paging(raw, emulator, seeded_portal):
    demo = form_guid("Newsletter signup")
    expected = sorted(
        (
            a
            for a in seeded_portal.activities
            if a.kind == "form_submission" and a.properties["form_name"] == "Newsletter signup"
        ),
        key=lambda a: a.occurred_at,
        reverse=True,
    )
    assert len(expected) > 5
    seen, after = [], None
    path = f"/form-integrations/v1/submissions/forms/{demo}"
    while True:
        body = raw.json(raw.get(path, {"limit": 5, **({"after": after} if after else {})}))
        assert len(body["results"]) <= 5
        seen += body["results"]
        after = (body.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    assert [s["submittedAt"] for s in seen] == sorted(
        (s["submittedAt"] for s in seen), reverse=True
    )
    assert len(seen) == len(expected)
    people = {p.id: p for p in seeded_portal.people}
    first = seen[0]
    values = {v["name"]: v["value"] for v in first["values"]}
    assert values["email"] == people[expected[0].person_id].email
    assert first["pageUrl"] == expected[0].properties["url"] and first["conversionId"]


def test_submission_limits_and_unknown_forms_are_refused(raw, emulator):
    path = f"/form-integrations/v1/submissions/forms/{form_guid('Newsletter signup')}"
    assert raw.get(path, {"limit": 50}).status == 200
    for bad in (51, 0, "x"):
        response = raw.get(path, {"limit": bad})
        assert response.status == 400 and raw.json(response)["category"] == "VALIDATION_ERROR"
    missing = raw.get("/form-integrations/v1/submissions/forms/no-such-form")
    assert missing.status == 404 and raw.json(missing)["status"] == "error"


def test_fixture_tier_last_url_history_and_hidden_fields(tmp_path: Path, holder, client):
    path = tmp_path / "portal.yaml"
    path.write_text(FIXTURE)
    portal = load_fixture(path)
    slot, _ = holder
    slot.emulator = emulator = HubSpotEmulator(portal, token=TOKEN)
    assert emulator.tier == "starter"
    assert HubSpotEmulator(portal, token="t", tier="enterprise").tier == "enterprise"
    contact = emulator.contact_id("p1")
    body = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": contact}],
        properties=["hs_analytics_last_url"],
        properties_with_history=["hs_analytics_last_url"],
    )
    read = client.crm.contacts.batch_api.read(body, _preload_content=False)
    row = json.loads(read.data)["results"][0]
    history = row["propertiesWithHistory"]["hs_analytics_last_url"]
    assert [h["value"] for h in history] == ["https://acme.io/pricing", "https://acme.io/blog"]
    assert row["properties"]["hs_analytics_last_url"] == "https://acme.io/pricing"
    too_many = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": str(i)} for i in range(51)],
        properties=[],
        properties_with_history=["hs_analytics_last_url"],
    )
    with pytest.raises(Exception) as caught:
        client.crm.contacts.batch_api.read(too_many)
    assert "property histories is 50" in str(caught.value.body)
    guid = form_guid("Request a demo")
    raw_page = client.marketing.forms.forms_api.get_page(_preload_content=False)
    assert [f["id"] for f in json.loads(raw_page.data)["results"]] == [guid]
