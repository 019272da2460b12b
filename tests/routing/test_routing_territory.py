"""Territory matching: every constrained dimension must hold; the most specific match wins."""

from __future__ import annotations

from typing import Any

from config.routing import Territory, TerritoryMatch
from routing.territory import LeadPlace, best_territory, find_ties, matches, specificity


def _t(name: str, **match: Any) -> Territory:
    return Territory(name=name, match=TerritoryMatch.model_validate(match))


US = _t("US", countries=["US"])
CALIFORNIA = _t("California", states=["CA"])
US_HEALTH = _t("US-health", countries=["us"], industries=["Healthcare"])
EMEA_MID = _t("EMEA-mid", regions=["EMEA"], company_size={"min": 50, "max": 1000})
ACME = _t("Acme", domains=["www.Acme.com"])
CATCH_ALL = _t("Everyone")
ALL = [CATCH_ALL, US, CALIFORNIA, US_HEALTH, EMEA_MID, ACME]


def _best(**place: Any) -> str | None:
    territory = best_territory(ALL, LeadPlace.of(**place))
    return territory.name if territory else None


def test_matching_is_case_insensitive_and_all_dimensions_must_hold() -> None:
    assert matches(US.match, LeadPlace.of(country=" us "))
    assert not matches(US.match, LeadPlace.of(country="de"))
    assert not matches(US.match, LeadPlace.of())  # a constrained attribute the lead lacks
    assert matches(EMEA_MID.match, LeadPlace.of(region="emea", company_size=1000))
    assert not matches(EMEA_MID.match, LeadPlace.of(region="emea", company_size=1001))
    assert not matches(EMEA_MID.match, LeadPlace.of(region="emea"))


def test_named_accounts_match_the_domain_and_its_subdomains_only() -> None:
    assert matches(ACME.match, LeadPlace.of(company_domain="acme.com"))
    assert matches(ACME.match, LeadPlace.of(company_domain="www.eu.acme.com"))
    assert matches(ACME.match, LeadPlace.of(company_domain="jo@acme.com"))
    assert not matches(ACME.match, LeadPlace.of(company_domain="notacme.com"))


def test_most_specific_match_wins() -> None:
    assert _best(country="us", state="tx") == "US"
    assert _best(country="us", state="ca") == "California"
    assert _best(country="us", state="ca", industry="healthcare") == "US-health"
    assert _best(country="us", company_domain="acme.com", industry="healthcare") == "Acme"
    assert _best(country="de", region="emea", company_size=300) == "EMEA-mid"
    assert _best(country="de", region="emea", company_size=3) == "Everyone"
    assert best_territory([US], LeadPlace.of(country="de")) is None
    # different geography levels only: the finer one wins, and it is not a config tie
    assert _best(state="ca", region="emea", company_size=300) == "California"
    assert find_ties([CALIFORNIA, EMEA_MID]) == []


def test_specificity_scores() -> None:
    assert specificity(CATCH_ALL.match) == 0
    assert (
        specificity(CALIFORNIA.match)
        > specificity(US.match)
        > specificity(_t("r", regions=["x"]).match)
    )
    assert specificity(US_HEALTH.match) > specificity(CALIFORNIA.match)
    assert specificity(ACME.match) > specificity(US_HEALTH.match)


def test_find_ties_reports_only_overlapping_equals() -> None:
    assert find_ties(ALL) == []
    assert find_ties([US, _t("Health", industries=["healthcare"])]) == [("US", "Health")]
    assert find_ties([US, _t("DE", countries=["de"])]) == []
    small = _t("Small", countries=["de"], company_size={"max": 49})
    large = _t("Large", countries=["de"], company_size={"min": 50})
    assert find_ties([small, large]) == []
    assert find_ties([small, _t("Tiny", countries=["de"], company_size={"max": 10})]) == [
        ("Small", "Tiny")
    ]
    assert find_ties([ACME, _t("Acme EU", domains=["eu.acme.com"])]) == [("Acme", "Acme EU")]
    assert find_ties([ACME, _t("Globex", domains=["globex.com"])]) == []
    assert find_ties([CATCH_ALL, _t("Also everyone")]) == [("Everyone", "Also everyone")]
