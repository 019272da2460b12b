"""Lifecycle policy: automation up to MQL only, forward only; sales' rejections by code."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from scoring_builders import NOW, days

from config.scoring import LifecycleConfig
from scoring.lifecycle import (
    LifecyclePolicy,
    LifecycleStage,
    StageChange,
    is_forward,
    is_regression,
    moves_owning_stage,
    normalise_code,
)
from scoring.score import Score

S = LifecycleStage
POLICY = LifecyclePolicy.from_config(LifecycleConfig())


def make_score(
    *,
    mql: bool = False,
    disqualified: bool = False,
    fast_lane: bool = False,
    last_signal_at: datetime | None = NOW - timedelta(hours=1),
) -> Score:
    return Score(
        total=70 if mql else 30, fit=40, behaviour=30, negative=0, mql=mql,
        fast_lane=fast_lane, fast_lane_reason="Requested a demo" if fast_lane else None,
        disqualified=disqualified, disqualify_reason="Competitor" if disqualified else None,
        outside_icp=disqualified, track="competitor" if disqualified else "standard",
        reasons=(), model_version="sm-test", computed_at=NOW, last_signal_at=last_signal_at,
    )  # fmt: skip


@pytest.mark.parametrize("stage", [None, "", "subscriber", "lead", S.LEAD])
def test_automation_promotes_early_stages_to_mql(stage: object) -> None:
    changes = POLICY.decide(stage, make_score(mql=True), now=NOW)  # type: ignore[arg-type]
    assert len(changes) == 1
    assert changes[0].to_stage is S.MQL and changes[0].at == NOW
    assert "Score 70" in changes[0].reason


def test_fast_lane_reason_is_carried() -> None:
    (change,) = POLICY.decide("lead", make_score(mql=True, fast_lane=True), now=NOW)
    assert change.reason == "Fast lane: Requested a demo"


def test_no_change_without_mql() -> None:
    assert POLICY.decide("lead", make_score(), now=NOW) == []


@pytest.mark.parametrize("stage", ["mql", "sal", "sql", "opportunity", "customer", "disqualified"])
def test_never_backwards_and_never_over_sales(stage: str) -> None:
    for score in (make_score(), make_score(mql=True), make_score(disqualified=True)):
        assert POLICY.decide(stage, score, now=NOW) == []


def test_disqualifier_blocks_mql_and_optionally_disqualifies() -> None:
    score = make_score(mql=False, disqualified=True)
    assert POLICY.decide("lead", score, now=NOW) == []
    strict = LifecyclePolicy.from_config(LifecycleConfig(auto_disqualify=True))
    (change,) = strict.decide("lead", score, now=NOW)
    assert change.to_stage is S.DISQUALIFIED and "Competitor" in change.reason
    assert strict.decide("sal", score, now=NOW) == []  # sales' stage: untouched


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("bad_timing", S.RECYCLED),
        ("No Budget", S.RECYCLED),
        ("out-of-territory", S.RECYCLED),
        ("competitor", S.DISQUALIFIED),
        ("not_icp", S.DISQUALIFIED),
        ("existing_customer", S.DISQUALIFIED),
    ],
)
def test_rejection_codes_recycle_or_disqualify(code: str, target: LifecycleStage) -> None:
    for stage in ("mql", "sal", "sql"):
        (change,) = POLICY.decide(stage, make_score(), rejection_reason=code, now=NOW)
        assert change.from_stage == stage and change.to_stage is target
        assert change.code == normalise_code(code)


def test_rejection_without_a_valid_code_changes_nothing_and_is_flagged() -> None:
    decision = POLICY.review("sal", make_score(), rejection_reason="not a fit", now=NOW)
    assert decision.changes == ()
    (flag,) = decision.flags
    assert flag.kind == "invalid_rejection_code" and "'not a fit'" in flag.detail


def test_rejection_does_not_touch_opportunities_or_early_stages() -> None:
    assert POLICY.decide("opportunity", make_score(), rejection_reason="no_budget", now=NOW) == []
    (change,) = POLICY.decide("lead", make_score(mql=True), rejection_reason="NEW", now=NOW)
    assert change.to_stage is S.MQL  # a lead status that is no rejection code does not hold it


def test_a_lead_still_carrying_a_rejection_code_is_held_not_mqld_then_recycled() -> None:
    decision = POLICY.review("lead", make_score(mql=True), rejection_reason="no_budget", now=NOW)
    assert decision.changes == ()  # an MQL now would be recycled by the same code next run
    (flag,) = decision.flags
    assert flag.kind == "held_by_rejection_code" and "'no_budget'" in flag.detail


def test_stale_rejection_from_before_a_reopen_is_ignored() -> None:
    reopened = NOW - days(3)
    changes = POLICY.decide(
        "mql", make_score(), rejection_reason="bad_timing", stage_changed_at=reopened,
        rejected_at=NOW - days(100), now=NOW,
    )  # fmt: skip
    assert changes == []


def test_recycled_lead_re_mqls_only_after_cooldown_with_fresh_engagement() -> None:
    recycled_at = NOW - days(100)
    fresh = make_score(mql=True, last_signal_at=NOW - days(1))
    (change,) = POLICY.decide("recycled", fresh, stage_changed_at=recycled_at, now=NOW)
    assert (change.from_stage, change.to_stage) == (S.RECYCLED, S.MQL)
    assert "cooldown" in change.reason
    in_cooldown = NOW - days(30)
    assert POLICY.decide("recycled", fresh, stage_changed_at=in_cooldown, now=NOW) == []
    stale = make_score(mql=True, last_signal_at=recycled_at - days(1))
    assert POLICY.decide("recycled", stale, stage_changed_at=recycled_at, now=NOW) == []
    assert POLICY.decide("recycled", make_score(), stage_changed_at=recycled_at, now=NOW) == []
    flagged = POLICY.review("recycled", fresh, stage_changed_at=None, now=NOW)
    assert flagged.changes == () and flagged.flags[0].kind == "missing_stage_date"


def test_unknown_stage_is_flagged_not_guessed() -> None:
    decision = POLICY.review("evangelist", make_score(mql=True), now=NOW)
    assert decision.changes == () and decision.flags[0].kind == "unknown_stage"


def test_cooldown_comes_from_config() -> None:
    short = LifecyclePolicy.from_config(LifecycleConfig(recycle_cooldown="7d"))  # type: ignore[arg-type]
    fresh = make_score(mql=True, last_signal_at=NOW - days(1))
    assert short.decide("recycled", fresh, stage_changed_at=NOW - days(8), now=NOW)


@pytest.mark.parametrize(
    ("current", "stage", "clear_first"),
    [
        ("mql", "sql", False),  # forward on the ladder
        ("sql", "lead", True),  # down the ladder
        ("mql", "recycled", True),  # into recycling
        (
            "recycled",
            "mql",
            True,
        ),  # a recycled lead re-opened: HubSpot keeps `other` unless cleared
        ("disqualified", "lead", True),
        ("recycled", "disqualified", False),  # side exit to side exit
    ],
)
def test_a_deliberate_move_back_is_a_regression(
    current: str, stage: str, clear_first: bool
) -> None:
    assert is_regression(current, stage) is clear_first


def test_forward_only_from_nothing_or_down_the_ladder() -> None:
    assert is_forward(None, "lead") and is_forward("", "mql")
    assert is_forward("lead", "mql") and not is_forward("sql", "mql")
    assert not is_forward("recycled", "mql")  # re-opening is a decision, never a mirror


@pytest.mark.parametrize("stage", ["mql", "sal", "sql"])
def test_sales_verdict_moves_a_stage_sales_owns(stage: str) -> None:
    """A rejection with a valid code is sales' decision: carried out from SAL and SQL too."""
    (change,) = POLICY.decide(stage, make_score(), rejection_reason="Bad Timing", now=NOW)
    assert change.by_sales and change.to_stage is S.RECYCLED
    assert moves_owning_stage(stage, change)


@pytest.mark.parametrize("stage", ["sal", "sql", "opportunity", "customer", "disqualified"])
def test_automation_never_moves_what_sales_set(stage: str) -> None:
    ours = StageChange(S(stage), S.MQL, "Score 70", NOW)
    assert not ours.by_sales and not moves_owning_stage(stage, ours)
    assert not moves_owning_stage(stage, None)
    if stage in ("opportunity", "customer", "disqualified"):  # no rejection out of these
        verdict = StageChange(S(stage), S.RECYCLED, "Sales rejected", NOW, "bad_timing")
        assert not moves_owning_stage(stage, verdict)
