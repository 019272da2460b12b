"""Endpoints the sandbox serves for third-party connectors: paging that reaches every record,
HubSpot's errors for what a portal does not have."""

from __future__ import annotations

from typing import Any


def test_engagements_v1_pages_through_every_v3_engagement(raw, emulator) -> None:
    seen: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = raw.json(
            raw.get("/engagements/v1/engagements/paged", {"limit": 7, "offset": offset})
        )
        seen += page["results"]
        if not page["hasMore"]:
            break
        offset = page["offset"]
    kinds = ("calls", "emails", "meetings", "notes", "tasks")
    expected = sum(len(emulator.store.objects[k]) for k in kinds)
    assert len(seen) == expected == len({e["engagement"]["id"] for e in seen}) > 0
    one = seen[0]
    assert one["engagement"]["type"] in {"CALL", "EMAIL", "MEETING", "NOTE", "TASK"}
    assert isinstance(one["engagement"]["createdAt"], int)  # legacy APIs: epoch milliseconds
    assert one["associations"]["contactIds"]


def test_legacy_properties_answer_a_bare_array_and_404_for_an_unknown_object(raw) -> None:
    deals = raw.json(raw.get("/properties/v2/deal/properties"))
    assert isinstance(deals, list)
    assert {"dealname", "dealstage", "pipeline", "amount"} <= {p["name"] for p in deals}
    contacts = raw.json(raw.get("/properties/v2/contacts/properties"))
    assert "email" in {p["name"] for p in contacts}
    missing = raw.get("/properties/v2/spaceships/properties")
    assert missing.status == 404
    assert raw.json(missing)["message"] == "Unable to infer object type from: spaceships"


def test_pipelines_v3_and_v1_describe_the_same_default_pipelines(raw) -> None:
    v3 = raw.json(raw.get("/crm/v3/pipelines/deals"))["results"][0]
    v1 = raw.json(raw.get("/crm-pipelines/v1/pipelines/deals"))["results"][0]
    assert v3["id"] == v1["pipelineId"] == "default"
    assert [s["id"] for s in v3["stages"]] == [s["stageId"] for s in v1["stages"]]
    won = next(s for s in v3["stages"] if s["id"] == "closedwon")
    assert won["metadata"] == {"isClosed": "true", "probability": "1.0"}
    tickets = raw.json(raw.get("/crm/v3/pipelines/tickets"))["results"][0]
    assert tickets["id"] == "0" and len(tickets["stages"]) == 4
    assert raw.get("/crm/v3/pipelines/spaceships").status == 404


def test_users_and_teams_are_the_owners(raw, emulator) -> None:
    users = raw.json(raw.get("/settings/v3/users", {"limit": 100}))["results"]
    owners = emulator.store.owners.values()
    assert {u["email"] for u in users} == {o.email for o in owners}
    teams = raw.json(raw.get("/settings/v3/users/teams"))["results"]
    members = {uid for team in teams for uid in team["userIds"]}
    assert members == {str(o.user_id) for o in owners if o.territory}


def test_deals_and_tickets_are_empty_objects_with_hubspot_paging(raw) -> None:
    for object_type in ("deals", "tickets", "communications", "products"):
        page = raw.json(raw.get(f"/crm/v3/objects/{object_type}", {"limit": 100}))
        assert page == {"results": []}
    assert raw.json(raw.get("/crm/v3/schemas")) == {"results": []}
