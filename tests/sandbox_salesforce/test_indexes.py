"""Index-served queries return exactly what a full scan returns, also after writes."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.predicates import order_records
from sandbox.salesforce.soql import parse_soql
from tests.sandbox_salesforce.conftest import NOW, SID, Clock, make_portal

API = "/services/data/v59.0"


def scan(emulator: SalesforceEmulator, soql: str) -> list[str]:
    query = parse_soql(soql, emulator.org.schema, NOW)
    rows = [
        r
        for r in emulator.org.records[query.sobject].values()
        if not r.get("IsDeleted") and (query.where is None or query.where(r))
    ]
    rows = order_records(rows, query.order, query.exact_order)
    end = None if query.limit is None else query.offset + query.limit
    return [r["Id"] for r in rows[query.offset : end]]


def served(emulator: SalesforceEmulator, soql: str) -> list[str]:
    query = parse_soql(soql, emulator.org.schema, NOW)
    return [r["Id"] for r in emulator.org.run_query(query, include_deleted=False, api_path=API)[1]]


def test_index_answers_match_a_full_scan() -> None:
    clock = Clock()
    emulator = SalesforceEmulator(make_portal(leads=120, contacts=0), session_id=SID, clock=clock)
    ids = sorted(emulator.org.records["Lead"])
    # Writes after the indexes exist: many records share one stamp, some move twice.
    served(emulator, "SELECT Id FROM Lead ORDER BY SystemModstamp")
    served(emulator, "SELECT Id FROM Lead ORDER BY LastModifiedDate")
    for n, record_id in enumerate(ids[:40]):
        clock.advance(seconds=0 if n % 4 else 1)
        emulator.update_record(record_id, Title=f"t{n}")
    emulator.delete_record(ids[50])
    watermarks = [
        "2026-11-01T00:00:00Z",
        "2026-11-20T15:00:05.000+0000",
        str(NOW - timedelta(days=10)).replace(" ", "T"),
    ]
    for field, op, mark, direction, limit in itertools.product(
        ("SystemModstamp", "LastModifiedDate", "CreatedDate"),
        (">", ">=", "<", "<=", "="),
        watermarks,
        ("ASC", "DESC"),
        ("", " LIMIT 7"),
    ):
        soql = (
            f"SELECT Id FROM Lead WHERE {field} {op} {mark} AND Status != 'SQL' "
            f"ORDER BY {field} {direction}, Id {direction}{limit}"
        )
        assert served(emulator, soql) == scan(emulator, soql), soql
    in_ids = (
        f"SELECT Id FROM Lead WHERE Id IN ('{ids[3][:15]}', '{ids[50]}', '{ids[7]}') ORDER BY Id"
    )
    assert served(emulator, in_ids) == scan(emulator, in_ids) == sorted([ids[3], ids[7]])


def test_lookup_field_answers_match_a_full_scan() -> None:
    """`WhoId IN (...)`, `LeadId = x` (a person's activities and campaign responses) are served
    from a lookup index: the same rows as a scan, also after inserts, conversions and merges
    move records between people."""
    emulator = SalesforceEmulator(make_portal(leads=60, contacts=10), session_id=SID)
    org = emulator.org
    leads = sorted(org.records["Lead"])
    contacts = sorted(org.records["Contact"])
    who = [t["WhoId"] for t in org.records["Task"].values() if t["WhoId"]][:3] or leads[:3]

    def queries() -> list[str]:
        some = ", ".join(f"'{i}'" for i in [*who, leads[5], contacts[0]])
        return [
            f"SELECT Id FROM Task WHERE WhoId IN ({some}) ORDER BY CreatedDate, Id",
            f"SELECT Id FROM Task WHERE WhoId IN ({some})",
            f"SELECT Id FROM Task WHERE WhoId = '{who[0]}'",
            f"SELECT Id FROM Event WHERE (WhoId IN ({some})) ORDER BY StartDateTime, Id",
            f"SELECT Id FROM CampaignMember WHERE (LeadId IN ({some})) ORDER BY CreatedDate, Id",
            f"SELECT Id FROM CampaignMember WHERE ContactId IN ({some}) LIMIT 2",
            f"SELECT Id FROM CampaignMember WHERE LeadId IN ({some}) OR ContactId IN ({some})",
        ]

    def check() -> None:
        for soql in queries():
            assert served(emulator, soql) == scan(emulator, soql), soql

    check()  # the indexes exist from here on
    for n in range(3):
        org.insert("Task", {"WhoId": leads[5], "Subject": f"new {n}", "Status": "Open"}, at=NOW)
    campaign = next(iter(org.records["Campaign"]))
    org.insert("CampaignMember", {"CampaignId": campaign, "LeadId": leads[5]}, at=NOW)
    check()
    assert len(served(emulator, f"SELECT Id FROM Task WHERE WhoId = '{leads[5]}'")) >= 3
    converted = emulator.convert_lead(leads[5])  # its tasks and responses move to the contact
    check()
    moved = f"SELECT Id FROM Task WHERE WhoId = '{converted}'"
    assert len(served(emulator, moved)) >= 3 and served(emulator, moved) == scan(emulator, moved)
    emulator.merge("Contact", contacts[0], [converted])
    check()
    merged = f"SELECT Id FROM Task WHERE WhoId = '{contacts[0]}'"
    assert len(served(emulator, merged)) >= 3 and served(emulator, merged) == scan(emulator, merged)
