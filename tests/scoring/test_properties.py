"""Property tests: caps hold, signals never lower a score, decay never raises it, disqualified
contacts never MQL, and stage changes never go backwards."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from scoring_builders import NOW, contact

from config.scoring import LifecycleConfig, NegativeRules, ScoringConfig
from connectors.records import Activity, ActivityKind, Actor, Contact
from scoring.lifecycle import FUNNEL, LifecyclePolicy, LifecycleStage, funnel_rank
from scoring.model import ScoringModel

CFG = ScoringConfig(
    negative=NegativeRules.model_validate({"competitor": {"points": -50, "disqualify": True,
                                                           "domains": ["rival.io"]}})
)  # fmt: skip
MODEL = ScoringModel.from_config(CFG)
POLICY = LifecyclePolicy.from_config(LifecycleConfig())

domains = st.sampled_from(["acme.com", "gmail.com", "state.edu", "rival.io", "x.ac.uk", "b.co"])
fields = st.fixed_dictionaries(
    {},
    optional={
        "title": st.sampled_from(
            ["CEO", "VP Sales", "Director", "Manager", "Intern", "Engineer", "Student", ""]
        ),
        "company_size": st.one_of(st.none(), st.integers(0, 20_000)),
        "industry": st.sampled_from(["SaaS", "Retail", "Software", "Education"]),
        "country": st.sampled_from(["US", "DE", "BR", "IN"]),
        "tech_stack": st.sampled_from(["hubspot", "marketo;segment", ""]),
        "unsubscribed": st.booleans(),
        "lead_source": st.sampled_from(["referral", "organic", "paid"]),
    },
)


@st.composite
def contacts(draw: st.DrawFn) -> Contact:
    values = draw(fields)
    domain = draw(domains)
    return contact(email=f"p@{domain}", company_domain=domain, **values)


@st.composite
def activities(draw: st.DrawFn, max_age_days: int = 400) -> Activity:
    kind = draw(st.sampled_from(list(ActivityKind)))
    props: dict[str, str] = {}
    if kind is ActivityKind.PAGE_VIEW:
        props["url"] = draw(st.sampled_from(["/pricing", "/blog/a", "/customers", "/docs"]))
    if kind is ActivityKind.FORM_SUBMISSION:
        props["form_name"] = draw(
            st.sampled_from(["Request a demo", "Whitepaper", "Contact sales", "Newsletter"])
        )
    if kind in (ActivityKind.PAGE_VIEW, ActivityKind.FORM_SUBMISSION) and draw(st.booleans()):
        props["asset_stage"] = draw(st.sampled_from(["top", "middle", "bottom"]))
    age = draw(st.integers(0, max_age_days * 24 * 60))
    actor = draw(st.sampled_from([Actor.CONTACT, Actor.CONTACT, Actor.REP]))
    return Activity("hs", "a", "c", kind, NOW - timedelta(minutes=age), actor, properties=props)


activity_lists = st.lists(activities(), max_size=25)


@settings(max_examples=200, deadline=None)
@given(contacts(), activity_lists)
def test_scores_stay_within_caps_and_reasons_add_up(person: Contact, acts: list[Activity]) -> None:
    score = MODEL.score(person, acts, NOW)
    assert 0 <= score.fit <= CFG.caps.fit
    assert 0 <= score.behaviour <= CFG.caps.behaviour
    assert 0 <= score.total <= CFG.caps.fit + CFG.caps.behaviour
    if score.outside_icp:
        assert score.total <= CFG.icp.ceiling
    assert sum(r.points for r in score.reasons) == score.total
    assert len(score.summary) <= 255


@settings(max_examples=200, deadline=None)
@given(contacts(), activity_lists, activities())
def test_adding_a_signal_never_lowers_the_score(
    person: Contact, acts: list[Activity], extra: Activity
) -> None:
    before = MODEL.score(person, acts, NOW)
    after = MODEL.score(person, [*acts, extra], NOW)
    assert after.total >= before.total
    assert after.behaviour >= before.behaviour
    assert after.mql or not before.mql


@settings(max_examples=200, deadline=None)
@given(contacts(), activity_lists, st.integers(0, 500))
def test_time_passing_never_raises_the_score(
    person: Contact, acts: list[Activity], later_days: int
) -> None:
    now = MODEL.score(person, acts, NOW)
    later = MODEL.score(person, acts, NOW + timedelta(days=later_days))
    assert later.total <= now.total
    assert later.behaviour <= now.behaviour


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["state.edu", "x.ac.uk", "rival.io"]),
    fields,
    st.lists(activities(max_age_days=10), max_size=25),
)
def test_disqualified_contact_never_mqls(domain: str, values: dict, acts: list[Activity]) -> None:
    score = MODEL.score(contact(email=f"p@{domain}", **values), acts, NOW)
    assert score.disqualified
    assert not score.mql and not score.fast_lane


stages = st.one_of(st.sampled_from(list(LifecycleStage)), st.none())
codes = st.one_of(st.none(), st.sampled_from(["bad_timing", "not_icp", "no fit", "Duplicate", ""]))
ALLOWED = {
    (LifecycleStage.SUBSCRIBER, LifecycleStage.MQL),
    (LifecycleStage.LEAD, LifecycleStage.MQL),
    (LifecycleStage.RECYCLED, LifecycleStage.MQL),
} | {
    (stage, exit_)
    for stage in (LifecycleStage.MQL, LifecycleStage.SAL, LifecycleStage.SQL)
    for exit_ in (LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED)
}


@settings(max_examples=300, deadline=None)
@given(stages, contacts(), activity_lists, codes, st.integers(0, 400), st.booleans())
def test_stage_changes_never_go_backwards(
    stage: LifecycleStage | None,
    person: Contact,
    acts: list[Activity],
    code: str | None,
    changed_days_ago: int,
    auto_disqualify: bool,
) -> None:
    policy = LifecyclePolicy.from_config(LifecycleConfig(auto_disqualify=auto_disqualify))
    score = MODEL.score(person, acts, NOW)
    changes = policy.decide(
        stage, score, rejection_reason=code,
        stage_changed_at=NOW - timedelta(days=changed_days_ago), now=NOW,
    )  # fmt: skip
    assert len(changes) <= 1
    for change in changes:
        assert change.to_stage not in (LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD)
        assert (change.from_stage, change.to_stage) in ALLOWED or (
            auto_disqualify and change.to_stage is LifecycleStage.DISQUALIFIED
        )
        start, end = funnel_rank(change.from_stage), funnel_rank(change.to_stage)
        if start is not None and end is not None:
            assert end > start
        if change.to_stage is LifecycleStage.MQL:
            assert score.mql and not score.disqualified
        if change.from_stage in FUNNEL[3:]:  # sales-owned: only ever by a valid rejection code
            assert change.code is not None
