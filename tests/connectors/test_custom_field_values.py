"""Custom field values from the CRM, coerced by type: numbers from text, dates, booleans, enums
whose unlisted values are refused with the record, the property and the value named."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from config.custom_fields import CustomField
from connectors.accounts import Account, AccountFields
from connectors.errors import SkippableError
from connectors.mapping import FieldCodec


def codec(wire: str = "string", **fields: dict[str, Any]) -> FieldCodec:
    custom = {name: CustomField.model_validate(spec) for name, spec in fields.items()}
    return FieldCodec(
        {n: f.mapping() for n, f in custom.items()},
        wire="json" if wire == "json" else "string",
        connection="crm",
        closed=frozenset(custom),
    )


BAND = {"property": "acme_band", "type": "enum", "values": ["small", "mid", "large"]}


@pytest.mark.parametrize(
    ("spec", "raw", "value"),
    [
        ({"property": "p", "type": "number"}, "250", 250.0),  # HubSpot sends text
        ({"property": "p", "type": "number"}, 1.5, 1.5),  # Salesforce sends JSON numbers
        ({"property": "p", "type": "integer"}, "40", 40),
        ({"property": "p", "type": "boolean"}, "Yes", True),
        ({"property": "p", "type": "boolean"}, False, False),
        ({"property": "p", "type": "date"}, "2026-11-20", date(2026, 11, 20)),
        ({"property": "p", "type": "date"}, "1763596800000", date(2025, 11, 20)),  # epoch ms
        ({"property": "p", "type": "string"}, 42, "42"),
        (BAND, "large", "large"),
        (BAND, "Large", "large"),  # as the CRM capitalises it
        ({"property": "p", "type": "enum", "values": {"large": "1000+"}}, "1000+", "large"),
    ],
)
def test_values_are_coerced_by_type(spec: dict[str, Any], raw: Any, value: Any) -> None:
    assert codec(f=spec).decode({spec["property"]: raw}, "7") == {"f": value}


@pytest.mark.parametrize(
    ("spec", "raw", "words"),
    [
        (BAND, "huge", "not one of its values (small, mid, large): add it under values:"),
        ({"property": "p", "type": "number"}, "lots", "holds 'lots'"),
        ({"property": "p", "type": "integer"}, "2.5", "not a whole number"),
        ({"property": "p", "type": "boolean"}, "maybe", "not a boolean"),
        ({"property": "p", "type": "date"}, "next week", "holds 'next week'"),
    ],
)
def test_a_value_the_type_refuses_names_the_record_property_and_value(
    spec: dict[str, Any], raw: Any, words: str
) -> None:
    with pytest.raises(SkippableError) as caught:
        codec(employee_band=spec).decode({spec["property"]: raw}, "1001")
    message = str(caught.value)
    assert "record 1001" in message and f"property '{spec['property']}'" in message
    assert "field 'employee_band'" in message and words in message


def test_blank_values_are_none_not_problems() -> None:
    assert codec(f=BAND).decode({"acme_band": ""}, "1") == {"f": None}


def test_account_custom_fields_are_coerced_and_a_bad_value_warns() -> None:
    warned: list[str] = []
    fields = AccountFields(
        {"company": "name", "arr_band": "acme_arr_band", "seats": "acme_seats"},
        "hubspot_owner_id",
        warned.append,
        {
            "arr_band": CustomField.model_validate(
                {"property": "acme_arr_band", "type": "enum", "values": ["low", "high"]}
            ).mapping(),
            "seats": CustomField.model_validate(
                {"property": "acme_seats", "type": "integer"}
            ).mapping(),
        },
    )
    values = fields.canonical(
        Account("9", {"name": "Acme", "acme_arr_band": "HIGH", "acme_seats": "many"})
    )
    assert values == {"company": "Acme", "arr_band": "high"}
    (warning,) = warned
    assert "account 9" in warning and "'acme_seats'" in warning and "seats left out" in warning
