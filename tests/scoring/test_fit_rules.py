"""Each fit rule kind on its own: equals, in, regex, numeric bands, domain lists, the ladder."""

from __future__ import annotations

from typing import Any

import pytest
from scoring_builders import NOW, contact, isolated

from config.scoring import FitRule, SeniorityLevel, TitleLadder
from scoring.model import ScoringModel


def fit_of(rule: dict[str, Any] | None = None, ladder: TitleLadder | None = None, **fields: Any):
    sections: dict[str, Any] = {"fit": [FitRule.model_validate(rule)] if rule else []}
    if ladder is not None:
        sections["title_ladder"] = ladder
    model = ScoringModel.from_config(isolated(**sections))
    return model.score(contact(**fields), [], NOW)


def rule(**kw: Any) -> dict[str, Any]:
    return {"id": "r", "label": "Matched {value}", "points": 10, **kw}


def test_equals_is_case_insensitive_for_text_and_exact_for_numbers() -> None:
    assert fit_of(rule(field="industry", equals="saas"), industry="SaaS").fit == 10
    assert fit_of(rule(field="industry", equals="saas"), industry="Retail").fit == 0
    assert fit_of(rule(field="company_size", equals=42), company_size=42).fit == 10
    assert fit_of(rule(field="company_size", equals=42), company_size=43).fit == 0


def test_in_matches_any_token_of_multi_select_fields() -> None:
    r = rule(field="tech_stack", **{"in": ["HubSpot", "Segment"]})
    assert fit_of(r, tech_stack="marketo; segment").fit == 10
    assert fit_of(r, tech_stack=["Salesforce", "hubspot"]).fit == 10
    assert fit_of(r, tech_stack="marketo").fit == 0
    assert fit_of(r).fit == 0  # field missing


def test_regex_is_searched_case_insensitively() -> None:
    r = rule(field="title", regex=r"\b(marketing|revops)\b")
    assert fit_of(r, title="VP Marketing").fit == 10
    assert fit_of(r, title="Head of RevOps").fit == 10
    assert fit_of(r, title="Supermarketing guru").fit == 0


@pytest.mark.parametrize(
    ("size", "points"),
    [(49, 0), (50, 10), (499, 10), (500, 0), ("300", 10), ("1,200", 0), (None, 0), (True, 0)],
)
def test_numeric_band_includes_at_least_and_excludes_below(size: Any, points: int) -> None:
    r = rule(field="company_size", at_least=50, below=500)
    assert fit_of(r, company_size=size).fit == points


def test_band_label_shows_the_value() -> None:
    score = fit_of(
        rule(field="company_size", at_least=50, label="{value}-person"), company_size=300
    )
    assert [r.label for r in score.reasons] == ["300-person"]


def test_domain_list_matches_subdomains_and_urls_but_not_lookalikes() -> None:
    r = rule(field="company_domain", domains=["acme.com"])
    assert fit_of(r, company_domain="acme.com").fit == 10
    assert fit_of(r, company_domain="https://www.EU.Acme.com/about").fit == 10
    assert fit_of(r, company_domain="notacme.com").fit == 0
    email_rule = rule(field="email_domain", domains=["acme.com"])
    assert fit_of(email_rule, email="Ann@ACME.com").fit == 10
    assert fit_of(email_rule, email="ann@gmail.com").fit == 0


@pytest.mark.parametrize(
    ("title", "level", "points"),
    [
        ("Chief Revenue Officer", "C-suite", 20),
        ("CEO & Founder", "C-suite", 20),
        ("VP, Demand Generation", "VP", 15),
        ("Vice President Sales", "VP", 15),
        ("Senior Director, Marketing Ops", "Director", 10),
        ("Marketing Manager", "Manager", 5),
        ("Software Engineer", None, 0),
        ("", None, 0),
    ],
)
def test_default_seniority_ladder(title: str, level: str | None, points: int) -> None:
    score = fit_of(ladder=TitleLadder(), title=title)
    assert score.fit == points
    assert [r.label for r in score.reasons] == ([level] if level else [])


def test_ladder_first_level_wins_and_target_function_filters() -> None:
    ladder = TitleLadder(
        levels=[
            SeniorityLevel(name="VP", pattern=r"\bvp\b", points=15),
            SeniorityLevel(name="Manager", pattern=r"manager", points=5),
        ],
        target_function="marketing|sales",
    )
    assert fit_of(ladder=ladder, title="VP Sales, Manager of managers").fit == 15
    assert fit_of(ladder=ladder, title="VP Engineering").fit == 0
    assert fit_of(ladder=ladder, title="Sales Manager").fit == 5


def test_fit_is_capped_and_the_cap_is_explained() -> None:
    rules = [
        FitRule(id=f"r{i}", label=f"R{i}", field="country", equals="US", points=20)
        for i in range(4)
    ]
    score = ScoringModel.from_config(isolated(fit=rules)).score(contact(country="US"), [], NOW)
    assert score.fit == 50
    cap = [r for r in score.reasons if r.rule_id == "fit_cap"]
    assert cap and cap[0].points == -30 and cap[0].category == "adjustment"
