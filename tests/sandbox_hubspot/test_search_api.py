"""CRM search through the real client: filters, one sort, paging, the 10,000 cap, limits, lag."""

from __future__ import annotations

import json

import pytest
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from sandbox.hubspot.schema import ms_of


def _search(client, **kwargs):
    return client.crm.contacts.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(**kwargs)
    )


def _flt(name, op, value=None, **extra):
    out = {"propertyName": name, "operator": op, **extra}
    if value is not None:
        out["value"] = value
    return out


def test_incremental_pull_pages_to_the_end_in_lastmodified_order(client, emulator, seeded_portal):
    since = ms_of(min(p.modified_at for p in seeded_portal.people))
    seen, after, total = [], None, None
    while True:
        page = _search(
            client,
            filter_groups=[{"filters": [_flt("lastmodifieddate", "GTE", str(since))]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=["lastmodifieddate", "email"],
            limit=25,
            after=after,
        )
        total = page.total
        seen += page.results
        if page.paging is None:
            break
        after = page.paging.next.after
        assert after.isdigit()
    assert total == len(seen) == len(seeded_portal.people)
    stamps = [r.properties["lastmodifieddate"] for r in seen]
    assert stamps == sorted(stamps)


def test_bare_string_sort_and_descending(client):
    asc = _search(client, sorts=["createdate"], properties=["createdate"], limit=50)
    desc = _search(
        client,
        sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}],
        properties=["createdate"],
        limit=50,
    )
    created = [r.properties["createdate"] for r in asc.results]
    assert created == sorted(created)
    assert [r.properties["createdate"] for r in desc.results] == sorted(
        (r.properties["createdate"] for r in desc.results), reverse=True
    )


def test_two_sorts_are_rejected(client):
    with pytest.raises(ApiException) as caught:
        _search(client, sorts=["createdate", "email"])
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("flt", "expect"),
    [
        (lambda p: _flt("email", "EQ", p.email.upper()), lambda p, q: q.email == p.email),
        (lambda p: _flt("email", "IN", values=[p.email.lower()]), lambda p, q: q.email == p.email),
        (
            lambda p: _flt("email", "NOT_IN", values=[p.email.lower()]),
            lambda p, q: q.email != p.email,
        ),
        (
            lambda p: _flt("email", "CONTAINS_TOKEN", "*@" + p.email.split("@")[1]),
            lambda p, q: q.email.split("@")[1] == p.email.split("@")[1],
        ),
        (lambda p: _flt("hubspot_owner_id", "HAS_PROPERTY"), lambda p, q: q.owner_id is not None),
        (lambda p: _flt("hubspot_owner_id", "NOT_HAS_PROPERTY"), lambda p, q: q.owner_id is None),
        (
            lambda p: _flt(
                "createdate",
                "BETWEEN",
                str(ms_of(p.created_at) - 1000),
                highValue=str(ms_of(p.created_at) + 1000),
            ),
            lambda p, q: abs((q.created_at - p.created_at).total_seconds()) <= 1,
        ),
        (
            lambda p: _flt("createdate", "LT", str(ms_of(p.created_at))),
            lambda p, q: q.created_at < p.created_at,
        ),
        (
            lambda p: _flt("firstname", "NEQ", p.first_name),
            lambda p, q: q.first_name != p.first_name,
        ),
    ],
)
def test_operators_match_the_portal(client, emulator, seeded_portal, flt, expect):
    pivot = next(p for p in seeded_portal.people if p.owner_id)
    page = _search(client, filter_groups=[{"filters": [flt(pivot)]}], limit=200)
    want = {emulator.contact_id(q.id) for q in seeded_portal.people if expect(pivot, q)}
    assert {r.id for r in page.results} == want
    assert page.total == len(want)


def test_groups_are_or_filters_are_and(client, emulator, seeded_portal):
    a, b = seeded_portal.people[0], seeded_portal.people[1]
    page = _search(
        client,
        filter_groups=[
            {"filters": [_flt("email", "EQ", a.email), _flt("firstname", "EQ", a.first_name)]},
            {"filters": [_flt("email", "EQ", b.email)]},
            {"filters": [_flt("email", "EQ", a.email), _flt("firstname", "EQ", "Nobody")]},
        ],
    )
    assert {r.id for r in page.results} == {emulator.contact_id(a.id), emulator.contact_id(b.id)}


def test_filter_limits_are_validation_errors(client):
    too_many_groups = [{"filters": [_flt("email", "HAS_PROPERTY")]}] * 6
    too_many_in_group = [{"filters": [_flt("email", "HAS_PROPERTY")] * 7}]
    too_many_total = [{"filters": [_flt("email", "HAS_PROPERTY")] * 5}] * 4
    for groups in (too_many_groups, too_many_in_group, too_many_total):
        with pytest.raises(ApiException) as caught:
            _search(client, filter_groups=groups)
        assert caught.value.status == 400
        assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_paging_past_10000_results_is_a_400(client):
    assert _search(client, after="9800", limit=200).results == []  # only 120 contacts exist
    with pytest.raises(ApiException) as caught:
        _search(client, after="10000", limit=10)
    assert caught.value.status == 400
    assert "10000" in json.loads(caught.value.body)["message"]


def test_cap_reached_while_paging(client, emulator):
    emulator.search_result_cap = 50
    after, pages = None, 0
    with pytest.raises(ApiException) as caught:
        while True:
            page = _search(client, limit=20, after=after)
            pages += 1
            assert page.total == 120  # total is the full count, the cap limits paging
            after = page.paging.next.after
    assert caught.value.status == 400 and pages == 3


def test_limit_over_200_is_rejected(client):
    with pytest.raises(ApiException) as caught:
        _search(client, limit=201)
    assert caught.value.status == 400


def test_recent_writes_are_not_searchable_until_the_index_catches_up(client, emulator, clock):
    emulator.search_lag_seconds = 30
    contact_id = emulator.contact_id("p9")
    clock.advance(60)
    emulator.update_contact(contact_id, {"jobtitle": "Chief Revenue Officer"})
    query = {"filter_groups": [{"filters": [_flt("jobtitle", "EQ", "Chief Revenue Officer")]}]}
    assert _search(client, **query).total == 0
    clock.advance(31)
    assert [r.id for r in _search(client, **query).results] == [contact_id]


def test_archived_and_merged_contacts_never_appear(client, emulator, seeded_portal):
    gone, merged = seeded_portal.people[10], seeded_portal.people[11]
    emulator.archive_contact(emulator.contact_id(gone.id))
    emulator.merge_contacts(
        emulator.contact_id(seeded_portal.people[12].id), emulator.contact_id(merged.id)
    )
    page = _search(client, limit=200)
    ids = {r.id for r in page.results}
    assert emulator.contact_id(gone.id) not in ids and emulator.contact_id(merged.id) not in ids
    assert page.total == 118


def test_search_has_its_own_per_second_limit(client, emulator):
    emulator.limits_enabled = True
    for _ in range(5):
        _search(client, limit=1)
    with pytest.raises(ApiException) as caught:
        _search(client, limit=1)
    body = json.loads(caught.value.body)
    assert caught.value.status == 429 and body["policyName"] == "SECONDLY"
    assert body["errorType"] == "RATE_LIMIT"
    assert client.crm.contacts.basic_api.get_page(limit=1).results  # other bucket unaffected


def test_contacts_by_their_latest_conversion_oldest_first(client, emulator):
    """`recent_conversion_date` filters (GTE/LTE, epoch ms) and sorts like any datetime property:
    what the fast path's catch-up asks (connectors/hubspot/conversion_search.py)."""
    converted = sorted(
        (o.ms("recent_conversion_date"), str(o.id))
        for o in emulator.store.objects["contacts"].values()
        if o.properties.get("recent_conversion_date")
    )
    assert len(converted) > 20
    low, high = converted[5][0], converted[-5][0]
    page = _search(
        client,
        filter_groups=[
            {
                "filters": [
                    _flt("recent_conversion_date", "GTE", str(low)),
                    _flt("recent_conversion_date", "LTE", str(high)),
                ]
            }
        ],
        sorts=[{"propertyName": "recent_conversion_date", "direction": "ASCENDING"}],
        properties=["recent_conversion_date"],
        limit=200,
    )
    wanted = [ident for at, ident in converted if low <= at <= high]
    assert [r.id for r in page.results] == wanted
    stamps = [ms_of_iso(r.properties["recent_conversion_date"]) for r in page.results]
    assert stamps == sorted(stamps)


def test_the_catch_up_search_reads_past_the_result_cap(client, emulator):
    """More conversions than the cap, pages of 5: re-anchored on each page's newest conversion,
    every contact comes once, oldest first, and no query pages past the cap (a 400). (The
    per-second limit is the connector transport's: off here, for the raw client.)"""
    from datetime import UTC, datetime

    from connectors.hubspot.conversion_search import converted_between

    emulator.search_result_cap = 10
    emulator.limits_enabled = False
    converted = sorted(
        (o.ms("recent_conversion_date"), str(o.id))
        for o in emulator.store.objects["contacts"].values()
        if o.properties.get("recent_conversion_date")
    )
    since = datetime.fromtimestamp(converted[0][0] / 1000, tz=UTC)
    until = datetime.fromtimestamp(converted[-1][0] / 1000, tz=UTC)
    found = list(converted_between(client.crm.contacts.search_api, since, until, page_size=5))
    assert [contact for contact, _ in found] == [ident for _, ident in converted]
    assert [int(at.timestamp() * 1000) for _, at in found] == [at for at, _ in converted]


def ms_of_iso(value):
    from sandbox.hubspot.schema import parse_ms

    return parse_ms(value)
