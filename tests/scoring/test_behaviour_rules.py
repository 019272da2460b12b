"""Behaviour rules on their own: filters, per-occurrence points and caps, windowed combos."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from scoring_builders import NOW, act, contact, days, form, isolated, page

from config.scoring import ActivityFilter, BehaviourRule
from connectors.records import Activity, ActivityKind, Actor
from scoring.behaviour import has_window
from scoring.model import ScoringModel


def rule(match: dict[str, Any], **kw: Any) -> BehaviourRule:
    return BehaviourRule.model_validate(
        {"id": "r", "label": "Hit {count}x", "points": 5, "match": match, **kw}
    )


def behaviour(rules: Sequence[BehaviourRule], activities: Sequence[Activity], **cfg: Any) -> int:
    model = ScoringModel.from_config(isolated(behaviour=list(rules), **cfg))
    return model.score(contact(), activities, NOW).behaviour


def test_points_per_occurrence_up_to_the_cap() -> None:
    r = rule({"kinds": ["page_view"]}, points=4, cap=10)
    assert behaviour([r], [page("/a")]) == 4
    assert behaviour([r], [page("/a"), page("/b")]) == 8
    assert behaviour([r], [page("/a")] * 5) == 10


def test_url_contains_and_regex_filters() -> None:
    pricing = rule({"kinds": ["page_view"], "url_contains": ["/PRICING"]})
    assert behaviour([pricing], [page("https://x.io/pricing?plan=pro")]) == 5
    assert behaviour([pricing], [page("https://x.io/blog")]) == 0
    docs = rule({"kinds": ["page_view"], "url_regex": r"/docs/(api|sdk)"})
    assert behaviour([docs], [page("https://x.io/docs/api/auth")]) == 5
    assert behaviour([docs], [page("https://x.io/docs/faq")]) == 0


def test_form_name_and_asset_stage_filters() -> None:
    demo = rule({"kinds": ["form_submission"], "form_name_regex": "demo"})
    assert behaviour([demo], [form("Request a Demo")]) == 5
    assert behaviour([demo], [form("Newsletter")]) == 0
    bottom = rule({"kinds": ["form_submission", "page_view"], "asset_stages": ["bottom"]})
    assert behaviour([bottom], [form("Case study", asset_stage="Bottom")]) == 5
    assert behaviour([bottom], [page("/roi", asset_stage="bottom")]) == 5
    assert behaviour([bottom], [form("Whitepaper", asset_stage="top")]) == 0
    # a page view's asset stage does not count for a rule about another kind
    email_only = rule({"kinds": ["email_click"], "asset_stages": ["bottom"]})
    assert behaviour([email_only], [page("/roi", asset_stage="bottom")]) == 0


def test_property_equals_filter() -> None:
    r = rule({"kinds": ["trial_milestone"], "properties": {"milestone": "Invited Team"}})
    assert behaviour([r], [act(ActivityKind.TRIAL_MILESTONE, milestone="invited team")]) == 5
    assert behaviour([r], [act(ActivityKind.TRIAL_MILESTONE, milestone="signed up")]) == 0


def test_attended_and_registered_are_different_signals() -> None:
    attended = rule({"kinds": ["webinar_attended"]}, points=15)
    registered = rule({"kinds": ["webinar_registered"]}, id="reg", points=2)
    both = [attended, registered]
    assert behaviour(both, [act(ActivityKind.WEBINAR_REGISTERED)]) == 2
    assert (
        behaviour(both, [act(ActivityKind.WEBINAR_REGISTERED), act(ActivityKind.WEBINAR_ATTENDED)])
        == 17
    )


def test_rep_touches_future_and_too_old_activities_are_not_signals() -> None:
    r = rule({"kinds": ["page_view", "email"]})
    assert behaviour([r], [act(ActivityKind.EMAIL, actor=Actor.REP)]) == 0
    assert behaviour([r], [page("/x", ago=-timedelta(hours=1))]) == 0  # after `now`
    assert behaviour([r], [page("/x", ago=days(400))]) == 0  # beyond the 365d lookback
    assert behaviour([r], [page("/x", ago=days(300))]) == 5


def test_within_counts_only_recent_matches() -> None:
    r = rule({"kinds": ["page_view"]}, within="30d")
    assert behaviour([r], [page("/x", ago=days(10)), page("/y", ago=days(40))]) == 5


def test_combo_needs_enough_matches_inside_one_window() -> None:
    r = rule({"kinds": ["page_view"], "url_contains": ["/pricing"]}, min_count=2, window="7d",
             points=10)  # fmt: skip
    close = [page("/pricing", ago=days(20)), page("/pricing", ago=days(14))]
    apart = [page("/pricing", ago=days(20)), page("/pricing", ago=days(12))]
    assert behaviour([r], close) == 10
    assert behaviour([r], apart) == 0
    assert behaviour([r], [page("/pricing")]) == 0
    assert behaviour([r], [*close, page("/pricing", ago=days(1))]) == 10  # once, not per pair


def test_distinct_days_combo_counts_visits_on_separate_days() -> None:
    r = rule({"kinds": ["page_view"]}, min_count=3, window="7d", distinct_days=True, points=12)
    same_day = [page("/a", ago=timedelta(hours=h)) for h in (1, 2, 3, 4)]
    assert behaviour([r], same_day) == 0
    assert behaviour([r], [page("/a", ago=days(d)) for d in (1, 3, 6)]) == 12
    assert behaviour([r], [page("/a", ago=days(d)) for d in (1, 5, 9)]) == 0


def test_has_window_edges() -> None:
    stamps = [NOW - days(7), NOW]
    assert has_window(stamps, 2, timedelta(days=7), False)
    assert not has_window(stamps, 2, timedelta(days=7) - timedelta(seconds=1), False)
    assert not has_window([NOW], 2, timedelta(days=7), False)


def test_behaviour_cap_applies_to_the_sum_and_is_explained() -> None:
    rules = [rule({"kinds": ["page_view"]}, id=f"r{i}", points=20) for i in range(4)]
    model = ScoringModel.from_config(isolated(behaviour=rules))
    score = model.score(contact(), [page("/x")], NOW)
    assert score.behaviour == 50
    assert [r.points for r in score.reasons if r.rule_id == "behaviour_cap"] == [-30]


def test_identical_filters_share_a_classification_slot() -> None:
    f = ActivityFilter(kinds=[ActivityKind.PAGE_VIEW], url_contains=["/pricing"])
    a = BehaviourRule(id="a", label="A", match=f, points=1)
    b = BehaviourRule(id="b", label="B", match=f, points=2, min_count=2, window="7d")
    model = ScoringModel.from_config(isolated(behaviour=[a, b]))
    assert model._classifier.size == 1
    score = model.score(contact(), [page("/pricing"), page("/pricing", ago=days(1))], NOW)
    assert score.behaviour == 4


def test_memo_keys_on_present_and_absent_properties_alike() -> None:
    # the classifier memoises a page view on its URL while it has no asset stage, and on
    # (URL, stage) once it has one: the same URL must classify by its stage either way
    pricing = rule({"kinds": ["page_view"], "url_contains": ["/pricing"]}, id="pricing")
    bottom = rule({"kinds": ["page_view"], "asset_stages": ["bottom"]}, id="bottom", points=7)
    model = ScoringModel.from_config(isolated(behaviour=[pricing, bottom]))
    plain, staged, empty = page("/pricing"), page("/pricing", asset_stage="Bottom"), page("/x")
    for _ in range(2):  # cold memo, then warm
        assert model.score(contact(), [plain], NOW).behaviour == 5
        assert model.score(contact(), [staged], NOW).behaviour == 12
        assert model.score(contact(), [plain, staged, empty], NOW).behaviour == 17
        assert model.score(contact(), [page("/pricing", asset_stage="")], NOW).behaviour == 5


def test_out_of_range_activities_never_count_nor_end_inactivity() -> None:
    r = rule({"kinds": ["page_view"]})
    model = ScoringModel.from_config(isolated(behaviour=[r]))
    acts = [page("/a", ago=days(2)), page("/a", ago=-days(1)), page("/b", ago=days(500))]
    for _ in range(2):  # the memo has seen them the second time
        score = model.score(contact(), acts, NOW)
        assert score.behaviour == 5 and score.last_signal_at == NOW - days(2)
    gone = model.score(contact(), acts[1:], NOW)
    assert gone.behaviour == 0 and gone.last_signal_at is None


def test_distinct_days_combo_edges() -> None:
    r = rule({"kinds": ["page_view"]}, min_count=3, window="7d", distinct_days=True, points=12)
    assert behaviour([r], [page("/a", ago=days(d)) for d in (0.1, 6, 6.2, 3)]) == 12
    assert behaviour([r], [page("/a", ago=days(d)) for d in (0.1, 7.1, 3)]) == 0
    spread = [page("/a", ago=days(d)) for d in (1, 9, 20, 21, 22, 40)]
    assert behaviour([r], spread) == 12
    assert has_window([NOW - days(d) for d in (1, 2, 3)], 3, timedelta(days=3), True)
    assert not has_window([NOW - days(d) for d in (1, 2, 4)], 3, timedelta(days=3), True)
