"""The SOQL subset parser and evaluator, without HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.predicates import order_records
from sandbox.salesforce.schema import build_schema
from sandbox.salesforce.soql import parse_soql
from sandbox.salesforce.soql_lexer import decode_string

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SCHEMA = build_schema()


def rows() -> list[dict[str, object]]:
    return [
        {
            "Id": "a",
            "Email": "Ann@Acme.io",
            "Status": "MQL",
            "NumberOfEmployees": 300,
            "SystemModstamp": datetime(2026, 11, 20, 14, 0, tzinfo=UTC),
            "IsConverted": False,
            "LastActivityDate": date(2026, 11, 20),
            "Title": "VP 50% off",
        },
        {
            "Id": "b",
            "Email": None,
            "Status": "SQL",
            "NumberOfEmployees": 20,
            "SystemModstamp": datetime(2026, 11, 19, 9, 30, tzinfo=UTC),
            "IsConverted": True,
            "LastActivityDate": None,
            "Title": "Analyst",
        },
        {
            "Id": "c",
            "Email": "o'neil@bolt.de",
            "Status": "Nurture",
            "NumberOfEmployees": None,
            "SystemModstamp": datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
            "IsConverted": False,
            "LastActivityDate": date(2026, 11, 1),
            "Title": "Director",
        },
    ]


def matching(where: str) -> list[str]:
    query = parse_soql(f"SELECT Id FROM Lead WHERE {where}", SCHEMA, NOW)
    assert query.where is not None
    return [str(r["Id"]) for r in rows() if query.where(r)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("SystemModstamp > 2026-11-19T12:00:00Z", ["a", "c"]),
        ("SystemModstamp >= 2026-11-20T15:00:00.000+0000", ["c"]),
        ("SystemModstamp < 2026-11-20T10:00:00-05:00", ["a", "b"]),  # 15:00 UTC, exclusive
        ("Status IN ('MQL', 'sql')", ["a", "b"]),  # string comparison is case-insensitive
        ("Status NOT IN ('MQL')", ["b", "c"]),
        ("Email = null", ["b"]),
        ("Email != null AND IsConverted = false", ["a", "c"]),
        ("Email = 'o\\'neil@bolt.de'", ["c"]),
        ("Email LIKE '%@acme.io'", ["a"]),
        ("Title LIKE '%50\\%%'", ["a"]),
        ("NumberOfEmployees >= 100 OR (IsConverted = TRUE AND Status = 'SQL')", ["a", "b"]),
        ("NOT Status = 'MQL'", ["b", "c"]),
        ("LastActivityDate = 2026-11-20", ["a"]),
        ("LastActivityDate = TODAY", ["a"]),
        ("LastActivityDate = LAST_N_DAYS:7", ["a"]),
        ("NumberOfEmployees < 100", ["b"]),  # null never satisfies a range comparison
    ],
)
def test_where_clauses_select_the_documented_rows(where: str, expected: list[str]) -> None:
    assert matching(where) == expected


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id Lead", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Lead WHERE Status = 'MQL' AND Email = null OR Title = 'x'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Lead WHERE Email = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead LIMIT ten", "MALFORMED_QUERY"),
        ("SELECT Foo__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Ownr.Email FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunityy", "INVALID_TYPE"),
        (
            "SELECT Id FROM Lead WHERE SystemModstamp > '2026-11-20T00:00:00Z'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
        ("SELECT Id FROM Lead WHERE SystemModstamp > 2026-11-20", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Lead WHERE Email = 5", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
def test_invalid_queries_fail_with_salesforce_error_codes(soql: str, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_soql(soql, SCHEMA, NOW)
    assert caught.value.status == 400
    assert caught.value.error_code == code


def test_select_resolves_field_case_and_order_by_handles_nulls() -> None:
    query = parse_soql(
        "select id, EMAIL from lead order by NumberOfEmployees desc nulls last, Id limit 2 offset 1",
        SCHEMA,
        NOW,
    )
    assert query.fields == ["Id", "Email"]
    assert (query.limit, query.offset) == (2, 1)
    ordered = order_records(rows(), query.order)
    assert [r["Id"] for r in ordered] == ["a", "b", "c"]
    ascending = parse_soql("SELECT Id FROM Lead ORDER BY NumberOfEmployees", SCHEMA, NOW)
    assert [r["Id"] for r in order_records(rows(), ascending.order)] == ["c", "b", "a"]


def test_count_and_escapes() -> None:
    assert parse_soql("SELECT COUNT() FROM Contact", SCHEMA, NOW).count_only
    assert decode_string("'a\\'b\\\\c\\nd'") == "a'b\\c\nd"
