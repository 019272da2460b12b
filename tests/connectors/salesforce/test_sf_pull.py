"""Incremental Lead/Contact pull: SOQL window, paging, dedup, cursor, conversions, deletes (one
`queryAll` stream an object: deleted records come in it with `IsDeleted`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import responses
from sf_fixtures import API, INSTANCE, make_connector, page, soql_of

from connectors.records import RecordEventKind
from connectors.salesforce import SalesforceConnector

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UNTIL = T0 + timedelta(hours=1)


def stamp(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def lead(ident: str, minutes: float, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "attributes": {"type": "Lead"},
        "Id": ident,
        "SystemModstamp": stamp(minutes),
        "CreatedDate": stamp(-60),
        "Email": f"{ident}@x.test",
        "Company": "Acme",
        "Status": "MQL",
        "OwnerId": "005A",
        "Handoff_Score__c": 61.0,
        "IsConverted": False,
        "ConvertedContactId": None,
    }
    record.update(extra)
    return record


def _register(
    mocked: responses.RequestsMock, pages: list[dict[str, object]], deleted: list[dict[str, object]]
) -> None:
    """`deleted` rows join the last page, in SystemModstamp order as queryAll sorts them."""
    if deleted:
        last = pages[-1]
        rows = [*last["records"], *({**d, "IsDeleted": True} for d in deleted)]  # type: ignore[misc]
        rows.sort(key=lambda r: (r["SystemModstamp"], r["Id"]))
        pages = [*pages[:-1], {**last, "records": rows, "totalSize": len(rows)}]
    mocked.get(f"{API}/queryAll/", json=pages[0])
    for index, body in enumerate(pages[1:], start=1):
        mocked.get(f"{INSTANCE}/services/data/v59.0/query/01gLOC-{index}", json=body)


def test_incremental_soql_has_closed_overlap_window_capped_at_until_and_stable_order(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    _register(mocked, [page([])], [])
    list(connector.pull_contacts("lead", T0, UNTIL))
    [call] = mocked.calls  # live and deleted records in one queryAll stream
    live = soql_of(call)
    assert "FROM Lead WHERE SystemModstamp >= 2026-03-01T11:55:00.000Z" in live
    assert "SystemModstamp <= 2026-03-01T13:00:00.000Z" in live
    assert live.endswith("ORDER BY SystemModstamp, Id")
    for name in ("Email", "Company", "Status", "OwnerId", "Handoff_Score__c", "IsConverted"):
        assert name in live
    assert "IsDeleted" in live and "MasterRecordId" in live
    assert "/queryAll/" in str(call.request.url)


def test_full_resync_has_no_lower_bound(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    _register(mocked, [page([])], [])
    [batch] = list(connector.pull_contacts("contact", None, UNTIL))
    assert ">=" not in soql_of(mocked.calls[0])
    assert "FROM Contact" in soql_of(mocked.calls[0])
    assert batch.cursor == UNTIL


def test_pages_follow_next_records_url_and_decode_canonical_fields(
    mocked: responses.RequestsMock,
) -> None:
    connector = make_connector(page_size=2)
    first = page([lead("00Q1", 1), lead("00Q2", 2)], "/services/data/v59.0/query/01gLOC-1")
    second = page([lead("00Q3", 3)])
    _register(mocked, [first, second], [])
    batches = list(connector.pull_contacts("lead", T0, UNTIL))
    assert [[c.id for c in b.contacts] for b in batches] == [["00Q1", "00Q2"], ["00Q3"]]
    contact = batches[0].contacts[0]
    assert contact.fields["lead_status"] == "mql"  # via FieldMapping.values
    assert contact.fields["score"] == 61.0
    assert contact.email == "00Q1@x.test"
    assert contact.modified_at == T0 + timedelta(minutes=1)
    assert contact.object_type == "lead"
    # the cursor moves page by page, and the last batch carries the run start
    assert batches[0].cursor == T0 + timedelta(minutes=2)
    assert batches[1].cursor == UNTIL
    assert connector.usage.calls["queryAll"] == 1 and connector.usage.calls["query"] == 1


def test_duplicates_at_equal_timestamps_are_emitted_once(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    same = [lead("00Q1", 5), lead("00Q2", 5), lead("00Q2", 5), lead("00Q3", 5)]
    _register(mocked, [page(same)], [])
    [batch] = list(connector.pull_contacts("lead", T0, UNTIL))
    assert [c.id for c in batch.contacts] == ["00Q1", "00Q2", "00Q3"]


def test_cursor_never_moves_backwards(
    mocked: responses.RequestsMock,
) -> None:
    connector = make_connector(page_size=1)
    # records inside the overlap window sit before `since`
    body = page([lead("00Q1", -3)], "/services/data/v59.0/query/01gLOC-1")
    _register(mocked, [body, page([lead("00Q2", 10)])], [])
    batches = list(connector.pull_contacts("lead", T0, UNTIL))
    assert batches[0].cursor == T0
    assert batches[-1].cursor == UNTIL


def test_converted_leads_become_conversion_events_with_the_contact(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    records = [lead("00Q1", 1), lead("00Q2", 2, IsConverted=True, ConvertedContactId="003Z")]
    _register(mocked, [page(records)], [])
    [batch] = list(connector.pull_contacts("lead", T0, UNTIL))
    assert [c.id for c in batch.contacts] == ["00Q1"]
    [event] = batch.events
    assert event.kind is RecordEventKind.CONVERTED
    assert (event.record_id, event.survivor_id, event.survivor_object_type) == (
        "00Q2",
        "003Z",
        "contact",
    )


def test_deleted_and_merged_records_become_events(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    deleted: list[dict[str, object]] = [
        {"Id": "00Q7", "SystemModstamp": stamp(4), "MasterRecordId": None},
        {"Id": "00Q8", "SystemModstamp": stamp(6), "MasterRecordId": "00Q1"},
    ]
    _register(mocked, [page([lead("00Q1", 6)])], deleted)
    [batch] = list(connector.pull_contacts("lead", T0, UNTIL))
    kinds = {(e.record_id, e.kind, e.survivor_id) for e in batch.events}
    assert kinds == {
        ("00Q7", RecordEventKind.DELETED, None),
        ("00Q8", RecordEventKind.MERGED, "00Q1"),
    }


def test_owners_include_inactive_users(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/query/",
        json=page(
            [
                {"Id": "005A", "Email": "a@x.test", "Name": "Ann Lee", "IsActive": True},
                {"Id": "005B", "Email": "b@x.test", "FirstName": "Bo", "IsActive": False},
            ]
        ),
    )
    owners = make_connector().pull_owners()
    assert [(o.id, o.name, o.active) for o in owners] == [
        ("005A", "Ann Lee", True),
        ("005B", "Bo", False),
    ]
    assert "FROM User" in soql_of(mocked.calls[0])


def test_a_malformed_value_is_dropped_and_reported_but_the_person_kept(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    _register(mocked, [page([lead("00Q1", 1, Handoff_Score__c="n/a")])], [])
    [batch] = list(connector.pull_contacts("lead", T0, UNTIL))
    [person] = batch.contacts
    assert "score" not in person.fields and person.fields["company"] == "Acme"
    [problem] = connector.problems
    assert "Handoff_Score__c" in str(problem) and problem.record_id == "00Q1"


def test_a_run_starting_before_the_cursor_reads_nothing_and_keeps_the_cursor(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    [batch] = list(connector.pull_contacts("lead", UNTIL, T0))
    assert batch.cursor == UNTIL and not batch.contacts
    assert not mocked.calls
