"""Reasons in words: assets named with counts, fit in words, field limits, when to rewrite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from config.scoring import ScoringConfig
from connectors.records import Activity, ActivityKind, Actor, Contact
from scoring.model import ScoringModel
from scoring.score import Score, clip
from scoring.wording import ReasonWriter, breakdown_json, should_rewrite

NOW = datetime(2026, 11, 19, 15, tzinfo=UTC)
MODEL = ScoringModel(ScoringConfig())
WRITER = ReasonWriter(MODEL)


def _contact(**fields: object) -> Contact:
    base = {"email": "dana@northwave.com", "title": "VP of Marketing", "company_size": 300,
            "industry": "Software", "country": "US"}  # fmt: skip
    return Contact("hs", "contact", "1", NOW, {**base, **fields})


def _act(kind: ActivityKind, days: float, **props: str) -> Activity:
    at = NOW - timedelta(days=days)
    return Activity("hs", f"{kind}-{days}", "1", kind, at, Actor.CONTACT, properties=props)


PRICING = {"url": "https://northwave.com/pricing", "page_title": "Pricing"}
ACTS = [
    _act(ActivityKind.PAGE_VIEW, 3, **PRICING),
    _act(ActivityKind.PAGE_VIEW, 1, **PRICING),
    _act(ActivityKind.WEBINAR_ATTENDED, 2, webinar_name="Scaling RevOps"),
]


def _written(score: Score) -> tuple[list[dict[str, object]], tuple[bool, bool, bool, str]]:
    reasons = [r.as_dict() for r in score.reasons]
    return reasons, (score.mql, score.fast_lane, score.disqualified, score.model_version)


def test_the_line_names_assets_with_counts_and_the_fit_in_words() -> None:
    contact = _contact()
    score = MODEL.score(contact, ACTS, NOW)
    described = WRITER.describe(score, contact, ACTS)
    assert described.line.startswith("Visited pricing 2x · Attended webinar 1x: 'Scaling RevOps'")
    assert "VP at a 300-person software company, Supported region" in described.line
    rules = {r["rule"]: r for r in described.breakdown["rules"]}
    assert rules["webinar_attended"] == {
        "rule": "webinar_attended", "category": "behaviour", "points": 15, "count": 1,
        "last": "2026-11-17", "assets": ["Scaling RevOps"],
    }  # fmt: skip
    assert described.breakdown["model"] == MODEL.version
    assert sum(r["points"] for r in described.breakdown["rules"]) == score.total


def test_an_800_person_company_takes_an() -> None:
    contact = _contact(company_size=800, title="Director of Ops")
    score = MODEL.score(contact, ACTS, NOW)
    assert "Director at an 800-person software company" in WRITER.describe(score, contact, []).line


def test_decay_is_said_as_a_date_not_days_idle() -> None:
    contact = _contact()
    old = [_act(ActivityKind.PAGE_VIEW, 40, **PRICING)]
    line = WRITER.describe(MODEL.score(contact, old, NOW), contact, old).line
    assert "Last active Oct 10 (−20% decay)" in line and "idle" not in line


def test_clip_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "Attended webinar 3x: 'Scaling RevOps', 'Pipeline reviews' and 1 more"
    cut = clip(text, 40)
    assert cut == "Attended webinar 3x: 'Scaling RevOps'…"
    assert len(cut) <= 40 and cut.endswith("…") and text.startswith(cut[:-1])
    many = [_act(ActivityKind.WEBINAR_ATTENDED, i, webinar_name=f"Webinar number {i}" * 4)
            for i in range(1, 9)]  # fmt: skip
    contact = _contact()
    line = WRITER.describe(MODEL.score(contact, many, NOW), contact, many).line
    assert len(line) <= 255


def test_breakdown_json_fits_the_property() -> None:
    contact = _contact()
    score = MODEL.score(contact, ACTS, NOW)
    full = WRITER.describe(score, contact, ACTS).breakdown
    small = breakdown_json(full, 400)
    assert len(small) <= 400 and json.loads(small)["score"] == score.total
    assert "assets" not in small


def test_rewrite_only_on_material_change() -> None:
    contact = _contact()
    first = MODEL.score(contact, ACTS, NOW)
    reasons, verdict = _written(first)
    # five days on, nothing new: no rewrite
    assert not should_rewrite(reasons, verdict, MODEL.score(contact, ACTS, NOW + timedelta(5)), 5)
    # a new pricing visit is a new signal
    more = [*ACTS, _act(ActivityKind.PAGE_VIEW, 0.5, **PRICING)]
    assert should_rewrite(reasons, verdict, MODEL.score(contact, more, NOW), 5)
    # decay alone: a rewrite once the score moved 5 or more (one 30-day period: -20%)
    decayed = MODEL.score(contact, ACTS, NOW + timedelta(days=35))
    assert abs(decayed.total - first.total) >= 5
    assert should_rewrite(reasons, verdict, decayed, 5)
    assert not should_rewrite(reasons, verdict, decayed, 50) or decayed.mql != first.mql
    assert should_rewrite(None, verdict, first, 5)  # never written
    nothing = MODEL.score(_contact(title="", company_size=None, industry="", country=""), [], NOW)
    _, quiet = _written(nothing)
    assert not should_rewrite([], quiet, nothing, 5)  # written: "No fit or intent signals yet"
