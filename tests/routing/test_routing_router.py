"""Router behaviour on both state stores: order of rules, persisted rotation, capacity, make-up."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from routing_support import NOW, WEIGHTED_TERRITORY, emea_config, emea_lead, everyone
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from config.routing import RoutingConfig
from routing import ledger
from routing.decision import RoutingLead
from routing.router import Router
from routing.tables import Assignment, RotationState
from sync.store.engine import make_engine
from sync.store.schema import upgrade

CONFIG = emea_config()


def _owners(router: Router, engine: Engine, count: int, start: int = 0, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    owners = []
    with Session(engine) as session:
        for i in range(start, start + count):
            decision = router.route(session, emea_lead(f"p{i}"), kwargs.get("now", NOW))
            assert decision.owner_email is not None
            owners.append(decision.owner_email)
        session.commit()
    return owners


def test_assignment_is_recorded_with_its_slot(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        decision = router.route(session, emea_lead("p1"), NOW, lane="nurture")
        session.commit()
        row = session.exec(select(Assignment)).one()
        rotation = session.get(RotationState, "EMEA-mid")
    assert (row.lead_key, row.owner_email, row.rule, row.territory) == (
        "p1",
        "ann@x.com",
        "round_robin",
        "EMEA-mid",
    )
    assert (row.turn, row.lane, row.assigned_at) == (1, "nurture", NOW)
    assert row.reason == decision.reason and decision.slot == 1
    assert rotation is not None and rotation.turn == 1 and rotation.updated_at == NOW


def test_existing_active_owner_is_kept_without_an_assignment(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        decision = router.route(session, emea_lead(current_owner_email="Dan@X.com"), NOW)
        assert (decision.rule, decision.owner_email, decision.assigned) == (
            "existing_owner",
            "dan@x.com",
            False,
        )
        assert session.exec(select(Assignment)).all() == []
        # the lead's territory all the same: its SLA clock keeps that territory's calendar
        assert (
            decision.territory
            == Router(CONFIG, everyone(CONFIG)).route(session, emea_lead(), NOW).territory
        )
        assert decision.territory is not None


def test_account_owner_comes_before_the_territory_unless_disabled(engine: Engine) -> None:
    lead = emea_lead(account_owner_email="uma@x.com", company_domain="acme.com")
    with Session(engine) as session:
        assert Router(CONFIG, everyone(CONFIG)).route(session, lead, NOW).owner_email == "uma@x.com"
        off = emea_config(account_owner_first=False)
        decision = Router(off, everyone(off)).route(session, lead, NOW)
        assert (decision.rule, decision.territory) == ("round_robin", "Strategic")
        decision = Router(CONFIG, everyone(CONFIG, inactive={"uma@x.com"})).route(
            session, lead, NOW
        )
        assert decision.territory == "Strategic"
        assert decision.reason.startswith(
            "account owner uma@x.com of acme.com inactive; Strategic round robin"
        )
        labelled = replace(lead, account_label="Acme (HubSpot company)")
        decision = Router(CONFIG, everyone(CONFIG)).route(session, labelled, NOW)
        assert decision.reason.endswith("account owner of Acme (HubSpot company)")


def test_no_account_owner_from_the_crm_is_said_before_round_robin(engine: Engine) -> None:
    lead = emea_lead(account_note="Acme (HubSpot company) has no owner", company_domain="acme.com")
    with Session(engine) as session:
        decision = Router(CONFIG, everyone(CONFIG)).route(session, lead, NOW)
    assert decision.rule == "round_robin"
    assert decision.reason.startswith("Acme (HubSpot company) has no owner; Strategic round robin")


def test_rotation_survives_a_restart(engine: Engine) -> None:
    straight = [e for e in ["ann@x.com", "cat@x.com", "dan@x.com"] * 3]
    first = _owners(Router(CONFIG, everyone(CONFIG)), engine, 4)
    url = engine.url.render_as_string(hide_password=False)
    restarted = make_engine(url)
    try:
        second = _owners(Router(emea_config(), everyone(CONFIG)), restarted, 5, start=4)
    finally:
        restarted.dispose()
    assert first + second == straight


def test_rolled_back_assignment_leaves_the_rotation_where_it_was(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        router.route(session, emea_lead("p1"), NOW)
        session.commit()
        assert router.route(session, emea_lead("p2"), NOW).owner_email == "cat@x.com"
        session.rollback()
        assert router.route(session, emea_lead("p2"), NOW).owner_email == "cat@x.com"
        session.commit()
        assert len(session.exec(select(Assignment)).all()) == 2
        rotation = session.get(RotationState, "EMEA-mid")
        assert rotation is not None and rotation.turn == 2


def test_weighted_counts_through_the_router(engine: Engine) -> None:
    config = RoutingConfig.model_validate(WEIGHTED_TERRITORY)
    router = Router(config, everyone(config))
    with Session(engine) as session:
        for batch in range(4):
            for i in range(25):
                router.route(session, RoutingLead(key=f"{batch}-{i}"), NOW)
            session.commit()
        counts = Counter(session.exec(select(Assignment.owner_email)).all())
        turns = sorted(t for t in session.exec(select(Assignment.turn)).all() if t is not None)
    assert counts == {"w1@x.com": 10, "w2@x.com": 20, "w3@x.com": 30, "w4@x.com": 40}
    assert turns == list(range(1, 101))


def test_per_day_capacity_resets_the_next_day_in_the_reps_zone(engine: Engine) -> None:
    config = emea_config(
        territories=[
            {
                "name": "Solo",
                "match": {},
                "reps": [
                    {
                        "email": "ann@x.com",
                        "capacity": {"per_day": 2},
                        "working_hours": {
                            "timezone": "Asia/Tokyo",
                            "start": "00:00",
                            "end": "23:59",
                            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        },
                    }
                ],
            }
        ]
    )
    router = Router(config, everyone(config))
    late = NOW + timedelta(hours=4)  # 23:00 in Tokyo, still Monday there
    next_day = NOW + timedelta(hours=5)  # 00:00 Tuesday in Tokyo
    with Session(engine) as session:
        owners = [
            router.route(session, RoutingLead(key=f"a{i}"), NOW).owner_email for i in range(2)
        ]
        session.commit()
        assert router.route(session, RoutingLead(key="b"), late).owner_email == "queue@x.com"
        assert router.route(session, RoutingLead(key="c"), next_day).owner_email == "ann@x.com"
    assert owners == ["ann@x.com", "ann@x.com"]


def test_open_lead_capacity_counts_assignments_since_the_snapshot(engine: Engine) -> None:
    config = emea_config(
        territories=[
            {
                "name": "Solo",
                "match": {},
                "reps": [{"email": "ann@x.com", "capacity": {"open_leads": 3}}],
            }
        ]
    )
    snapshot = everyone(config, open_leads={"ann@x.com": 1}, as_of=NOW - timedelta(minutes=10))
    with Session(engine) as session:  # an assignment made before the snapshot is already counted
        Router(config, snapshot).route(session, RoutingLead(key="old"), NOW - timedelta(hours=1))
        session.commit()
    router = Router(config, snapshot)
    with Session(engine) as session:
        router.route(session, RoutingLead(key="a"), NOW)
        session.commit()
    with Session(engine) as session:
        owners = [router.route(session, RoutingLead(key=k), NOW).owner_email for k in "bc"]
    assert owners == ["ann@x.com", "queue@x.com"]


def test_crm_out_of_office_and_inactive_reps_are_skipped(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG, out_of_office={"ann@x.com"}, inactive={"cat@x.com"}))
    after_bob_returns = NOW + timedelta(days=7)
    with Session(engine) as session:
        decision = router.route(session, emea_lead(), after_bob_returns)
    assert decision.owner_email == "bob@x.com"
    assert decision.skipped == [
        ("ann@x.com", "out of office"),
        ("cat@x.com", "inactive in the CRM"),
    ]


def test_skipped_rep_is_made_up_for_only_when_configured(engine: Engine) -> None:
    back = NOW + timedelta(days=7)  # Bob is out of office until the 27th
    plain = _owners(Router(CONFIG, everyone(CONFIG)), engine, 6)
    plain += _owners(Router(CONFIG, everyone(CONFIG)), engine, 4, start=6, now=back)
    assert plain[:6] == ["ann@x.com", "cat@x.com", "dan@x.com"] * 2
    assert plain[6:] == ["ann@x.com", "bob@x.com", "cat@x.com", "dan@x.com"]  # one turn each


def test_make_up_skipped_gives_the_returning_rep_the_missed_turns(engine: Engine) -> None:
    config = emea_config(make_up_skipped=True)
    back = NOW + timedelta(days=7)
    _owners(Router(config, everyone(config)), engine, 6)
    after = _owners(Router(config, everyone(config)), engine, 4, start=6, now=back)
    # Bob missed 6 turns of a 4-rep rotation, so he is owed 1.5: he takes the next two leads
    assert after == ["bob@x.com", "bob@x.com", "ann@x.com", "bob@x.com"]


def test_escalation_skips_an_unavailable_backup(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG, out_of_office={"cat@x.com"}))
    with Session(engine) as session:
        decision = router.escalate(session, emea_lead(), NOW, previous_owner="dan@x.com")
        session.commit()
        row = session.exec(select(Assignment)).one()
    assert (decision.owner_email, decision.rule) == ("eve@x.com", "escalation")
    assert decision.reason == (
        "escalated from dan@x.com; backup cat@x.com skipped: out of office; "
        "EMEA-mid manager eve@x.com"
    )
    assert row.previous_owner_email == "dan@x.com"


@settings(max_examples=40, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=5),
    batches=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
)
def test_fairness_survives_persistence_between_transactions(
    weights: list[int], batches: list[int]
) -> None:
    config = RoutingConfig.model_validate(
        {
            "fallback": {"owner": "queue@x.com"},
            "territories": [
                {
                    "name": "T",
                    "reps": [{"email": f"r{i}@x.com", "weight": w} for i, w in enumerate(weights)],
                }
            ],
        }
    )
    engine = make_engine("sqlite://")
    upgrade(engine)
    counts: Counter[str] = Counter()
    done = 0
    try:
        for size in batches:  # a fresh router per batch, as after a restart
            router = Router(config, everyone(config))
            with Session(engine) as session:
                for _ in range(size):
                    decision = router.route(session, RoutingLead(key=f"p{done}"), NOW)
                    assert decision.owner_email is not None
                    counts[decision.owner_email] += 1
                    done += 1
                    for i, weight in enumerate(weights):
                        share = done * weight / sum(weights)
                        assert abs(counts[f"r{i}@x.com"] - share) < 1
                session.commit()
    finally:
        engine.dispose()


def test_assignments_are_visible_to_queries_before_commit_and_gone_after_rollback(
    engine: Engine,
) -> None:
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        router.route(session, emea_lead("p1"), NOW)
        router.route(session, emea_lead("p2"), NOW)
        assert sorted(session.exec(select(Assignment.lead_key)).all()) == ["p1", "p2"]
        router.route(session, emea_lead("p3"), NOW)
        session.rollback()
        assert session.exec(select(Assignment)).all() == []
        router.route(session, emea_lead("p4"), NOW)
        session.commit()
    with Session(engine) as session:
        row = session.exec(select(Assignment)).one()
    assert (row.lead_key, row.owner_email, row.turn) == ("p4", "ann@x.com", 1)


def test_a_decision_is_recorded_once_under_its_key(engine: Engine) -> None:
    """A run killed after its routing committed, resumed at the same moment: the lead keeps
    the first decision, the ledger one row, the rotation one turn (the per-rep counts too)."""
    router = Router(CONFIG, everyone(CONFIG))
    lead = replace(emea_lead("p1"), decision_key="p1@now:route", source_owner_email="Old@X.com")
    with Session(engine) as session:
        first = router.route(session, lead, NOW)
        session.commit()
    with Session(engine) as session:  # the resumed run: a new transaction, same decision
        again = router.route(session, lead, NOW)
        other = router.route(session, replace(emea_lead("p2"), decision_key="p2@now:route"), NOW)
        session.commit()
        rows = session.exec(select(Assignment).order_by(Assignment.id)).all()  # type: ignore[arg-type]
        rotation = session.get(RotationState, "EMEA-mid")
    assert (again.owner_email, again.rule, again.slot) == (first.owner_email, first.rule, 1)
    assert [(r.lead_key, r.turn) for r in rows] == [("p1", 1), ("p2", 2)]
    assert rows[0].decision_key == "p1@now:route" and rows[0].source_owner_email == "old@x.com"
    assert other.owner_email != first.owner_email  # the rotation moved on by one turn only
    assert rotation is not None and rotation.turn == 2


def test_a_new_moment_is_a_new_decision(engine: Engine) -> None:
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        router.route(session, replace(emea_lead("p1"), decision_key="a"), NOW)
        router.route(session, replace(emea_lead("p1"), decision_key="b"), NOW + timedelta(hours=1))
        session.commit()
        assert len(session.exec(select(Assignment)).all()) == 2


def test_a_chunks_recorded_decisions_are_found_in_one_look(engine: Engine) -> None:
    """`ledger.recorded` (a decider's one query for its chunk) finds the decisions committed and
    those queued in its transaction; a lead marked unrecorded is routed without looking again."""
    router = Router(CONFIG, everyone(CONFIG))
    with Session(engine) as session:
        router.route(session, replace(emea_lead("p1"), decision_key="k1"), NOW)
        session.commit()
        router.route(session, replace(emea_lead("p2"), decision_key="k2"), NOW)  # queued
        assert ledger.recorded(session, ["k1", "k2", "k3"]) == {"k1", "k2"}
        fresh = replace(emea_lead("p3"), decision_key="k3", decision_unrecorded=True)
        third = router.route(session, fresh, NOW)
        session.commit()
        rows = session.exec(select(Assignment).order_by(Assignment.id)).all()  # type: ignore[arg-type]
    assert [(r.lead_key, r.decision_key, r.turn) for r in rows] == [
        ("p1", "k1", 1),
        ("p2", "k2", 2),
        ("p3", "k3", 3),
    ]
    assert third.slot == 3
