"""HubSpot adapter end to end: the real hubspot-api-client against the emulator over HTTPS."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hs_harness import TOKEN, build_hubspot_connector
from portal_data import base_time, demo_portal

from connectors.errors import AuthError, FatalError, QuotaExhaustedError
from connectors.hubspot import HubSpotConnector
from connectors.records import (
    Contact,
    FieldChange,
    OutcomeStatus,
    RecordEventKind,
    TaskRequest,
)
from sandbox.faults import Faults
from sandbox.hubspot import HubSpotEmulator
from sandbox.portal import Portal, PortalPerson
from sandbox.server import SandboxRequest, SandboxResponse

Built = tuple[HubSpotConnector, HubSpotEmulator]


def _crowd(base: datetime, count: int, *, same_stamp: int = 0) -> Portal:
    """`count` extra people one second apart; the first `same_stamp` of them share one stamp."""
    portal = demo_portal(base)
    for n in range(count):
        offset = 0 if n < same_stamp else n
        portal.people.append(
            PortalPerson(
                id=f"x{n}",
                first_name="Crowd",
                last_name=str(n),
                email=f"crowd{n}@bulk.example",
                title="Engineer",
                company_id=None,
                created_at=base - timedelta(days=40),
                modified_at=base + timedelta(hours=1, seconds=offset),
            )
        )
    return portal


@pytest.fixture
def built(request: pytest.FixtureRequest) -> Iterator[Built]:
    options: dict[str, Any] = getattr(request, "param", {})
    base = base_time()
    portal = options.pop("portal", None) or demo_portal(base)
    connector, emulator, stop = build_hubspot_connector(portal, **options)
    try:
        yield connector, emulator
    finally:
        stop()


def _pull(connector: HubSpotConnector, since: datetime | None, until: datetime) -> list[Any]:
    return list(connector.pull_contacts("contact", since, until))


def _contacts(batches: list[Any]) -> list[Contact]:
    return [c for b in batches for c in b.contacts]


def test_search_cap_is_beaten_by_reanchoring() -> None:
    base = base_time()
    connector, emulator, stop = build_hubspot_connector(_crowd(base, 700))
    try:
        emulator.search_result_cap = 300  # the 10,000 cap, scaled down
        batches = _pull(connector, base, datetime.now(UTC))
        contacts = _contacts(batches)
        crowd = {c.fields["email"] for c in contacts if "bulk" in str(c.fields["email"])}
        assert len(crowd) == 700
        assert len(contacts) == len({c.id for c in contacts})
        assert emulator.log.total("contacts.search", 400) == 0
        searches = emulator.log.total("contacts.search")
        assert searches <= math.ceil(len(contacts) / 200) + 2
    finally:
        stop()


def test_equal_timestamps_beyond_a_page_are_neither_lost_nor_repeated() -> None:
    base = base_time()
    connector, _emulator, stop = build_hubspot_connector(_crowd(base, 450, same_stamp=260))
    try:
        batches = _pull(connector, base + timedelta(minutes=30), datetime.now(UTC))
        contacts = _contacts(batches)
        ids = [c.id for c in contacts]
        assert len(ids) == len(set(ids))
        assert {f"crowd{n}@bulk.example" for n in range(450)} <= {
            c.fields["email"] for c in contacts
        }
        for batch in batches:
            keys = [(c.modified_at, c.id) for c in batch.contacts]
            assert keys == sorted(keys)
    finally:
        stop()


@pytest.mark.parametrize("extra", [-1, 0, 1], ids=["cap-1", "cap", "cap+1"])
def test_more_records_at_one_timestamp_than_the_search_cap(extra: int) -> None:
    """The 10,000-result cap, scaled to 400: 399, 400 and 401 records modified in the same
    millisecond (a bulk import), then 50 more. Offsets would stop at the cap; record-id
    keyset paging inside the timestamp does not."""
    base, cap = base_time(), 400
    shared = cap + extra
    connector, emulator, stop = build_hubspot_connector(
        _crowd(base, shared + 50, same_stamp=shared)
    )
    try:
        emulator.search_result_cap = cap
        batches = _pull(connector, base + timedelta(minutes=30), datetime.now(UTC))
        contacts = _contacts(batches)
        crowd = sorted(str(c.fields["email"]) for c in contacts if "bulk" in str(c.fields["email"]))
        assert crowd == sorted(f"crowd{n}@bulk.example" for n in range(shared + 50))
        assert len(contacts) == len({c.id for c in contacts})
        assert emulator.log.total("contacts.search", 400) == 0
        assert emulator.log.total("contacts.search") <= math.ceil(len(contacts) / 200) + 4
        assert batches[-1].cursor == max(c.modified_at for c in contacts)
    finally:
        stop()


def test_the_newest_changes_come_first_and_only_the_oldest_end_moves_the_cursor() -> None:
    base = base_time()
    connector, _emulator, stop = build_hubspot_connector(_crowd(base, 1000))
    try:
        batches = _pull(connector, base + timedelta(minutes=30), datetime.now(UTC))
        contacts = sorted(_contacts(batches), key=lambda c: (c.modified_at, c.id))
        assert len(contacts) == len({c.id for c in contacts}) >= 1000
        first, second = batches[0], batches[1]
        assert [c.id for c in first.contacts] == [c.id for c in contacts[: len(first.contacts)]]
        assert [c.id for c in second.contacts] == [
            c.id for c in contacts[-len(second.contacts) :]
        ]  # the second page is the window's top: the latest changes
        assert second.cursor is None  # a cut-short run re-reads the top, never skips the middle
        assert first.cursor == first.contacts[-1].modified_at
        cursors = [b.cursor for b in batches if b.cursor is not None]
        assert cursors == sorted(cursors)
        assert batches[-1].cursor == contacts[-1].modified_at
    finally:
        stop()


def test_record_updated_during_the_run_is_not_a_gap() -> None:
    base = base_time()
    connector, emulator, stop = build_hubspot_connector(_crowd(base, 500))
    try:
        until = datetime.now(UTC)
        seen: list[Contact] = []
        moved = None
        for batch in connector.pull_contacts("contact", base, until):
            seen.extend(batch.contacts)
            if moved is None and batch.contacts:
                moved = batch.contacts[0]  # already read: leaves the window, shifts the rest
                emulator.update_contact(moved.id, {"jobtitle": "VP Data"})
        assert moved is not None
        emails = {c.fields["email"] for c in seen}
        assert {f"crowd{n}@bulk.example" for n in range(500)} <= emails
        cursor = max(b for b in [c.modified_at for c in seen])
        later = _contacts(_pull(connector, min(cursor, until), datetime.now(UTC)))
        assert moved.id in {c.id for c in later}
        assert next(c for c in later if c.id == moved.id).fields["title"] == "VP Data"
    finally:
        stop()


def test_partial_failure_207_rejects_only_the_bad_input(built: Built) -> None:
    connector, emulator = built
    contacts = _contacts(_pull(connector, None, datetime.now(UTC)))
    good, bad = contacts[0], contacts[1]
    changes = [
        FieldChange("hubspot", "contact", good.id, "score", 77, key="good"),
        FieldChange("hubspot", "contact", bad.id, "owner_id", "424242", key="bad"),
    ]
    outcomes = connector.apply_changes(changes)
    assert [o.status for o in outcomes] == [OutcomeStatus.APPLIED, OutcomeStatus.REJECTED]
    assert "INVALID_OWNER_ID" in (outcomes[1].error or "") or "owner" in (outcomes[1].error or "")
    assert emulator.contact(good.id)["handoff_score"] == "77"
    assert emulator.log.total("contacts.batch_update") == 1


def test_whole_batch_rejection_is_bisected() -> None:
    connector, emulator, stop = build_hubspot_connector(_crowd(base_time(), 92))
    try:
        contacts = _contacts(_pull(connector, None, datetime.now(UTC)))
        assert len(contacts) == 100
        emulator.batch_all_or_nothing = True  # one bad input -> 400 for all, nothing written
        changes = [
            FieldChange("hubspot", "contact", c.id, "score", 10 + n, key=f"k{n}")
            for n, c in enumerate(contacts)
        ]
        bad = 37
        changes[bad] = replace(changes[bad], field="owner_id", value="999", key="bad")
        emulator.log.reset()
        outcomes = connector.apply_changes(changes)
        statuses = [o.status for o in outcomes]
        assert statuses.count(OutcomeStatus.APPLIED) == 99
        assert statuses[bad] is OutcomeStatus.REJECTED and "999" in (outcomes[bad].error or "")
        # the first call, ceil(log2 100) probes, and at most one final send of the good rest
        assert emulator.log.total("contacts.batch_update") <= 1 + math.ceil(math.log2(100)) + 1
        for n, c in enumerate(contacts):
            if n != bad:
                assert emulator.contact(c.id)["handoff_score"] == str(10 + n)
    finally:
        stop()


def test_lifecycle_regression_clears_then_sets(built: Built) -> None:
    connector, emulator = built
    contact = _contacts(_pull(connector, None, datetime.now(UTC)))[0]
    emulator.update_contact(contact.id, {"lifecyclestage": "salesqualifiedlead"})
    [plain] = connector.apply_changes(
        [FieldChange("hubspot", "contact", contact.id, "lifecycle_stage", "lead", key="a")]
    )
    assert plain.status is OutcomeStatus.APPLIED
    assert emulator.contact(contact.id)["lifecyclestage"] == "salesqualifiedlead"  # ignored
    emulator.log.reset()
    [cleared] = connector.apply_changes(
        [
            FieldChange(
                "hubspot",
                "contact",
                contact.id,
                "lifecycle_stage",
                "lead",
                key="b",
                clear_first=True,
            )
        ]
    )
    assert cleared.status is OutcomeStatus.APPLIED
    assert emulator.contact(contact.id)["lifecyclestage"] == "lead"
    assert emulator.log.total("contacts.batch_update") == 2


def test_merge_archive_and_delete_become_events(built: Built) -> None:
    connector, emulator = built
    start = datetime.now(UTC) - timedelta(seconds=1)
    contacts = _contacts(_pull(connector, None, datetime.now(UTC)))
    survivor, loser, archived, deleted = contacts[:4]
    emulator.merge_contacts(survivor.id, loser.id)
    emulator.archive_contact(archived.id)
    connector.transport.client.crm.contacts.basic_api.archive(deleted.id)
    batches = _pull(connector, start, datetime.now(UTC) + timedelta(seconds=1))
    events = {(e.kind, e.record_id): e for b in batches for e in b.events}
    merged = events[(RecordEventKind.MERGED, loser.id)]
    assert merged.survivor_id == survivor.id
    assert (RecordEventKind.ARCHIVED, archived.id) in events
    assert (RecordEventKind.ARCHIVED, deleted.id) in events
    assert (RecordEventKind.ARCHIVED, loser.id) not in events
    assert survivor.id in {c.id for c in _contacts(batches)}


def test_throttling_429_honours_retry_after() -> None:
    waits: list[float] = []
    now = [0.0]  # a fake monotonic clock: waits are recorded, not slept

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    faults = Faults(throttle_rate=0.3, retry_after_seconds=(2.0, 2.0), seed=7)
    connector, emulator, stop = build_hubspot_connector(
        demo_portal(base_time()),
        emulator_options={"faults": faults},
        sleep=sleep,
        clock=lambda: now[0],
    )
    try:
        contacts = _contacts(_pull(connector, None, datetime.now(UTC)))
        assert len(contacts) == 8
        assert connector.usage.throttled > 0
        assert connector.usage.throttled == sum(
            n for (_, status), n in emulator.log.counts.items() if status == 429
        )
        assert 2.0 in waits
    finally:
        stop()


def test_server_errors_and_resets_are_retried_on_reads() -> None:
    faults = Faults(error_rate=0.2, reset_rate=0.1, seed=11)
    connector, emulator, stop = build_hubspot_connector(
        demo_portal(base_time()), emulator_options={"faults": faults}
    )
    try:
        for _ in range(3):
            contacts = _contacts(_pull(connector, None, datetime.now(UTC)))
            assert len(contacts) == 8
        assert len(connector.pull_owners()) == 3
        assert connector.usage.retries > 0
        assert emulator.log.total(status=500) + emulator.log.total(status=502) > 0
    finally:
        stop()


def test_nominal_run_gets_no_429_from_real_limits() -> None:
    connector, emulator, stop = build_hubspot_connector(
        _crowd(base_time(), 300),
        emulator_options={"limits_enabled": True},
        requests_per_10s=None,
        search_per_second=5.0,
    )
    try:
        for _ in range(3):
            _contacts(_pull(connector, base_time(), datetime.now(UTC)))
        assert sum(n for (_, status), n in emulator.log.counts.items() if status == 429) == 0
    finally:
        stop()


def test_daily_quota_stops_cleanly() -> None:
    connector, emulator, stop = build_hubspot_connector(
        demo_portal(base_time()), emulator_options={"limits_enabled": True, "daily_limit": 3}
    )
    try:
        with pytest.raises(QuotaExhaustedError) as caught:
            for _ in range(3):
                _pull(connector, None, datetime.now(UTC))
        assert emulator.log.total(status=429) == 1  # not retried
        assert TOKEN not in str(caught.value)
    finally:
        stop()


def test_expired_oauth_token_is_refreshed_once() -> None:
    portal = demo_portal(base_time())
    connector, emulator, stop = build_hubspot_connector(
        portal,
        refresh_token="refresh-xyz",
        client_id="app-1",
        client_secret="shh-secret",
    )
    try:
        emulator.register_oauth_app("app-1", "shh-secret", "refresh-xyz")
        assert len(connector.pull_owners()) == 3
        first = connector.transport.credentials.token()
        emulator.expire_token(first)
        assert len(connector.pull_owners()) == 3
        assert connector.transport.credentials.refreshes == 2
        assert emulator.log.total("oauth.token") == 2
    finally:
        stop()


def test_revoked_token_fails_loudly_without_leaking_it(built: Built) -> None:
    connector, emulator = built
    emulator.revoke_token(TOKEN)
    with pytest.raises(AuthError) as caught:
        connector.pull_owners()
    message = str(caught.value)
    assert "access_token" in message and TOKEN not in message
    assert emulator.log.total(status=401) == 1


def test_revoked_refresh_token_names_the_fix() -> None:
    connector, emulator, stop = build_hubspot_connector(
        demo_portal(base_time()), refresh_token="gone", client_id="app-1", client_secret="s3cr3t-x"
    )
    try:
        emulator.register_oauth_app("app-1", "s3cr3t-x", "a-different-refresh-token")
        with pytest.raises(AuthError) as caught:
            connector.pull_owners()
        assert "refresh_token" in str(caught.value)
        assert "s3cr3t-x" not in str(caught.value) and "gone" not in str(caught.value)
    finally:
        stop()


def _drop_first_task_answer(emulator: HubSpotEmulator) -> Any:
    state = {"dropped": False}

    def handle(request: SandboxRequest) -> SandboxResponse:
        response = emulator.handle(request)
        creating = request.method == "POST" and request.path == "/crm/v3/objects/tasks/batch/create"
        if creating and not state["dropped"]:
            state["dropped"] = True  # the tasks exist, the answer is lost
            return SandboxResponse(0, reset=True)
        return response

    return handle


def _task(contact_id: str, owner_id: str, key: str) -> TaskRequest:
    return TaskRequest(
        "hubspot",
        "contact",
        contact_id,
        owner_id,
        "Call within the hour",
        "Demo request",
        datetime.now(UTC) + timedelta(hours=1),
        task_key=key,
    )


def test_a_retry_never_duplicates_a_task() -> None:
    connector, emulator, stop = build_hubspot_connector(
        demo_portal(base_time()), wrap=_drop_first_task_answer
    )
    try:
        contacts = _contacts(_pull(connector, None, datetime.now(UTC)))[:3]
        owner = next(o for o in connector.pull_owners() if o.active)
        tasks = [_task(c.id, owner.id, f"sla:demo:{n}") for n, c in enumerate(contacts)]
        first = connector.create_tasks(tasks)
        assert {o.status for o in first} == {OutcomeStatus.UNKNOWN}
        assert emulator.log.total("tasks.batch_create") == 1  # not blindly retried
        second = connector.create_tasks([replace(t, resend=True) for t in tasks])
        assert {o.status for o in second} == {OutcomeStatus.UNCHANGED}
        assert emulator.log.total("tasks.search") == 1  # three keys, one look-up
        assert emulator.log.total("tasks.batch_create") == 1  # found: nothing created again
        for task, outcome in zip(tasks, second, strict=True):
            keyed = [
                o
                for o in emulator.store.objects["tasks"].values()
                if o.properties.get("handoff_task_key") == task.task_key
            ]
            assert len(keyed) == 1 and str(keyed[0].id) == outcome.crm_id
    finally:
        stop()


def test_tasks_go_100_a_call_and_a_refused_one_keeps_its_reason(built: Built) -> None:
    connector, emulator = built
    contact = _contacts(_pull(connector, None, datetime.now(UTC)))[0]
    owner = next(o for o in connector.pull_owners() if o.active)
    tasks = [_task(contact.id, owner.id, f"sla:bulk:{n}") for n in range(150)]
    tasks[70] = replace(tasks[70], record_id="999999999")  # no such contact to attach it to
    outcomes = connector.create_tasks(tasks)
    statuses = [o.status for o in outcomes]
    assert statuses.count(OutcomeStatus.APPLIED) == 149
    assert statuses[70] is OutcomeStatus.REJECTED and outcomes[70].error
    assert [o.key for o in outcomes] == [t.task_key for t in tasks]
    created = emulator.log.total("tasks.batch_create")
    assert 2 <= created <= 2 + math.ceil(math.log2(100)) + 1  # two batches (+ a bisection)
    assert len({o.crm_id for o in outcomes if o.crm_id}) == 149


@pytest.mark.parametrize(
    "built", [{"emulator_options": {"custom_properties": False}}], indirect=True
)
def test_setup_creates_missing_custom_properties(built: Built) -> None:
    connector, _ = built
    missing = connector.missing_fields()
    assert "contacts.handoff_score" in missing and "tasks.handoff_task_key" in missing
    assert connector.create_missing_fields() == missing
    assert connector.missing_fields() == []


def test_malformed_values_are_reported_and_the_contact_kept(built: Built) -> None:
    connector, emulator = built
    contact = _contacts(_pull(connector, None, datetime.now(UTC)))[0]
    emulator.update_contact(contact.id, {"handoff_score": "very high"})
    pulled = {c.id: c for c in _contacts(_pull(connector, None, datetime.now(UTC)))}
    assert "score" not in pulled[contact.id].fields
    assert pulled[contact.id].fields["email"] == contact.fields["email"]
    [problem] = connector.problems
    assert problem.record_id == contact.id and "handoff_score" in str(problem)


def _refuse_scopes(emulator: HubSpotEmulator) -> Any:
    def handle(request: SandboxRequest) -> SandboxResponse:
        if request.path.startswith("/crm/v3/owners"):
            return SandboxResponse.json(
                403,
                {
                    "status": "error",
                    "message": "This app hasn't been granted all required scopes.",
                    "category": "MISSING_SCOPES",
                    "context": {"missingScopes": ["crm.objects.owners.read"]},
                },
            )
        return emulator.handle(request)

    return handle


def test_missing_scopes_fail_with_the_fix_and_are_not_retried() -> None:
    connector, _emulator, stop = build_hubspot_connector(
        demo_portal(base_time()), wrap=_refuse_scopes
    )
    try:
        with pytest.raises(FatalError) as caught:
            connector.pull_owners()
        assert "crm.objects.owners.read" in str(caught.value)
        assert connector.usage.calls == {"GET /crm/v3/owners/": 1}
    finally:
        stop()
