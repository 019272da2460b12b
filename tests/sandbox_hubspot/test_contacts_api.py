"""Contacts v3 through the real hubspot-api-client: paging, reads, writes, batches, merges."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    SimplePublicObjectInput,
)
from hubspot.crm.contacts.exceptions import NotFoundException

from sandbox.hubspot.schema import ms_of


def _all_ids(client, **kwargs) -> list[str]:
    ids, after = [], None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=7, after=after, **kwargs)
        ids += [c.id for c in page.results]
        if page.paging is None:
            return ids
        after = page.paging.next.after


def test_list_pages_to_the_end_without_gaps_or_repeats(client, emulator, seeded_portal):
    ids = _all_ids(client)
    assert len(ids) == len(set(ids)) == len(seeded_portal.people)
    assert set(ids) == {emulator.contact_id(p.id) for p in seeded_portal.people}


def test_list_default_limit_is_10_and_max_is_100(client):
    assert len(client.crm.contacts.basic_api.get_page().results) == 10
    assert len(client.crm.contacts.basic_api.get_page(limit=500).results) == 100


def test_list_returns_requested_properties_and_associations(client, emulator, seeded_portal):
    person = next(p for p in seeded_portal.people if p.company_id)
    page = client.crm.contacts.basic_api.get_page(
        limit=100, properties=["email", "jobtitle"], associations=["companies"]
    )
    found = next(c for c in page.results if c.id == emulator.contact_id(person.id))
    assert found.properties["email"] == person.email
    assert set(found.properties) == {"email", "jobtitle"}
    assert found.associations["companies"].results[0].type == "contact_to_company"
    assert found.created_at.tzinfo is not None and found.archived is False


def test_get_by_id_and_404(client, emulator, seeded_portal):
    person = seeded_portal.people[3]
    contact = client.crm.contacts.basic_api.get_by_id(
        emulator.contact_id(person.id), properties=["email", "lastmodifieddate"]
    )
    assert contact.properties["email"] == person.email
    assert contact.properties["lastmodifieddate"].endswith("Z")
    with pytest.raises(NotFoundException) as caught:
        client.crm.contacts.basic_api.get_by_id("999999")
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_get_by_email_as_id_property(client, emulator, seeded_portal):
    """hubspot-api-client percent-encodes the path segment (`@` -> `%40`); HubSpot decodes it."""
    person = seeded_portal.people[3]
    contact = client.crm.contacts.basic_api.get_by_id(
        person.email, id_property="email", properties=["email"]
    )
    assert contact.id == emulator.contact_id(person.id)
    assert contact.properties["email"] == person.email


def test_update_bumps_lastmodifieddate_with_millisecond_precision(client, emulator, clock):
    contact_id = emulator.contact_id("p1")
    clock.advance(1.234)
    updated = client.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"handoff_score": "71"})
    )
    assert updated.properties["handoff_score"] == "71"
    assert updated.updated_at.timestamp() * 1000 == pytest.approx(ms_of(clock.now))
    assert emulator.contact(contact_id)["lastmodifieddate"] == clock.now.strftime(
        "%Y-%m-%dT%H:%M:%S.234Z"
    )


def test_update_of_unknown_property_is_a_400_property_doesnt_exist(client, emulator):
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.update(
            emulator.contact_id("p1"), SimplePublicObjectInput(properties={"no_such_prop": "1"})
        )
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert body["errors"][0]["in"] == "no_such_prop"


def test_lifecycle_stage_is_forward_only_unless_cleared(client, emulator):
    contact_id = emulator.contact_id("p2")
    api = client.crm.contacts.basic_api
    api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "opportunity"}))
    back = api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    assert back.properties["lifecyclestage"] == "opportunity"  # accepted (200) but ignored
    api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": ""}))
    api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    assert emulator.contact(contact_id)["lifecyclestage"] == "lead"


def test_batch_update_207_reports_each_failed_input(client, emulator):
    good, bad_prop = emulator.contact_id("p1"), emulator.contact_id("p2")
    result = client.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                {"id": good, "properties": {"handoff_score": "12"}},
                {"id": bad_prop, "properties": {"handoff_score": "twelve"}},
                {"id": "424242", "properties": {"firstname": "Ghost"}},
            ]
        )
    )
    assert result.num_errors == 2
    by_id = {e.context["ids"][0]: e for e in result.errors}
    assert by_id[bad_prop].category == "VALIDATION_ERROR"
    assert by_id["424242"].category == "OBJECT_NOT_FOUND"
    assert [r.id for r in result.results] == [good]
    assert emulator.contact(good)["handoff_score"] == "12"
    assert emulator.contact(bad_prop).get("handoff_score") is None


def test_batch_update_all_ok_is_200_and_shares_one_timestamp(client, emulator, clock):
    ids = [emulator.contact_id(f"p{n}") for n in range(1, 6)]
    clock.advance(5)
    data, status, _headers = client.crm.contacts.batch_api.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": i, "properties": {"handoff_score": "50"}} for i in ids]
        )
    )
    assert status == 200 and not getattr(data, "errors", None)
    stamps = {emulator.contact(i)["lastmodifieddate"] for i in ids}
    assert len(stamps) == 1


def test_batch_over_100_inputs_is_a_400(client, emulator):
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[{"id": str(i), "properties": {"firstname": "x"}} for i in range(101)]
            )
        )
    assert caught.value.status == 400


def test_all_or_nothing_mode_rejects_the_whole_batch(client, emulator):
    emulator.batch_all_or_nothing = True
    good = emulator.contact_id("p1")
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    {"id": good, "properties": {"handoff_score": "99"}},
                    {"id": good, "properties": {"nope": "1"}},
                ]
            )
        )
    assert caught.value.status == 400
    assert emulator.contact(good).get("handoff_score") is None


def test_batch_read_with_unknown_id_is_207(client, emulator):
    known = emulator.contact_id("p4")
    result = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": known}, {"id": "31337"}],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert [r.id for r in result.results] == [known]
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context["ids"] == ["31337"]


def test_batch_upsert_by_email_creates_and_updates(client, emulator, seeded_portal):
    existing = seeded_portal.people[0].email
    result = client.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": existing, "idProperty": "email", "properties": {"jobtitle": "CRO"}},
                {
                    "id": "new.person@example.org",
                    "idProperty": "email",
                    "properties": {"firstname": "New"},
                },
            ]
        )
    )
    flags = sorted(r.new for r in result.results)
    assert flags == [False, True]
    assert emulator.contact(emulator.contact_id(seeded_portal.people[0].id))["jobtitle"] == "CRO"


def test_merge_survivor_keeps_ids_and_merged_id_resolves(client, emulator):
    primary, secondary = emulator.contact_id("p5"), emulator.contact_id("p6")
    merged = client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=secondary)
    )
    assert merged.id == primary
    assert secondary in merged.properties["hs_merged_object_ids"].split(";")
    assert client.crm.contacts.basic_api.get_by_id(secondary).id == primary
    assert secondary not in _all_ids(client)


def test_archive_hides_from_list_and_shows_in_archived_listing(client, emulator):
    contact_id = emulator.contact_id("p7")
    client.crm.contacts.basic_api.archive(contact_id)
    assert contact_id not in _all_ids(client)
    archived = _all_ids(client, archived=True)
    assert archived == [contact_id]
    with pytest.raises(NotFoundException):
        client.crm.contacts.basic_api.get_by_id(contact_id)
    assert client.crm.contacts.basic_api.get_by_id(contact_id, archived=True).archived is True


def test_create_duplicate_email_is_409(client, seeded_portal):
    from hubspot.crm.contacts import SimplePublicObjectInputForCreate

    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": seeded_portal.people[0].email})
        )
    assert caught.value.status == 409


def test_test_helpers_update_merge_archive_and_activity_bump(emulator, clock):
    contact_id = emulator.contact_id("p8")
    before = emulator.contact(contact_id)["lastmodifieddate"]
    clock.advance(60)
    emulator.add_activity(
        contact_id, "page_view", clock.now, properties={"url": "https://x/pricing"}
    )
    after = emulator.contact(contact_id)
    assert after["lastmodifieddate"] > before
    assert after["hs_analytics_last_url"] == "https://x/pricing"
    emulator.update_contact(contact_id, {"lifecyclestage": "subscriber"})  # a human may go back
    assert emulator.contact(contact_id)["lifecyclestage"] == "subscriber"


def test_an_older_activity_does_not_roll_back_latest_rollups(emulator, clock):
    contact_id = emulator.contact_id("p8")
    emulator.add_activity(contact_id, "page_view", clock.now, properties={"url": "https://x/new"})
    views = int(emulator.contact(contact_id)["hs_analytics_num_page_views"])
    emulator.add_activity(
        contact_id, "page_view", clock.now - timedelta(days=30), properties={"url": "https://x/old"}
    )
    contact = emulator.contact(contact_id)
    assert contact["hs_analytics_last_url"] == "https://x/new"
    assert int(contact["hs_analytics_num_page_views"]) == views + 1
    assert contact["hs_analytics_last_visit_timestamp"].startswith(
        clock.now.strftime("%Y-%m-%dT%H")
    )


def test_summary_counts_what_the_portal_holds(client, emulator, seeded_portal):
    before = emulator.summary()
    assert before["contacts"] == len(seeded_portal.people)
    assert before.get("contacts scored by Handoff", 0) == 0
    client.crm.contacts.basic_api.update(
        emulator.contact_id("p1"), SimplePublicObjectInput(properties={"handoff_score": "70"})
    )
    assert emulator.summary()["contacts scored by Handoff"] == 1
