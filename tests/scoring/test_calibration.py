"""Calibration: signal lift, threshold sweep with the healthy band, suggested weights."""

from __future__ import annotations

import random

from scoring_builders import NOW, icp_contact, page

from config.scoring import ScoringConfig
from scoring.calibration import (
    CalibrationSample,
    SignalLift,
    ThresholdRow,
    calibrate,
    signal_lifts,
    threshold_sweep,
)
from scoring.model import ScoringModel

WEIGHTS = {"pricing_visit": 20, "top_funnel": 5, "webinar_attended": 15, "free_mail": -10}


def sample(signals: set[str], score: int, mql: bool = True, sql: bool | None = None,
           won: bool | None = None) -> CalibrationSample:  # fmt: skip
    return CalibrationSample(frozenset(signals), score, mql, sql, won)


def synthetic(n: int = 600, seed: int = 3) -> list[CalibrationSample]:
    """Pricing drives wins; top-funnel content is noise; free mail hurts."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        signals = {s for s, p in (("pricing_visit", 0.3), ("top_funnel", 0.6),
                                  ("webinar_attended", 0.3), ("free_mail", 0.2)) if rng.random() < p}  # fmt: skip
        odds = -2.0 + 2.5 * ("pricing_visit" in signals) + 0.8 * ("webinar_attended" in signals)
        odds -= 1.5 * ("free_mail" in signals)
        won = rng.random() < 1 / (1 + 2.718281828**-odds)
        score = 30 + 25 * ("pricing_visit" in signals) + 15 * ("webinar_attended" in signals)
        score += rng.randrange(0, 20)
        sql = won or rng.random() < 0.2
        out.append(sample(signals, score, mql=score >= 45, sql=sql, won=won))
    return out


def test_lift_is_share_among_won_over_share_among_mqls() -> None:
    samples = [
        sample({"a"}, 70, won=True),
        sample({"a"}, 70, won=True),
        sample({"a", "b"}, 70, won=False),
        sample({"b"}, 65, won=False),
        sample({"b"}, 40, mql=False, won=False),
    ]
    lifts = {x.rule_id: x for x in signal_lifts(samples)}
    assert lifts["a"] == SignalLift("a", 2, 3, 1.0, 0.75)
    assert lifts["a"].lift == 1.0 / 0.75
    assert lifts["b"].share_won == 0.0 and lifts["b"].lift == 0.0
    assert [x.rule_id for x in signal_lifts(samples)] == ["a", "b"]  # highest lift first


def test_threshold_sweep_counts_volume_conversion_and_recall() -> None:
    samples = [
        sample(set(), 80, sql=True, won=True),
        sample(set(), 70, sql=False),
        sample(set(), 60, sql=True, won=False),
        sample(set(), 50, sql=False, won=True),
        sample(set(), 40, sql=None),
    ]
    rows = {r.threshold: r for r in threshold_sweep(samples, [40, 60, 90])}
    assert rows[60] == ThresholdRow(60, 3, 2 / 3, 0.5)
    assert rows[40].volume == 5 and rows[40].sql_rate == 0.5 and rows[40].won_recall == 1.0
    assert rows[90] == ThresholdRow(90, 0, None, 0.0)


def test_band_marks() -> None:
    assert ThresholdRow(60, 10, 0.30, 1.0).band == "healthy"
    assert ThresholdRow(60, 10, 0.10, 1.0).band == "bar too low"
    assert ThresholdRow(60, 10, 0.60, 1.0).band == "bar too high"
    assert ThresholdRow(60, 10, 0.45, 1.0).band == "near band"


def test_suggested_weights_follow_what_closed() -> None:
    report = calibrate(synthetic(), WEIGHTS)
    assert report.target == "won"
    proposed = {s.rule_id: s for s in report.suggestions}
    assert proposed["pricing_visit"].proposed > proposed["webinar_attended"].proposed
    assert proposed["webinar_attended"].proposed > proposed["top_funnel"].proposed
    assert proposed["free_mail"].coefficient < 0 and proposed["free_mail"].proposed < 0
    # the positive rules keep roughly their point budget (20 + 5 + 15)
    total = sum(s.proposed for s in report.suggestions if s.current > 0)
    assert 35 <= total <= 45
    assert "-  pricing_visit: 20" in report.config_diff()


def test_markdown_report_has_lift_sweep_band_and_diff() -> None:
    text = calibrate(synthetic(), WEIGHTS).to_markdown()
    assert "## Signal lift" in text and "| pricing_visit |" in text
    assert "healthy MQL→SQL band: 25–40%" in text
    assert "**healthy**" in text or "no threshold in the sweep" in text
    assert "```diff" in text and "+++ scoring (proposed)" in text


def test_too_few_outcomes_gives_no_weights_and_says_why() -> None:
    samples = [sample({"pricing_visit"}, 70, sql=False, won=False) for _ in range(20)]
    report = calibrate(samples, WEIGHTS)
    assert report.suggestions == ()
    assert "too few outcomes" in report.notes[0]
    assert report.config_diff() == "(no weight changes proposed)"
    assert calibrate([], WEIGHTS).to_markdown().startswith("# Scoring calibration")


def test_falls_back_to_sql_acceptance_when_few_deals_closed() -> None:
    rng = random.Random(1)
    samples = [
        sample({"pricing_visit"} if i % 2 else {"top_funnel"}, 60, sql=(i % 2 == 1) == (rng.random() < 0.8))
        for i in range(200)
    ]  # fmt: skip
    report = calibrate(samples, WEIGHTS)
    assert report.target == "sql"
    assert any("fitted to SQL acceptance" in n for n in report.notes)
    proposed = {s.rule_id: s.proposed for s in report.suggestions}
    assert proposed["pricing_visit"] > proposed["top_funnel"]


def test_sample_from_a_stored_score() -> None:
    score = ScoringModel.from_config(ScoringConfig()).score(icp_contact(), [page("/pricing")], NOW)
    got = CalibrationSample.from_score(score, sql=True, won=False)
    assert got.signals == {"pricing_visit", "seniority", "size_sweet_spot", "industry_match",
                           "supported_region"}  # fmt: skip
    assert (got.score, got.mql, got.sql, got.won) == (70, True, True, False)
