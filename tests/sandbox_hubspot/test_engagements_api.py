"""Tasks and other engagements, associations v4, owners, properties and the Events API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.objects import (
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.tasks.exceptions import ApiException as TasksApiException
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate

from sandbox.hubspot import HubSpotEmulator
from sandbox.hubspot.schema import ms_of
from tests.sandbox_hubspot.conftest import TOKEN


def _task(contact_id: str, key: str | None = None, **props):
    properties = {"hs_task_subject": "Call back", "hs_timestamp": "2026-11-03T09:00:00Z", **props}
    if key:
        properties["handoff_task_key"] = key
    return SimplePublicObjectInputForCreate(
        properties=properties,
        associations=[
            {
                "to": {"id": contact_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}],
            }
        ],
    )


def test_create_task_associates_it_and_bumps_the_contact(client, emulator, clock):
    contact_id = emulator.contact_id("p3")
    before = emulator.contact(contact_id)["lastmodifieddate"]
    clock.advance(10)
    task = client.crm.objects.tasks.basic_api.create(_task(contact_id, key="hk-1"))
    assert task.properties["hs_timestamp"] == "2026-11-03T09:00:00.000Z"
    assert task.properties["handoff_task_key"] == "hk-1"
    links = client.crm.associations.v4.basic_api.get_page("contacts", contact_id, "tasks")
    assert task.id in {r.to_object_id for r in links.results}
    assert emulator.contact(contact_id)["lastmodifieddate"] > before


def test_task_without_hs_timestamp_is_a_400(client, emulator):
    body = _task(emulator.contact_id("p3"))
    del body.properties["hs_timestamp"]
    with pytest.raises(TasksApiException) as caught:
        client.crm.objects.tasks.basic_api.create(body)
    assert caught.value.status == 400
    assert "hs_timestamp" in json.loads(caught.value.body)["message"]


def test_tasks_searchable_by_task_key_and_contact(client, emulator):
    a, b = emulator.contact_id("p3"), emulator.contact_id("p4")
    made = {
        k: client.crm.objects.tasks.basic_api.create(_task(c, key=k)).id
        for k, c in (("hk-a", a), ("hk-b", b), ("hk-c", b))
    }
    search = client.crm.objects.tasks.search_api.do_search
    eq = search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "handoff_task_key", "operator": "EQ", "value": "hk-b"}
                    ]
                }
            ],
            properties=["handoff_task_key"],
        )
    )
    assert [r.id for r in eq.results] == [made["hk-b"]]
    inn = search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "handoff_task_key",
                            "operator": "IN",
                            "values": ["hk-a", "hk-c"],
                        }
                    ]
                }
            ]
        )
    )
    assert {r.id for r in inn.results} == {made["hk-a"], made["hk-c"]}
    by_contact = search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "associations.contact", "operator": "EQ", "value": b},
                        {"propertyName": "handoff_task_key", "operator": "HAS_PROPERTY"},
                    ]
                }
            ]
        )
    )
    assert {r.id for r in by_contact.results} == {made["hk-b"], made["hk-c"]}


def test_engagement_list_get_and_batch_read(client, emulator, seeded_portal):
    calls = [a for a in seeded_portal.activities if a.kind == "call"]
    assert calls, "the seeded portal has rep calls"
    page = client.crm.objects.calls.basic_api.get_page(limit=100, properties=["hs_call_title"])
    assert len(page.results) == min(100, len(calls))
    one = client.crm.objects.calls.basic_api.get_by_id(
        page.results[0].id, properties=["hs_timestamp"]
    )
    assert one.properties["hs_timestamp"].endswith("Z")
    read = client.crm.objects.calls.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": page.results[0].id}, {"id": "1"}],
            properties=["hs_call_title"],
            properties_with_history=[],
        )
    )
    assert len(read.results) == 1 and read.errors[0].context["ids"] == ["1"]


def test_batch_create_notes(client, emulator):
    from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputForCreate

    contact_id = emulator.contact_id("p2")
    result = client.crm.objects.notes.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {
                    "properties": {"hs_note_body": "hi", "hs_timestamp": "1762000000000"},
                    "associations": [
                        {
                            "to": {"id": contact_id},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}
                            ],
                        }
                    ],
                },
                {"properties": {"hs_note_body": "no timestamp"}},
            ]
        )
    )
    assert len(result.results) == 1 and result.num_errors == 1


def test_associations_v4_paging_and_batch_read(client, emulator, seeded_portal):
    busy = max(
        seeded_portal.people,
        key=lambda p: sum(
            1 for a in seeded_portal.activities if a.person_id == p.id and a.kind in ("email",)
        ),
    )
    contact_id = emulator.contact_id(busy.id)
    api = client.crm.associations.v4.basic_api
    seen, after = [], None
    while True:
        page = api.get_page("contacts", contact_id, "emails", after=after, limit=1)
        seen += [r.to_object_id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    expected = sum(
        1 for a in seeded_portal.activities if a.person_id == busy.id and a.kind == "email"
    )
    assert len(seen) == len(set(seen)) == expected >= 1
    assert page.results[0].association_types[0].type_id == 197
    batch = client.crm.associations.v4.batch_api.get_page(
        "contacts",
        "emails",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": contact_id}]),
    )
    assert {r.to_object_id for r in batch.results[0].to} == set(seen)


def test_owners_active_archived_and_by_id(client, emulator, seeded_portal):
    active = client.crm.owners.owners_api.get_page()
    archived = client.crm.owners.owners_api.get_page(archived=True)
    assert len(active.results) == sum(o.active for o in seeded_portal.owners)
    assert [o.email for o in archived.results] == [
        o.email for o in seeded_portal.owners if not o.active
    ]
    first = seeded_portal.owners[0]
    owner = client.crm.owners.owners_api.get_by_id(emulator.owner_id(first.id))
    assert owner.email == first.email and owner.teams[0].name == first.territory
    paged = client.crm.owners.owners_api.get_page(limit=4)
    assert len(paged.results) == 4 and paged.paging.next.after == "4"


def test_properties_list_get_create_and_conflict(client):
    api = client.crm.properties.core_api
    names = {p.name for p in api.get_all("contacts").results}
    assert {"lifecyclestage", "hs_lead_status", "handoff_score", "lastmodifieddate"} <= names
    stage = api.get_by_name("contacts", "lifecyclestage")
    assert [o.value for o in stage.options][:3] == ["subscriber", "lead", "marketingqualifiedlead"]
    create = PropertyCreate(
        name="handoff_sla_due",
        label="SLA due",
        type="datetime",
        field_type="date",
        group_name="contactinformation",
    )
    made = api.create("contacts", create)
    assert made.name == "handoff_sla_due" and made.hubspot_defined is False
    with pytest.raises(PropertiesApiException) as caught:
        api.create("contacts", create)
    assert caught.value.status == 409


def test_custom_score_properties_only_when_asked(client, holder, seeded_portal, clock):
    slot, _ = holder
    slot.emulator = HubSpotEmulator(
        seeded_portal, token=TOKEN, clock=clock, custom_properties=False
    )
    contact_id = slot.emulator.contact_id("p1")
    update = BatchInputSimplePublicObjectBatchInput(
        inputs=[{"id": contact_id, "properties": {"handoff_score": "80"}}]
    )
    failed = client.crm.contacts.batch_api.update(update)
    assert failed.num_errors == 1 and "PROPERTY_DOESNT_EXIST" in failed.errors[0].message
    client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name="handoff_score",
            label="Score",
            type="number",
            field_type="number",
            group_name="handoff",
        ),
    )
    ok = client.crm.contacts.batch_api.update(update)
    assert not getattr(ok, "errors", None) and ok.results[0].properties["handoff_score"] == "80"


def test_events_are_refused_below_enterprise_with_hubspots_403(raw, emulator):
    # spec Events v3: x-hubspot-product-tier-requirements ENTERPRISE (marketing/sales/service/cms)
    params = {"objectType": "contact", "objectId": emulator.contact_id("p1")}
    for tier in ("starter", "professional"):
        emulator.tier = tier
        response = raw.get("/events/v3/events", params)
        assert response.status == 403
        body = raw.json(response)
        assert body["status"] == "error" and body["category"] == "MISSING_SCOPES"
        assert "web-analytics-api-access" in body["message"] and body["correlationId"]
        assert raw.get("/events/v3/events/event-types", {}).status == 403
    emulator.tier = "enterprise"
    assert raw.get("/events/v3/events", params).status == 200


def test_events_answer_for_one_record_per_query(raw, emulator):
    emulator.tier = "enterprise"
    for params in ({}, {"objectType": "contact"}, {"objectId": emulator.contact_id("p1")}):
        response = raw.get("/events/v3/events", params)
        assert response.status == 400, params
        assert "one CRM record" in raw.json(response)["message"]
    two_types = {
        "objectType": "contact",
        "objectId": emulator.contact_id("p1"),
        "eventType": "e_visited_page,e_submitted_form",
    }
    assert raw.get("/events/v3/events", two_types).status == 400


def test_one_contacts_events_since_a_time_ascending_in_pages(raw, emulator, seeded_portal, clock):
    emulator.tier = "enterprise"
    rep_touches = {"call", "email", "meeting", "note", "task"}
    person = max(
        seeded_portal.people,
        key=lambda p: sum(1 for a in seeded_portal.activities if a.person_id == p.id),
    )
    since = clock.now - timedelta(days=60)
    expected = [
        a
        for a in seeded_portal.activities
        if a.person_id == person.id and a.kind not in rep_touches and a.occurred_at > since
    ]
    assert len(expected) > 3
    seen, after = [], None
    while True:
        params = {
            "objectType": "contact",
            "objectProperty.email": person.email.upper(),
            "occurredAfter": since.isoformat(),
            "limit": 3,
            "sort": "ASCENDING",
        }
        if after:
            params["after"] = after
        body = raw.json(raw.get("/events/v3/events", params))
        seen += body["results"]
        if "paging" not in body:
            break
        after = body["paging"]["next"]["after"]
    assert len(seen) == len({e["id"] for e in seen}) == len(expected)
    assert {e["objectId"] for e in seen} == {emulator.contact_id(person.id)}
    stamps = [e["occurredAt"] for e in seen]
    assert stamps == sorted(stamps)


def test_events_for_one_contact_and_type(raw, emulator, seeded_portal):
    emulator.tier = "enterprise"
    person = max(
        seeded_portal.people,
        key=lambda p: sum(
            1 for a in seeded_portal.activities if a.person_id == p.id and a.kind == "page_view"
        ),
    )
    views = [
        a for a in seeded_portal.activities if a.person_id == person.id and a.kind == "page_view"
    ]
    body = raw.json(
        raw.get(
            "/events/v3/events/",
            {
                "objectType": "contact",
                "objectId": emulator.contact_id(person.id),
                "eventType": "e_visited_page",
                "limit": 1000,
            },
        )
    )
    assert len(body["results"]) == len(views)
    newest = max(views, key=lambda a: a.occurred_at)
    assert body["results"][0]["occurredAt"][:19] == newest.occurred_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert body["results"][0]["properties"]["hs_url"] == newest.properties["url"]


def test_added_activity_appears_in_events_and_bumps_contact(raw, emulator, clock):
    emulator.tier = "enterprise"
    contact_id = emulator.contact_id("p1")
    clock.advance(120)
    emulator.add_activity(
        contact_id, "form_submission", clock.now, properties={"form_name": "Demo request"}
    )
    body = raw.json(
        raw.get(
            "/events/v3/events",
            {
                "objectType": "contact",
                "objectId": contact_id,
                "eventType": "e_submitted_form",
                "limit": 1,
            },
        )
    )
    assert body["results"][0]["properties"]["hs_form_title"] == "Demo request"
    contact = emulator.contact(contact_id)
    assert contact["recent_conversion_event_name"] == "Demo request"
    assert contact["lastmodifieddate"].startswith(clock.now.strftime("%Y-%m-%dT%H:%M"))
    assert ms_of(clock.now) > 0


def test_events_through_the_sdk_events_api(client, emulator, seeded_portal, clock):
    emulator.tier = "enterprise"
    since = clock.now - timedelta(days=30)
    person = seeded_portal.people[0]
    expected = [
        a
        for a in seeded_portal.activities
        if a.person_id == person.id and a.kind == "page_view" and a.occurred_at > since
    ]
    seen, after = [], None
    while True:
        kwargs = {
            "object_type": "contact",
            "object_id": emulator.contact_id(person.id),
            "limit": 1000,
            "sort": ["ASCENDING"],
            "event_type": "e_visited_page",
            "occurred_after": since.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "_preload_content": False,
        }
        if after:
            kwargs["after"] = after
        page = json.loads(client.events.events_api.get_page(**kwargs).data)
        seen += page["results"]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    assert len(seen) == len(expected)
    assert {e["eventType"] for e in seen} <= {"e_visited_page"}


def test_oauth_token_through_the_sdk(client, emulator):
    emulator.register_oauth_app("cid", "secret", "refresh-9")
    raw = client.oauth.tokens_api.create(
        grant_type="refresh_token",
        client_id="cid",
        client_secret="secret",
        refresh_token="refresh-9",
        _preload_content=False,
    )
    assert json.loads(raw.data)["token_type"] == "bearer"
    assert emulator.log.total("oauth.token", 200) == 1


def test_a_backdated_call_logged_now_is_found_by_an_incremental_pull(client, emulator, clock):
    contact_id = emulator.contact_id("p2")
    clock.advance(30)
    since = ms_of(clock.now)
    call_id = emulator.add_activity(
        contact_id, "call", clock.now - timedelta(days=3), properties={"subject": "Recap"}
    )
    found = client.crm.objects.calls.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(since),
                        }
                    ]
                }
            ],
            properties=["hs_timestamp", "hs_call_title", "hs_lastmodifieddate"],
        )
    )
    assert [r.id for r in found.results] == [call_id]
    assert (
        found.results[0].properties["hs_timestamp"]
        < found.results[0].properties["hs_lastmodifieddate"]
    )
