"""ScoringConfig / LifecycleConfig: defaults are the domain's worked model; bad input is a clear
one-line error naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from config.model import HandoffConfig
from config.scoring import BehaviourRule, FitRule, LifecycleConfig, ScoringConfig


def _error(model: type[BaseModel], data: dict) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return str(info.value)


def test_defaults_are_the_worked_model() -> None:
    cfg = ScoringConfig()
    assert (cfg.caps.fit, cfg.caps.behaviour) == (50, 50)
    assert (cfg.mql.threshold, cfg.mql.min_fit) == (60, 20)
    assert cfg.icp.ceiling == 25
    assert cfg.decay.share == 0.2 and cfg.decay.period == timedelta(days=30)
    assert [(lv.name, lv.points) for lv in cfg.title_ladder.levels] == [
        ("C-suite", 20),
        ("VP", 15),
        ("Director", 10),
        ("Manager", 5),
    ]
    assert {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com"} <= set(
        cfg.negative.free_mail.domains
    )
    assert {".edu", ".ac.uk", ".edu.au"} <= set(cfg.negative.academic.suffixes)
    assert cfg.negative.academic.points == -30 and cfg.negative.academic.disqualify
    assert cfg.negative.competitor.points == -50 and cfg.negative.competitor.domains == []
    assert {t.id for t in cfg.fast_lane.triggers} >= {
        "demo_request",
        "pricing_inquiry",
        "contact_sales",
        "referral",
        "trial_usage",
    }
    assert set(LifecycleConfig().rejection_codes) == {
        "not_icp",
        "no_budget",
        "bad_timing",
        "duplicate",
        "student",
        "competitor",
        "existing_customer",
        "out_of_territory",
    }


def test_root_config_without_scoring_section_gets_the_default_model() -> None:
    raw = yaml.safe_load(
        """
        connections:
          - name: hubspot
            kind: hubspot
            hubspot: {access_token: x}
            objects: {contact: {email: {property: email}}}
        """
    )
    cfg = HandoffConfig.model_validate(raw)
    assert cfg.scoring == ScoringConfig()
    assert cfg.lifecycle == LifecycleConfig()


def test_yaml_rules_parse_with_durations_and_in_keyword() -> None:
    cfg = ScoringConfig.model_validate(
        yaml.safe_load(
            """
            fit:
              - {id: region, label: Region, field: country, in: [US, CA], points: 10}
            behaviour:
              - id: pricing_twice
                label: Pricing twice
                match: {kinds: [page_view], url_contains: [/pricing]}
                points: 10
                min_count: 2
                window: 7d
            decay: {share: 0.1, period: 2w}
            """
        )
    )
    assert cfg.fit[0].in_ == ["US", "CA"]
    assert cfg.behaviour[0].window == timedelta(days=7)
    assert cfg.decay.period == timedelta(days=14)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"id": "t", "label": "T", "field": "title", "regex": "(vp", "points": 5},
            "fit rule regex '(vp' is not a valid regular expression",
        ),
        (
            {"id": "t", "label": "T", "field": "title", "points": 5},
            "give exactly one of equals, in, regex, at_least/below, domains (got none)",
        ),
        (
            {"id": "t", "label": "T", "field": "x", "equals": "a", "in": ["b"], "points": 5},
            "(got equals, in)",
        ),
        (
            {"id": "t", "label": "T", "field": "company_size", "at_least": 500, "below": 50,
             "points": 5},
            "below must be greater than at_least",
        ),
        (
            {"id": "t", "label": "{size} people", "field": "company_size", "at_least": 5,
             "points": 5},
            "only {value}, {count}, {s} and {assets} may appear in braces",
        ),
    ],
)  # fmt: skip
def test_fit_rule_errors_name_the_problem(data: dict, expected: str) -> None:
    assert expected in _error(FitRule, data)


def test_behaviour_rule_errors() -> None:
    base = {"id": "b", "label": "B", "match": {"kinds": ["page_view"]}, "points": 5}
    assert "a combo needs both min_count and window" in _error(
        BehaviourRule, {**base, "min_count": 3}
    )
    assert "cap 2 is below points 5" in _error(BehaviourRule, {**base, "cap": 2})
    assert "activity filter regex" in _error(
        BehaviourRule, {**base, "match": {"kinds": ["page_view"], "url_regex": "[a-"}}
    )
    assert "not a duration" in _error(BehaviourRule, {**base, "min_count": 2, "window": "a week"})
    assert "page_vue" in _error(BehaviourRule, {**base, "match": {"kinds": ["page_vue"]}})


def test_scoring_config_errors() -> None:
    assert "caps.fit" in _error(ScoringConfig, {"caps": {"fit": -5}}).replace("\n", ".")
    rule = {"id": "same", "label": "S", "field": "country", "equals": "US", "points": 1}
    assert "rule ids must be unique: same repeated" in _error(ScoringConfig, {"fit": [rule, rule]})
    assert "Extra inputs are not permitted" in _error(ScoringConfig, {"treshold": 60})
    assert "seniority pattern" in _error(
        ScoringConfig,
        {"title_ladder": {"levels": [{"name": "VP", "pattern": "(", "points": 15}]}},
    )
    assert "or_fit_above and or_behaviour_above" in _error(
        ScoringConfig, {"mql": {"or_fit_above": 40}}
    )


def test_lifecycle_config_errors() -> None:
    assert "use lower_snake_case" in _error(
        LifecycleConfig, {"rejection_codes": {"Bad Timing": "recycle"}}
    )
    assert "recycle" in _error(LifecycleConfig, {"rejection_codes": {"no_budget": "delete"}})
