"""Golden tests: the worked contacts from the domain notes, scored by the default model."""

from __future__ import annotations

from scoring_builders import NOW, contact, days, form, icp_contact, page

from config.scoring import NegativeRules, ScoringConfig
from scoring.model import ScoringModel

MODEL = ScoringModel.from_config(ScoringConfig())


def test_icp_director_with_pricing_twice_a_month_ago_has_the_documented_summary() -> None:
    score = MODEL.score(
        icp_contact(), [page("/pricing", days(34)), page("/pricing", days(34.1))], NOW
    )
    assert (score.fit, score.behaviour, score.total, score.mql) == (50, 28, 78, True)
    assert score.summary == (
        "Visited pricing 2x · Pricing 2+ times in 7 days · "
        "SaaS, 300-person company, Director, Supported region · −20% decay, 34 days idle"
    )


def test_vp_who_visited_pricing_once_at_an_icp_company_is_an_mql() -> None:
    score = MODEL.score(icp_contact(title="VP Marketing"), [page("/pricing", days(1))], NOW)
    assert (score.fit, score.behaviour, score.total) == (50, 20, 70)  # 55 fit capped at 50
    assert score.mql and not score.fast_lane
    assert score.reasons[0].rule_id == "pricing_visit"


def test_vp_who_visited_pricing_once_without_firmographics_is_not() -> None:
    score = MODEL.score(
        contact(email="vp@unknown-co.io", title="VP Marketing"), [page("/pricing", days(1))], NOW
    )
    assert (score.fit, score.behaviour, score.total, score.mql) == (15, 20, 35, False)


def test_intern_with_ten_whitepapers_stays_a_fan() -> None:
    papers = [form("Download whitepaper", days(i), asset_stage="top") for i in range(10)]
    score = MODEL.score(icp_contact(title="Marketing Intern"), papers, NOW)
    assert (score.fit, score.behaviour, score.negative, score.total) == (40, 5, -20, 25)
    assert not score.mql
    assert {"no_budget_title", "top_funnel"} <= score.rule_ids


def test_student_on_the_pricing_page_is_disqualified() -> None:
    student = contact(email="sam@cs.stanford.edu", title="Student")
    visits = [page("/pricing", days(1)), page("/pricing", days(2)), form("Request a demo")]
    score = MODEL.score(student, visits, NOW)
    assert score.disqualified and score.track == "academic" and score.outside_icp
    assert not score.mql and not score.fast_lane
    assert score.total == 0  # 0 fit + 50 behaviour - 30 academic - 20 no budget
    assert score.summary.startswith("Not MQL: Student/academic domain")


def test_competitor_gets_its_own_track_and_never_mqls() -> None:
    cfg = ScoringConfig(negative=NegativeRules.model_validate(
        {"competitor": {"points": -50, "domains": ["rivalsoft.com"], "disqualify": True,
                        "label": "Competitor"}}
    ))  # fmt: skip
    model = ScoringModel.from_config(cfg)
    spy = icp_contact(email="pat@eu.rivalsoft.com", company_domain="rivalsoft.com")
    score = model.score(
        spy, [page("/pricing", days(1)), page("/pricing", days(2)), form("Request a demo")], NOW
    )
    assert score.track == "competitor" and score.disqualified
    assert not score.mql and not score.fast_lane
    assert score.total == 25  # 50 fit + 50 behaviour - 50, held at the ICP ceiling
    assert "icp_ceiling" in {r.rule_id for r in score.reasons}


def test_demo_request_takes_the_fast_lane_whatever_the_score() -> None:
    score = MODEL.score(
        contact(email="jo@smallco.io", title="Ops Manager"), [form("Request a Demo")], NOW
    )
    assert score.fast_lane and score.mql
    assert score.fast_lane_reason == "Requested a demo"
    assert score.total == 25  # outside the ICP (fit 5): held at the ceiling
    assert score.summary.startswith("Fast lane: Requested a demo")


def test_eleven_month_old_pricing_visit_is_not_intent() -> None:
    old = MODEL.score(icp_contact(), [page("/pricing", days(335))], NOW)
    fresh = MODEL.score(icp_contact(), [page("/pricing", days(1))], NOW)
    assert fresh.total == 70 and fresh.mql
    assert old.behaviour == 2  # 20 x 0.8^11
    assert old.total == 52 and not old.mql
    decay = next(r for r in old.reasons if r.rule_id == "decay")
    assert (decay.points, decay.label) == (-18, "−91% decay, 335 days idle")
