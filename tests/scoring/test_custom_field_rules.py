"""Fit rules and fast-lane triggers on custom fields: typed values (numbers, booleans, enums) as
the connectors decode them, and the default reason wording."""

from __future__ import annotations

from typing import Any

from scoring_builders import NOW, icp_contact

from config.scoring import ScoringConfig
from scoring import ScoringModel


def _model(**section: Any) -> ScoringModel:
    return ScoringModel.from_config(ScoringConfig.model_validate(section))


def test_a_fit_rule_on_a_custom_enum_gives_its_points_and_default_reason() -> None:
    model = _model(
        fit=[{"id": "band_large", "field": "employee_band", "in": ["large"], "points": 15}]
    )
    large = model.score(icp_contact(employee_band="large"), [], NOW)
    small = model.score(icp_contact(employee_band="small"), [], NOW)
    assert large.fit - small.fit == 15
    (item,) = [r for r in large.reasons if r.rule_id == "band_large"]
    assert item.label == "Employee band is large" and item.points == 15


def test_a_number_range_reads_the_decoded_number() -> None:
    model = _model(
        fit=[
            {
                "id": "seats",
                "field": "seats",
                "at_least": 100,
                "points": 5,
                "label": "{value} seats",
            }
        ]
    )
    scored = model.score(icp_contact(seats=250.0), [], NOW)
    assert [r.label for r in scored.reasons if r.rule_id == "seats"] == ["250 seats"]
    assert not [
        r for r in model.score(icp_contact(seats=None), [], NOW).reasons if r.rule_id == "seats"
    ]


def test_a_boolean_custom_field_triggers_the_fast_lane() -> None:
    trigger = {
        "id": "partner",
        "label": "Partner-sourced",
        "field": "is_partner",
        "values": ["true"],
    }
    model = _model(fast_lane={"triggers": [trigger]})
    assert model.score(icp_contact(is_partner=True), [], NOW).fast_lane_reason == "Partner-sourced"
    assert model.score(icp_contact(is_partner=False), [], NOW).fast_lane_reason is None
