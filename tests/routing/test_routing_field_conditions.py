"""Territories that match on any field by name (`match.fields`), e.g. a custom employee band."""

from __future__ import annotations

from typing import Any

from config.references import reference_problems
from config.routing import Territory, TerritoryMatch
from routing.territory import LeadPlace, best_territory, find_ties, matches, specificity


def _t(name: str, **match: Any) -> Territory:
    return Territory(name=name, match=TerritoryMatch.model_validate(match))


US = _t("US", countries=["US"])
US_LARGE = _t("US-large", countries=["US"], fields={"employee_band": ["Large"]})
BIG_SEATS = _t("Seats", countries=["US"], fields={"seats": {"min": 100}})
PARTNERS = _t("Partners", fields={"is_partner": [True]})


def _place(**fields: Any) -> LeadPlace:
    return LeadPlace.of(country="US", fields=fields)


def test_a_field_condition_matches_any_listed_value_case_insensitively() -> None:
    assert matches(US_LARGE.match, _place(employee_band="LARGE"))
    assert not matches(US_LARGE.match, _place(employee_band="mid"))
    assert not matches(US_LARGE.match, _place())  # blank: no match
    assert matches(US_LARGE.match, _place(employee_band="mid;large"))  # a multi-select
    assert matches(PARTNERS.match, _place(is_partner=True))
    assert not matches(PARTNERS.match, _place(is_partner=False))


def test_a_number_range_matches_numbers_and_numeric_text() -> None:
    assert matches(BIG_SEATS.match, _place(seats=100.0))
    assert matches(BIG_SEATS.match, _place(seats="1,200"))
    assert not matches(BIG_SEATS.match, _place(seats=99))
    assert not matches(BIG_SEATS.match, _place(seats="lots"))


def test_each_field_condition_adds_specificity_so_the_narrower_territory_wins() -> None:
    assert specificity(US_LARGE.match) == specificity(US.match) + 2
    found = best_territory([US, US_LARGE], _place(employee_band="large"))
    assert found is not None and found.name == "US-large"
    found = best_territory([US, US_LARGE], _place(employee_band="small"))
    assert found is not None and found.name == "US"


def test_disjoint_values_are_no_tie_and_equal_overlapping_ones_are() -> None:
    mid = _t("US-mid", countries=["US"], fields={"employee_band": ["mid"]})
    assert find_ties([US_LARGE, mid]) == []
    other = _t("US-large-2", countries=["US"], fields={"employee_band": ["large", "mid"]})
    assert find_ties([US_LARGE, other]) == [("US-large", "US-large-2")]
    few = _t("Few", countries=["US"], fields={"seats": {"max": 99}})
    assert find_ties([BIG_SEATS, few]) == []


def test_overlapping_field_territories_are_a_config_error() -> None:
    data = {
        "routing": {
            "fallback": {"owner": "q@x.com"},
            "territories": [
                {"name": "a", "match": {"fields": {"band": ["large"]}}},
                {"name": "b", "match": {"fields": {"band": ["LARGE"]}}},
            ],
        }
    }
    found = [message for _, message in reference_problems(data)]
    assert any("'a' and 'b' overlap with equal specificity" in m for m in found), found


def test_describe_names_the_fields_territories_match_on() -> None:
    place = _place(employee_band="Large", seats=250.0)
    assert place.describe(["employee_band"]) == "(country us, employee band large)"
    assert _place().describe(["employee_band"]) == "(country us, employee band blank)"
