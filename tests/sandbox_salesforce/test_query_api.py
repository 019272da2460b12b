"""query/, queryAll/ and cursors through the real simple-salesforce client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox_salesforce.conftest import (
    NOW,
    SalesforceClient,
    SalesforceSandbox,
    first_error,
    make_portal,
)


def test_query_all_iter_pages_4500_leads_in_three_pages(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(make_portal(leads=4500, contacts=0))
    sf = box.client()
    ids = [r["Id"] for r in sf.query_all_iter("SELECT Id, Email FROM Lead ORDER BY Email")]
    assert len(ids) == 4500 and len(set(ids)) == 4500
    assert box.emulator.log.total("query", 200) == 1
    assert box.emulator.log.total("query_more", 200) == 2
    assert box.emulator.queries.open_cursors() == 0  # the last page releases the cursor


def test_first_page_carries_next_records_url_and_total(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    sf = start_sandbox(make_portal(leads=2500, contacts=0)).client()
    first = sf.query("SELECT Id FROM Lead")
    assert (first["totalSize"], first["done"], len(first["records"])) == (2500, False, 2000)
    url = first["nextRecordsUrl"]
    locator, offset = url.removeprefix("/services/data/v59.0/query/").rsplit("-", 1)
    assert locator.startswith("01g") and offset == "2000"
    second = sf.query_more(url, identifier_is_url=True)
    assert second["done"] is True and "nextRecordsUrl" not in second
    assert len(second["records"]) == 500
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(url, identifier_is_url=True)  # the cursor is gone once read to the end
    assert first_error(caught)["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_batch_size_header_is_honoured_and_clamped(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    sf = start_sandbox(make_portal(leads=700, contacts=0)).client()
    page = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=300"})
    assert len(page["records"]) == 300 and page["nextRecordsUrl"].endswith("-300")
    tiny = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(tiny["records"]) == 200  # minimum batch is 200
    rows = list(
        sf.query_all_iter("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=250"})
    )
    assert len(rows) == 700


def test_incremental_window_on_system_modstamp(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    lead = sf.query("SELECT Id FROM Lead WHERE Email = 'person4@bolt.de'")["records"][0]
    sandbox.clock.advance(minutes=5)
    sandbox.emulator.update_record(lead["Id"], Title="CMO")
    soql = (
        "SELECT Id, Title, SystemModstamp FROM Lead "
        "WHERE SystemModstamp > {} ORDER BY SystemModstamp ASC, Id ASC"
    )
    changed = sf.query(soql.format("2026-11-20T15:00:00Z"))["records"]
    assert [(r["Id"], r["Title"], r["SystemModstamp"]) for r in changed] == [
        (lead["Id"], "CMO", "2026-11-20T15:05:00.000+0000")
    ]
    offset_literal = sf.query(soql.format("2026-11-20T10:04:59.000-05:00"))["records"]
    assert [r["Id"] for r in offset_literal] == [lead["Id"]]
    assert sf.query(soql.format("2026-11-20T15:05:00.000+0000"))["records"] == []
    # more than three fractional digits, as tap-salesforce writes its bookmarks
    micro = sf.query(soql.format("2026-11-20T15:04:59.999999Z"))["records"]
    assert [r["Id"] for r in micro] == [lead["Id"]]
    assert sf.query(soql.format("2026-11-20T15:05:00.000001Z"))["records"] == []


def test_order_by_and_in(sf: SalesforceClient) -> None:
    records = sf.query(
        "SELECT LastName, Status FROM Lead WHERE Status IN ('MQL', 'SQL') "
        "ORDER BY Status DESC, LastName ASC LIMIT 4"
    )["records"]
    assert [(r["Status"], r["LastName"]) for r in records] == [
        ("SQL", "Last00002"),
        ("SQL", "Last00007"),
        ("SQL", "Last00012"),
        ("SQL", "Last00017"),
    ]


def test_query_all_shows_deleted_and_query_hides_them(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    lead_id = sf.query("SELECT Id FROM Lead WHERE Email = 'person3@acme.io'")["records"][0]["Id"]
    sf.Lead.delete(lead_id)
    soql = f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{lead_id}'"
    assert sf.query(soql)["totalSize"] == 0
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in deleted] == [(lead_id, True)]
    window = sf.Lead.deleted(NOW.replace(hour=0), NOW.replace(hour=23))
    assert [d["id"] for d in window["deletedRecords"]] == [lead_id]


def test_converted_lead_is_queryable_with_its_contact(
    sandbox: SalesforceSandbox, sf: SalesforceClient
) -> None:
    lead_id = sf.query("SELECT Id FROM Lead WHERE Email = 'person1@acme.io'")["records"][0]["Id"]
    sandbox.clock.advance(hours=1)
    contact_id = sandbox.emulator.convert_lead(lead_id)
    lead = sf.query(
        "SELECT IsConverted, ConvertedContactId, Status, SystemModstamp FROM Lead "
        f"WHERE Id = '{lead_id[:15]}'"  # a 15-character id matches too
    )["records"][0]
    assert lead["IsConverted"] is True and lead["ConvertedContactId"] == contact_id
    assert lead["Status"] == "Closed - Converted"
    assert lead["SystemModstamp"] == "2026-11-20T16:00:00.000+0000"
    contact = sf.Contact.get(contact_id)
    assert contact["Email"] == "person1@acme.io" and contact["AccountId"].startswith("001")
    moved = sf.query(f"SELECT Id FROM CampaignMember WHERE ContactId = '{contact_id}'")
    assert moved["totalSize"] == 1  # the webinar membership follows the person


def test_get_updated_window(sandbox: SalesforceSandbox, sf: SalesforceClient) -> None:
    lead_id = sf.query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    sandbox.clock.advance(minutes=10)
    sandbox.emulator.update_record(lead_id, Title="Head of RevOps")
    start = datetime.fromisoformat("2026-11-20T15:01:00+00:00")
    result = sf.Lead.updated(start, sandbox.clock.now)
    assert result["ids"] == [lead_id]
    assert result["latestDateCovered"] == "2026-11-20T15:10:00.000+0000"


def test_malformed_query_raises_with_salesforce_error_array(sf: SalesforceClient) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Lead WHERE Status = ")
    assert caught.value.status == 400
    assert first_error(caught)["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as invalid:
        sf.query("SELECT Nope__c FROM Lead")
    assert first_error(invalid)["errorCode"] == "INVALID_FIELD"


def test_opening_an_eleventh_cursor_releases_the_oldest(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(make_portal(leads=450, contacts=0))
    sf = box.client()
    options = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query("SELECT Id FROM Lead", headers=options)
    for _ in range(10):
        sf.query("SELECT Id FROM Lead", headers=options)
    assert box.emulator.queries.open_cursors() == 10
    with pytest.raises(SalesforceMalformedRequest):
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
