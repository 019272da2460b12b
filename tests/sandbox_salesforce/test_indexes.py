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
