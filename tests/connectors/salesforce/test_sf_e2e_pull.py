"""End to end, pulls and limits: the real simple-salesforce against the Salesforce emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sf_world import N_LEADS, NOW, T0, Clock, change, ids, lead_id, portal

from connectors.errors import AuthError, QuotaExhaustedError
from connectors.records import (
    ActivityKind,
    Actor,
    RecordEventKind,
)
from connectors.salesforce import SalesforceConnector
from sandbox.faults import Faults
from sandbox.salesforce.emulator import SalesforceEmulator
from sandbox.salesforce.ids import derived_id
from tests.connectors.sf_harness import build_salesforce_connector


def test_full_pull_pages_at_200_in_stable_order_with_cursor_at_run_start(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    batches = list(connector.pull_contacts("lead", None, NOW))
    contacts = [c for b in batches for c in b.contacts]
    assert len(contacts) == N_LEADS == len(set(ids(batches)))
    keys = [(c.modified_at, c.id) for c in contacts]
    assert keys == sorted(keys)
    assert [len(b.contacts) for b in batches] == [200, 200, 50]
    cursors = [b.cursor for b in batches]
    assert cursors == sorted(cursors) and cursors[-1] == NOW  # type: ignore[type-var]
    assert emulator.log.total("queryAll") == 1 and emulator.log.total("query_more") == 2
    assert emulator.log.total("query") == 0  # deleted records come in the same stream
    first = next(c for c in contacts if c.id == lead_id(1))
    assert first.fields["lead_status"] == "mql" and first.fields["company_size"] == 300
    assert first.owner_id == derived_id("User", "o1")
    [contact] = [c for b in connector.pull_contacts("contact", None, NOW) for c in b.contacts]
    assert contact.email == "cara@globex.test" and contact.object_type == "contact"


def test_overlap_rereads_records_sharing_the_cursor_timestamp(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, _ = sf
    cut = T0 + timedelta(minutes=20)
    first = list(connector.pull_contacts("lead", None, cut))
    assert len(ids(first)) == 210  # every record up to and including the cut's ten
    assert first[-1].cursor == cut
    second = list(connector.pull_contacts("lead", first[-1].cursor, NOW))
    again = ids(second)
    assert len(again) == len(set(again))
    reread = set(again) & set(ids(first))
    assert reread == {lead_id(i) for i in range(150, 210)}  # the 5-minute overlap, inclusive
    assert set(again) | set(ids(first)) == {lead_id(i) for i in range(N_LEADS)}


def test_a_record_updated_during_the_run_is_picked_up_next_run(
    sf: tuple[SalesforceConnector, SalesforceEmulator], clock: Clock
) -> None:
    connector, emulator = sf
    until = clock.at
    seen: list[str] = []
    cursor = None
    for number, batch in enumerate(connector.pull_contacts("lead", None, until)):
        seen.extend(c.id for c in batch.contacts)
        cursor = batch.cursor
        if number == 0:
            clock.at = until + timedelta(seconds=30)
            emulator.update_record(lead_id(5), Title="Chief Revenue Officer")  # already read
            emulator.update_record(lead_id(440), Title="VP Marketing")  # not read yet
    assert len(seen) == N_LEADS == len(set(seen))
    assert cursor == until
    later = {
        c.id: c
        for b in connector.pull_contacts("lead", cursor, clock.at + timedelta(minutes=1))
        for c in b.contacts
    }
    assert later[lead_id(5)].fields["title"] == "Chief Revenue Officer"
    assert later[lead_id(440)].fields["title"] == "VP Marketing"


def test_merge_delete_and_conversion_become_events(
    sf: tuple[SalesforceConnector, SalesforceEmulator], clock: Clock
) -> None:
    connector, emulator = sf
    since = clock.at
    clock.at += timedelta(minutes=1)
    emulator.merge("Lead", lead_id(1), [lead_id(2)])
    emulator.delete_record(lead_id(3))
    contact_id = emulator.convert_lead(lead_id(4))
    clock.at += timedelta(minutes=1)
    batches = list(connector.pull_contacts("lead", since, clock.at))
    events = {(e.record_id, e.kind): e for b in batches for e in b.events}
    assert events[(lead_id(2), RecordEventKind.MERGED)].survivor_id == lead_id(1)
    assert (lead_id(3), RecordEventKind.DELETED) in events
    converted = events[(lead_id(4), RecordEventKind.CONVERTED)]
    assert converted.survivor_id == contact_id and converted.survivor_object_type == "contact"
    assert lead_id(4) not in ids(batches)
    assert emulator.log.total("queryAll") == 1


def test_activities_and_owners(sf: tuple[SalesforceConnector, SalesforceEmulator]) -> None:
    connector, _ = sf
    people = [
        c
        for t in ("lead", "contact")
        for b in connector.pull_contacts(t, None, NOW)
        for c in b.contacts
    ]
    found = {(a.contact_id, a.kind): a for a in connector.pull_activities(people, None)}
    call = found[(lead_id(1), ActivityKind.CALL)]
    assert call.actor is Actor.REP and call.owner_id == derived_id("User", "o1")
    assert found[(lead_id(1), ActivityKind.WEBINAR_ATTENDED)].actor is Actor.CONTACT
    assert (lead_id(2), ActivityKind.WEBINAR_REGISTERED) in found
    assert (derived_id("Contact", "c0001"), ActivityKind.MEETING) in found
    assert len(found) == 4  # page views have no Salesforce object
    since_later = list(connector.pull_activities(people, T0 + timedelta(minutes=2, seconds=30)))
    assert {a.kind for a in since_later} == {ActivityKind.MEETING, ActivityKind.WEBINAR_REGISTERED}
    owners = {o.email: o for o in connector.pull_owners()}
    assert owners["ana@acme.test"].active and not owners["bo@acme.test"].active
    assert all("integration" not in (o or "") for o in owners)  # not a rep


def test_transient_5xx_and_throttles_are_retried(clock: Clock) -> None:
    faults = Faults(error_rate=0.25, throttle_rate=0.15, seed=7)
    connector, emulator, stop = build_salesforce_connector(
        portal(), emulator_options={"clock": clock, "faults": faults}
    )
    try:
        contacts = ids(list(connector.pull_contacts("lead", None, NOW)))
        assert len(contacts) == N_LEADS == len(set(contacts))
        assert connector.usage.retries > 0
        assert emulator.log.total(status=500) + emulator.log.total(status=503) > 0
        outcomes = connector.apply_changes([change(i, "score", 50) for i in range(N_LEADS)])
        assert all(o.ok for o in outcomes)
    finally:
        stop()


def test_an_expired_given_session_fails_loudly(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    emulator.expire_sessions()
    with pytest.raises(AuthError, match=r"salesforce\.session_id") as info:
        list(connector.pull_contacts("lead", None, NOW))
    assert "HARNESS-SESSION" not in str(info.value)


@pytest.mark.parametrize("auth", ["password", "client_credentials", "jwt"])
def test_an_expired_session_is_refreshed_when_the_auth_can_log_in(clock: Clock, auth: str) -> None:
    connector, emulator, stop = build_salesforce_connector(
        portal(30), auth=auth, emulator_options={"clock": clock}
    )
    try:
        assert len(connector.pull_owners()) == 3  # standard users only, not the integration user
        emulator.expire_sessions()
        assert len(ids(list(connector.pull_contacts("lead", None, NOW)))) == 30
        assert emulator.log.total("oauth.token", 200) == 2
    finally:
        stop()


def test_revoked_credentials_fail_with_the_fix(clock: Clock) -> None:
    connector, _emulator, stop = build_salesforce_connector(
        portal(5), auth="password", password="wrong", emulator_options={"clock": clock}
    )
    try:
        with pytest.raises(AuthError, match="Fix") as info:
            connector.pull_owners()
        assert "wrong" not in str(info.value)
    finally:
        stop()


def test_quota_exhausted_stops_cleanly(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    emulator.set_api_usage(99_999, 100_000)
    connector.session.budget.reserve = 0.0
    with pytest.raises(QuotaExhaustedError):
        list(connector.pull_contacts("lead", None, NOW))
    assert emulator.log.total(status=403) == 1


def test_budget_reserve_stops_before_spending_it(
    sf: tuple[SalesforceConnector, SalesforceEmulator],
) -> None:
    connector, emulator = sf
    emulator.set_api_usage(89_000, 100_000)  # 11% left; the default reserve is 10%
    batches = connector.pull_contacts("lead", None, NOW)
    first = next(batches)
    assert len(first.contacts) == 200
    emulator.set_api_usage(95_000)
    with pytest.raises(QuotaExhaustedError, match="daily_budget_reserve"):
        list(batches)
    assert emulator.log.total("query_more") == 1  # the call that revealed 95% used


def test_a_dropped_query_cursor_is_reopened_from_the_newest_timestamp(clock: Clock) -> None:
    connector, emulator, stop = build_salesforce_connector(
        portal(),
        emulator_options={"clock": clock, "max_open_cursors": 1},
        connector_options={"page_size": 200},
    )
    try:
        first = connector.pull_contacts("lead", None, NOW)
        seen = [c.id for c in next(first).contacts]
        other = connector.pull_contacts("lead", None, NOW)
        next(other)  # opens a second cursor: Salesforce releases the first one
        seen += [c.id for b in first for c in b.contacts]
        assert len(seen) == N_LEADS == len(set(seen))
        assert emulator.log.total("query_more", 400) == 1
        assert emulator.log.total("queryAll") == 3  # first, other, and the reopened query
    finally:
        stop()
