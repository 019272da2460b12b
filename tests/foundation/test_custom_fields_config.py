"""Custom fields in `handoff.yaml`: defined per connection and object, named by rules, checked
at load with the place and the closest match (issue 21, deliverable 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.loader import check_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "hubspot.yaml"
ENV = {"HUBSPOT_TOKEN": "pat-test-0123456789"}
BAND = {"property": "acme_employee_band", "type": "enum", "values": ["small", "mid", "large"]}


def config_with(
    custom: dict[str, Any] | None = None,
    fit: list[dict[str, Any]] | None = None,
    territory_fields: dict[str, Any] | None = None,
    accounts: dict[str, Any] | None = None,
) -> str:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    connection = data["connections"][0]
    connection["custom_fields"] = {
        "contact": custom if custom is not None else {"employee_band": BAND}
    }
    if accounts is not None:
        connection["accounts"] = {"custom_fields": accounts}
    if fit is not None:
        data["scoring"]["fit"] = fit
    if territory_fields is not None:
        data["routing"]["territories"][0]["match"]["fields"] = territory_fields
    return yaml.safe_dump(data, sort_keys=False)


def problems(text: str) -> list[str]:
    _, found = check_config(text, env=ENV)
    return [f"{p.location}: {p.message}" for p in found]


def test_a_custom_field_maps_any_property_and_reads_with_the_person() -> None:
    text = config_with(
        {"employee_band": BAND, "seats": {"property": "acme_seats", "type": "number"}},
        fit=[{"id": "band", "field": "employee_band", "in": ["large"], "points": 15}],
        territory_fields={"employee_band": ["large"], "seats": {"min": 100}},
    )
    config, found = check_config(text, env=ENV)
    assert found == [] and config is not None
    (connection,) = config.connections
    mappings = connection.field_mappings("contact")
    assert mappings["employee_band"].property == "acme_employee_band"
    assert mappings["employee_band"].values == {"small": "small", "mid": "mid", "large": "large"}
    assert mappings["seats"].type.value == "number" and "email" in mappings
    (rule,) = config.scoring.fit
    assert rule.label == "Employee band is {value}"  # the default reason wording


def test_an_unknown_field_in_a_fit_rule_names_the_place_and_the_closest_match() -> None:
    text = config_with(
        fit=[
            {"id": "size", "field": "company_size", "at_least": 50, "points": 5, "label": "x"},
            {"id": "band", "field": "employee_bnd", "in": ["large"], "points": 15},
        ]
    )
    (problem,) = problems(text)
    assert problem.startswith("scoring.fit[1].field: unknown field 'employee_bnd': ")
    assert "did you mean 'employee_band'?" in problem


def test_a_misspelt_enum_value_and_a_range_on_an_enum_are_errors() -> None:
    text = config_with(
        fit=[
            {"id": "band", "field": "employee_band", "in": ["lage"], "points": 15},
            {"id": "band_size", "field": "employee_band", "at_least": 3, "points": 5},
        ],
        territory_fields={"employee_band": ["medium"]},
    )
    found = problems(text)
    assert (
        "scoring.fit[0].in: 'lage' is not a value of employee_band: did you mean 'large'? "
        "its values are small, mid, large" in found
    )
    assert any(
        p.startswith("scoring.fit[1].at_least: employee_band is an enum field") for p in found
    )
    assert any(
        p.startswith("routing.territories[0].match.fields.employee_band: 'medium' is not a value")
        for p in found
    )


def test_a_territory_naming_an_unknown_field_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "handoff.yaml"
    path.write_text(config_with(territory_fields={"employe_band": ["large"]}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "config.cli", "config", "validate", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **ENV},
    )
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr + done.stdout
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if "employe_band" in ln]
    assert len(lines) == 1, done
    assert ".yaml:" in lines[0] and "routing.territories[0].match.fields.employe_band" in lines[0]
    assert "did you mean 'employee_band'?" in lines[0]


@pytest.mark.parametrize(
    ("custom", "words"),
    [
        ({"industry": {"property": "x"}}, "'industry' is a canonical field: map it under objects"),
        ({"Band": {"property": "x"}}, "lower_snake_case"),
        ({"email_domain": {"property": "x"}}, "derived by Handoff"),
        ({"band": {"property": "x", "type": "enum"}}, "type enum needs values"),
        ({"band": {"property": "x", "type": "numbr"}}, "did you mean 'number'?"),
        ({"band": {"property": "x", "values": ["a"]}}, "only an enum has values"),
    ],
)
def test_bad_custom_field_definitions_say_the_fix(custom: dict[str, Any], words: str) -> None:
    found = problems(config_with(custom))
    assert any(words in p for p in found), found


def test_custom_fields_on_an_unmapped_object_or_with_two_types_are_errors() -> None:
    data = yaml.safe_load(config_with())
    data["connections"][0]["custom_fields"]["lead"] = {"band": {"property": "x"}}
    assert any("'lead' is not mapped under objects" in p for p in problems(yaml.safe_dump(data)))
    clash = config_with(accounts={"employee_band": {"property": "band", "type": "string"}})
    assert any(
        "employee_band is string here but enum" in p and ".accounts.custom_fields" in p
        for p in problems(clash)
    )


def test_company_custom_fields_are_read_with_the_account() -> None:
    text = config_with(accounts={"arr_band": {"property": "acme_arr", "type": "integer"}})
    config, found = check_config(text, env=ENV)
    assert found == [] and config is not None
    accounts = config.connections[0].accounts
    assert accounts.properties("hubspot")["arr_band"] == "acme_arr"
