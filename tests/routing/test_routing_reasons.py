"""Golden reasons: what revops reads next to every assignment, word for word."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from routing_support import NOW, emea_config, emea_lead, everyone
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from routing.decision import RoutingLead
from routing.router import Router
from routing.tables import Assignment
from sync.store.engine import make_engine
from sync.store.schema import upgrade

CONFIG = emea_config()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """Reasons do not depend on the backend: SQLite only (the router tests cover both)."""
    eng = make_engine(sqlite_url)
    upgrade(eng)
    yield eng
    eng.dispose()


SKIP_BOB = "bob@x.com skipped: out of office"


def _router(**kwargs) -> Router:  # type: ignore[no-untyped-def]
    return Router(CONFIG, everyone(CONFIG, **kwargs))


def test_round_robin_reasons_in_order(engine: Engine) -> None:
    router = _router()
    with Session(engine) as session:
        reasons = [router.route(session, emea_lead(f"p{i}"), NOW).reason for i in range(4)]
        session.commit()
        stored = session.exec(select(Assignment.reason).order_by(Assignment.id)).all()  # type: ignore[arg-type]
    assert reasons == [
        f"EMEA-mid round robin, 1st of 4, {SKIP_BOB}",
        f"EMEA-mid round robin, 3rd of 4, {SKIP_BOB}",
        f"EMEA-mid round robin, 4th of 4, {SKIP_BOB}",
        f"EMEA-mid round robin, 1st of 4, {SKIP_BOB}",
    ]
    assert list(stored) == reasons


def test_rule_reasons(engine: Engine) -> None:
    router = _router(inactive={"old@x.com"})
    cases = [
        (
            emea_lead(account_owner_email="Sam@x.com", company_domain="www.acme.com"),
            "account owner of acme.com",
        ),
        (emea_lead(current_owner_email="dan@x.com"), "existing owner dan@x.com kept"),
        (
            emea_lead(current_owner_email="old@x.com"),
            f"existing owner old@x.com inactive; EMEA-mid round robin, 1st of 4, {SKIP_BOB}",
        ),
        (
            RoutingLead(key="br", country="BR", industry="retail", company_size=40),
            "fallback to queue@x.com (fallback queue): "
            "no territory matches (country br, industry retail, 40 employees)",
        ),
    ]
    with Session(engine) as session:
        for lead, reason in cases:
            assert router.route(session, lead, NOW).reason == reason


def test_fallback_and_unassigned_reasons(engine: Engine) -> None:
    emea_reps = {"ann@x.com", "cat@x.com", "dan@x.com"}
    with Session(engine) as session:
        decision = _router(inactive=emea_reps).route(session, emea_lead(), NOW)
        assert decision.reason == (
            "fallback to eve@x.com (EMEA-mid manager): nobody in EMEA-mid can take it "
            "(ann@x.com: inactive in the CRM, bob@x.com: out of office, "
            "cat@x.com: inactive in the CRM, dan@x.com: inactive in the CRM)"
        )
        strategic = RoutingLead(key="s", company_domain="acme.com")
        decision = _router(inactive={"sam@x.com"}).route(session, strategic, NOW)
        assert decision.reason == (
            "fallback to eve@x.com (Strategic fallback): nobody in Strategic can take it "
            "(sam@x.com: inactive in the CRM)"
        )
        decision = _router(inactive={"sam@x.com", "eve@x.com"}).route(session, strategic, NOW)
        assert decision.reason == (
            "Strategic fallback eve@x.com inactive in the CRM; fallback to queue@x.com "
            "(fallback queue): nobody in Strategic can take it (sam@x.com: inactive in the CRM)"
        )
        nobody = _router(inactive={"sam@x.com", "eve@x.com", "queue@x.com"})
        decision = nobody.route(session, strategic, NOW)
        assert decision.rule == "unassigned" and decision.owner_email is None
        assert decision.reason == (
            "unassigned: nobody in Strategic can take it (sam@x.com: inactive in the CRM); "
            "Strategic fallback eve@x.com inactive in the CRM; "
            "fallback queue queue@x.com inactive in the CRM"
        )


def test_reassignment_and_escalation_reasons(engine: Engine) -> None:
    router = _router()
    with Session(engine) as session:
        lead = emea_lead(current_owner_email="ann@x.com")
        decision = router.route(session, lead, NOW, exclude=frozenset({"ANN@x.com"}))
        assert decision.reason == (
            "reassigned from ann@x.com; EMEA-mid round robin, 3rd of 4, "
            f"ann@x.com skipped: previous owner, {SKIP_BOB}"
        )
        decision = router.escalate(session, emea_lead(), NOW, previous_owner="ann@x.com")
        assert decision.rule == "escalation"
        assert decision.reason == "escalated from ann@x.com; EMEA-mid backup cat@x.com"
        decision = router.escalate(session, emea_lead(), NOW, previous_owner="cat@x.com")
        assert decision.reason == "escalated from cat@x.com; EMEA-mid manager eve@x.com"


def test_capacity_and_hours_reasons(engine: Engine) -> None:
    config = emea_config(
        territories=[
            {
                "name": "Solo",
                "match": {},
                "reps": [
                    {"email": "ann@x.com", "capacity": {"per_day": 1}},
                    {"email": "bob@x.com", "capacity": {"open_leads": 3}},
                    {
                        "email": "cat@x.com",
                        "working_hours": {"timezone": "America/New_York", "start": "09:00"},
                    },
                ],
            }
        ]
    )
    router = Router(config, everyone(config, open_leads={"bob@x.com": 3}))
    with Session(engine) as session:
        first = router.route(session, RoutingLead(key="a"), NOW)  # 05:00 in New York
        second = router.route(session, RoutingLead(key="b"), NOW)
        later = router.route(session, RoutingLead(key="c"), NOW, lane="nurture")
    assert first.reason == (
        "Solo round robin, 1st of 3, bob@x.com skipped: at capacity (3 open leads), "
        "cat@x.com skipped: outside working hours"
    )
    assert second.reason == (
        "fallback to queue@x.com (fallback queue): nobody in Solo can take it "
        "(ann@x.com: at capacity (1 today), bob@x.com: at capacity (3 open leads), "
        "cat@x.com: outside working hours)"
    )
    assert later.owner_email == "cat@x.com"  # nurture ignores working hours
    assert later.reason.startswith("Solo round robin, 3rd of 3, ann@x.com skipped: at capacity")


def test_nurture_leads_wait_for_mql(engine: Engine) -> None:
    with Session(engine) as session:
        decision = _router().route(session, emea_lead(is_mql=False), NOW, lane="nurture")
        assert (decision.rule, decision.owner_email) == ("held", None)
        assert decision.reason == "nurture lead: routed when it becomes MQL"
        assert session.exec(select(Assignment)).all() == []
