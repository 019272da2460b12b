"""The model end to end: penalties, caps, ICP ceiling, decay, MQL bar, fast lane, reasons."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

import pytest
from scoring_builders import NOW, act, contact, days, form, icp_contact, isolated, page

from config.scoring import (
    BehaviourRule,
    DecayConfig,
    FastLaneConfig,
    FitRule,
    IcpConfig,
    MqlRule,
    ScoringConfig,
)
from connectors.records import ActivityKind, Actor
from scoring.model import ScoringModel, model_version

MODEL = ScoringModel.from_config(ScoringConfig())
PRICING_WEEK = [page("/pricing", days(1)), page("/pricing", days(2)), page("/pricing", days(3))]


def penalties(**fields: object) -> dict[str, int]:
    score = MODEL.score(contact(**fields), [], NOW)
    return {r.rule_id: r.points for r in score.reasons if r.category == "negative"}


def test_negative_rules() -> None:
    assert penalties(email="a@gmail.com") == {"free_mail": -10}
    assert penalties(email="a@mail.ox.ac.uk") == {"academic": -30}
    assert penalties(email="a@corp.com", company_domain="uni.edu.au") == {"academic": -30}
    assert penalties(email="a@corp.com", title="Sales Assistant") == {"no_budget_title": -20}
    assert penalties(email="a@corp.com", unsubscribed=True) == {"unsubscribed": -10}
    assert penalties(email="a@corp.com", unsubscribed="true") == {"unsubscribed": -10}
    assert penalties(email="a@corp.com", unsubscribed=False) == {}
    # free mail is about the address: a company domain on gmail.com is not penalised
    assert penalties(email="a@corp.com", company_domain="gmail.com") == {}


def test_free_mail_is_a_penalty_not_a_disqualifier() -> None:
    score = MODEL.score(icp_contact(email="dana@gmail.com"), PRICING_WEEK, NOW)
    assert not score.disqualified and score.mql
    assert score.negative == -10


def test_outside_icp_cannot_pass_the_ceiling_whatever_it_does() -> None:
    tiny = icp_contact(company_size=8)
    busy = [
        *PRICING_WEEK,
        act(ActivityKind.WEBINAR_ATTENDED),
        form("Case study", asset_stage="bottom"),
    ]
    score = MODEL.score(tiny, busy, NOW)
    assert score.outside_icp and score.total == 25 and not score.mql
    assert MODEL.score(icp_contact(company_size=None), busy, NOW).total > 25  # unknown size


def test_low_fit_is_outside_the_icp() -> None:
    score = MODEL.score(contact(email="x@corp.com", country="BR"), PRICING_WEEK, NOW)
    assert score.fit == 0 and score.outside_icp and score.total == 25


def test_mql_needs_both_fit_and_intent() -> None:
    fit_only = MODEL.score(icp_contact(), [], NOW)
    assert fit_only.total == 50 and not fit_only.mql
    cfg = isolated(
        fit=[FitRule(id="f", label="F", field="country", equals="US", points=15)],
        behaviour=[
            BehaviourRule.model_validate(
                {"id": "b", "label": "B", "match": {"kinds": ["page_view"]}, "points": 50}
            )
        ],
    )
    intent_only = ScoringModel.from_config(cfg).score(contact(country="US"), [page("/x")], NOW)
    assert intent_only.total == 65 and intent_only.fit == 15 and not intent_only.mql


def test_alternative_bar_fit_and_behaviour_above() -> None:
    cfg = ScoringConfig(mql=MqlRule(threshold=99, or_fit_above=40, or_behaviour_above=30))
    score = ScoringModel.from_config(cfg).score(icp_contact(), PRICING_WEEK, NOW)
    assert score.total < 99 and score.mql
    assert not ScoringModel.from_config(cfg).score(icp_contact(), PRICING_WEEK[:1], NOW).mql


@pytest.mark.parametrize(
    ("idle_days", "compound", "linear"),
    [(0, 50, 50), (29, 50, 50), (30, 40, 40), (61, 32, 30), (150, 16, 0)],
)
def test_decay_per_period_of_inactivity(idle_days: int, compound: int, linear: int) -> None:
    rule = BehaviourRule.model_validate(
        {"id": "b", "label": "B", "match": {"kinds": ["page_view"]}, "points": 50}
    )
    for mode, expected in (("compound", compound), ("linear", linear)):
        cfg = isolated(behaviour=[rule], decay=DecayConfig(share=0.2, mode=mode))
        score = ScoringModel.from_config(cfg).score(contact(), [page("/x", days(idle_days))], NOW)
        assert score.behaviour == expected, mode


def test_inactivity_runs_from_the_latest_own_activity_not_rep_touches() -> None:
    old_pricing = page("/pricing", days(40))
    recent_blog = page("/blog", days(2))
    rep_call = act(ActivityKind.CALL, days(1), actor=Actor.REP)
    decayed = MODEL.score(icp_contact(), [old_pricing, rep_call], NOW)
    active = MODEL.score(icp_contact(), [old_pricing, recent_blog], NOW)
    assert decayed.behaviour == 16 and decayed.last_signal_at == NOW - days(40)
    assert active.behaviour == 20 and active.last_signal_at == NOW - days(2)


def test_fast_lane_triggers() -> None:
    plain = contact(email="a@corp.com")
    assert MODEL.score(plain, [form("Talk to Sales")], NOW).fast_lane_reason == "Contact-sales form"
    assert MODEL.score(plain, [form("Pricing inquiry")], NOW).fast_lane_reason == "Pricing inquiry"
    trial = MODEL.score(plain, [act(ActivityKind.TRIAL_MILESTONE)], NOW)
    assert trial.fast_lane_reason == "Trial usage milestone"
    referral = MODEL.score(contact(email="a@corp.com", lead_source="Partner Referral"), [], NOW)
    assert referral.fast_lane and referral.mql
    stale = MODEL.score(plain, [form("Request a demo", days(20))], NOW)
    assert not stale.fast_lane and stale.fast_lane_reason is None
    assert not MODEL.score(plain, [form("Newsletter signup")], NOW).fast_lane


def test_fast_lane_window_and_triggers_come_from_config() -> None:
    cfg = ScoringConfig(fast_lane=FastLaneConfig(within=timedelta(days=30), triggers=[]))
    assert (
        not ScoringModel.from_config(cfg).score(contact(), [form("Request a demo")], NOW).fast_lane
    )


def test_reasons_are_ordered_by_weight_and_add_up_to_the_total() -> None:
    busy = [*PRICING_WEEK, form("Case study", asset_stage="bottom"), act(ActivityKind.EMAIL_CLICK)]
    for subject in (icp_contact(), icp_contact(company_size=8), contact(email="s@x.edu")):
        score = MODEL.score(subject, busy, NOW)
        weights = [abs(r.points) for r in score.reasons]
        assert weights == sorted(weights, reverse=True)
        assert sum(r.points for r in score.reasons) == score.total


def test_summary_is_short_even_with_many_reasons() -> None:
    rules = [
        BehaviourRule.model_validate(
            {"id": f"r{i}", "label": "A long label about what happened " * 2, "points": 1,
             "match": {"kinds": ["page_view"]}}
        )
        for i in range(20)
    ]  # fmt: skip
    score = ScoringModel.from_config(isolated(behaviour=rules)).score(contact(), [page("/")], NOW)
    assert len(score.summary) <= 255 and score.summary.endswith("…")
    assert MODEL.score(contact(), [], NOW).summary == "No fit or intent signals yet"


def test_deterministic_whatever_the_activity_order() -> None:
    acts = [*PRICING_WEEK, form("Case study", days(4), asset_stage="bottom"),
            act(ActivityKind.EMAIL_OPEN, days(1)), act(ActivityKind.EMAIL_OPEN, days(2)),
            act(ActivityKind.EMAIL_OPEN, days(3))]  # fmt: skip
    first = MODEL.score(icp_contact(), acts, NOW)
    for seed in range(5):
        shuffled = acts[:]
        random.Random(seed).shuffle(shuffled)
        again = ScoringModel.from_config(ScoringConfig()).score(icp_contact(), shuffled, NOW)
        assert again.breakdown() == first.breakdown()


def test_score_metadata_and_breakdown() -> None:
    score = MODEL.score(icp_contact(), PRICING_WEEK, NOW)
    assert score.computed_at == NOW and score.last_signal_at == NOW - days(1)
    assert score.model_version == MODEL.version == model_version(ScoringConfig())
    data = json.loads(json.dumps(score.breakdown()))
    assert data["reasons"][0]["rule_id"] == "pricing_visit"
    assert data["summary"] == score.summary


def test_model_version_is_a_stable_hash_of_the_config() -> None:
    assert model_version(ScoringConfig()) == model_version(ScoringConfig())
    changed = ScoringConfig(icp=IcpConfig(ceiling=30))
    assert model_version(changed) != model_version(ScoringConfig())


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        MODEL.score(contact(), [], datetime(2026, 1, 1))


def test_rule_points_lists_every_configured_weight() -> None:
    points = MODEL.rule_points()
    assert points["pricing_visit"] == 20 and points["academic"] == -30
    assert points["size_sweet_spot"] == 15


def test_score_is_a_frozen_dataclass_with_its_fields_in_order() -> None:
    import dataclasses
    import inspect

    from scoring.score import Score

    score = MODEL.score(icp_contact(), PRICING_WEEK, NOW)
    names = [f.name for f in dataclasses.fields(Score)]
    assert list(inspect.signature(Score.__init__).parameters)[1:] == names
    assert dataclasses.asdict(score)["total"] == score.total
    assert dataclasses.replace(score) == score and hash(dataclasses.replace(score)) == hash(score)
    with pytest.raises(dataclasses.FrozenInstanceError):
        score.total = 1  # type: ignore[misc]
