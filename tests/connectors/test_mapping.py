"""FieldCodec: canonical <-> CRM values from config field mappings."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from config.connections import FieldMapping
from connectors.errors import SkippableError
from connectors.mapping import FieldCodec, format_timestamp, parse_timestamp

MAPPINGS = {
    "email": FieldMapping(property="email"),
    "company_size": FieldMapping(property="numberofemployees", type="integer"),
    "score": FieldMapping(property="handoff_score", type="number", managed=True),
    "unsubscribed": FieldMapping(property="hs_email_optout", type="boolean"),
    "last_seen": FieldMapping(property="hs_last_visit", type="datetime"),
    "birthday": FieldMapping(property="trial_end", type="date"),
    "lifecycle_stage": FieldMapping(
        property="lifecyclestage",
        type="enum",
        managed=True,
        values={"mql": "marketingqualifiedlead", "lead": "lead"},
    ),
    "score_reasons": FieldMapping(property="handoff_score_reasons"),
}.copy()
# canonical field names must come from CANONICAL_FIELDS only in Connection; the codec is generic


@pytest.fixture
def codec() -> FieldCodec:
    return FieldCodec(MAPPINGS, connection="hubspot")


def test_decode_types_every_kind(codec: FieldCodec) -> None:
    raw = {
        "email": "ana@acme.example",
        "numberofemployees": "300",
        "handoff_score": "61.5",
        "hs_email_optout": "false",
        "hs_last_visit": "2026-11-01T10:00:00.000Z",
        "trial_end": "1767225600000",
        "lifecyclestage": "marketingqualifiedlead",
        "handoff_score_reasons": "",
    }
    assert codec.decode(raw, "17") == {
        "email": "ana@acme.example",
        "company_size": 300,
        "score": 61.5,
        "unsubscribed": False,
        "last_seen": datetime(2026, 11, 1, 10, tzinfo=UTC),
        "birthday": date(2026, 1, 1),
        "lifecycle_stage": "mql",
        "score_reasons": None,
    }


def test_unknown_crm_enum_values_pass_through(codec: FieldCodec) -> None:
    assert codec.decode({"lifecyclestage": "evangelist"})["lifecycle_stage"] == "evangelist"


@pytest.mark.parametrize(
    ("prop", "value"),
    [("numberofemployees", "12.5"), ("handoff_score", "high"), ("hs_email_optout", "maybe")],
)
def test_malformed_values_name_field_and_record(codec: FieldCodec, prop: str, value: str) -> None:
    with pytest.raises(SkippableError) as caught:
        codec.decode({prop: value}, "rec-9")
    assert "rec-9" in str(caught.value) and prop in str(caught.value)
    assert caught.value.record_id == "rec-9"


def test_encode_string_wire(codec: FieldCodec) -> None:
    assert codec.encode("score", 42.0) == "42"
    assert codec.encode("score", 42.5) == "42.5"
    assert codec.encode("unsubscribed", True) == "true"
    assert codec.encode("lifecycle_stage", "mql") == "marketingqualifiedlead"
    assert codec.encode("last_seen", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.000Z"
    )
    assert codec.encode("score_reasons", ["pricing x2", "director"]) == "pricing x2; director"
    assert codec.encode("score", None) == ""


def test_encode_json_wire_keeps_types() -> None:
    codec = FieldCodec(MAPPINGS, wire="json")
    assert codec.encode("unsubscribed", "yes") is True
    assert codec.encode("company_size", "300") == 300
    assert codec.encode("score", None) is None
    assert codec.encode("birthday", date(2026, 5, 1)) == "2026-05-01"


def test_encode_refuses_unmapped_enum_values_and_fields(codec: FieldCodec) -> None:
    with pytest.raises(SkippableError, match="values"):
        codec.encode("lifecycle_stage", "wizard", "r1")
    with pytest.raises(SkippableError, match="not mapped"):
        codec.encode("title", "VP")


def test_same_compares_canonical_meaning(codec: FieldCodec) -> None:
    assert codec.same("score", 42, "42.0")
    assert codec.same("lifecycle_stage", "mql", "marketingqualifiedlead")
    assert not codec.same("lifecycle_stage", "lead", "marketingqualifiedlead")
    assert not codec.same("score", 42, "garbage")


def test_timestamps_are_utc_aware() -> None:
    assert parse_timestamp("2013-05-20T20:49:32.000+0000") == datetime(
        2013, 5, 20, 20, 49, 32, tzinfo=UTC
    )
    assert parse_timestamp("1579514400000") == datetime(2020, 1, 20, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 1, 1))
