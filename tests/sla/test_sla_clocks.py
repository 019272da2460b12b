"""SLA clocks on both stores, under frozen time: windows, touches, restarts, stops, merges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import Session, select

from connectors.records import Activity, ActivityKind, Actor
from routing.sla import CreateTask, Flag, NotifyManager, Reassign, SlaEngine, Touch
from routing.sla.tables import SlaClock, SlaTouch

NY = ZoneInfo("America/New_York")
FRIDAY_1655 = datetime(2026, 11, 20, 16, 55, tzinfo=NY)
MONDAY_0955 = datetime(2026, 11, 23, 9, 55, tzinfo=NY)


def now() -> datetime:
    """The frozen wall clock, read by the test (the engine is always handed `now`)."""
    return datetime.now(UTC)


@pytest.fixture
def clock_at() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FRIDAY_1655, tick=False) as traveller:
        yield traveller


def _start(sla: SlaEngine, session: Session, lead: str = "lead-1", **kw: object) -> SlaClock:
    args: dict[str, object] = {
        "lead_key": lead,
        "owner_email": "Ana@Example.com",
        "lane": "fast",
        "territory": "us-east",
        "started_at": now(),
        "context": ["Visited pricing twice this week", "Director at a 300-person SaaS company"],
    }
    args.update(kw)
    clock = sla.start_clock(session, **args)  # type: ignore[arg-type]
    assert clock is not None
    return clock


def test_friday_lead_is_due_monday_and_each_rung_fires_once(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    clock = _start(sla, session)
    session.commit()
    assert clock.due_at == MONDAY_0955
    assert clock.owner_email == "ana@example.com"

    clock_at.move_to(MONDAY_0955 - timedelta(minutes=1))
    assert sla.evaluate(session, now()) == []

    clock_at.move_to(MONDAY_0955)
    [task] = sla.evaluate(session, now())
    session.commit()
    assert isinstance(task, CreateTask)
    assert task.owner_email == "ana@example.com" and task.lead_key == "lead-1"
    assert "Visited pricing twice this week" in task.body
    assert "Fri 2026-11-20 16:55 EST" in task.body
    assert sla.evaluate(session, now()) == []

    clock_at.move_to(MONDAY_0955 + timedelta(minutes=15))
    actions = sla.evaluate(session, now())
    session.commit()
    assert [type(a) for a in actions] == [Reassign, NotifyManager]
    reassign, notice = actions
    assert isinstance(reassign, Reassign) and isinstance(notice, NotifyManager)
    assert reassign.from_email == "ana@example.com" and reassign.lane == "fast"
    assert notice.webhook_url == "https://hooks.example.com/sla"
    assert notice.task_key != task.task_key

    clock_at.shift(timedelta(days=1))
    assert sla.evaluate(session, now()) == []


def test_touch_one_minute_before_the_deadline_stops_the_clock(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session)
    session.commit()
    clock_at.move_to(MONDAY_0955 + timedelta(minutes=30))  # pulled late, CRM-timestamped early
    touch = Touch("lead-1", "ana@example.com", "call", "phone", MONDAY_0955 - timedelta(minutes=1))
    assert sla.record_touches(session, [touch]) == 1
    assert sla.record_touches(session, [touch]) == 0  # re-pulled: credited once
    assert sla.evaluate(session, now()) == []
    session.commit()
    clock = session.exec(select(SlaClock)).one()
    assert clock.first_touch_seconds == timedelta(minutes=59).total_seconds()


def test_touch_by_another_rep_counts_only_where_the_policy_says_so(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session, "fast-lead")
    _start(sla, session, "mql-lead", lane="mql")
    session.commit()
    clock_at.move_to(MONDAY_0955 - timedelta(minutes=30))
    sla.record_touches(
        session,
        [
            Touch("fast-lead", "bo@example.com", "call", "phone", now()),
            Touch("mql-lead", "bo@example.com", "email", "email", now()),
            Touch("fast-lead", "ana@example.com", "note", "", now()),  # a note is not a touch
        ],
    )
    session.commit()
    clock_at.move_to(datetime(2026, 11, 30, 12, 0, tzinfo=NY))
    actions = sla.evaluate(session, now())
    assert {(type(a).__name__, a.lead_key) for a in actions} == {
        ("CreateTask", "fast-lead"),
        ("Reassign", "fast-lead"),
        ("NotifyManager", "fast-lead"),
    }


def test_reassignment_restarts_the_clock_for_the_new_owner(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    first = _start(sla, session)
    clock_at.move_to(MONDAY_0955 + timedelta(minutes=15))
    actions = sla.evaluate(session, now())
    assert any(isinstance(a, Reassign) for a in actions)
    second = _start(sla, session, owner_email="bo@example.com", started_at=now())
    session.commit()
    assert first.ended_at == now() and first.end_reason == "reassigned"
    assert second.id != first.id and second.due_at == now() + timedelta(hours=1)
    # The old owner's late call is credited to the old clock only; the new clock still runs.
    sla.record_touches(session, [Touch("lead-1", "ana@example.com", "call", "phone", now())])
    clock_at.shift(timedelta(hours=1))
    [task] = sla.evaluate(session, now())
    assert isinstance(task, CreateTask) and task.owner_email == "bo@example.com"
    assert task.clock_id == second.id
    assert first.first_touch_at is None


def test_the_same_owner_handed_the_lead_again_keeps_the_clock_that_owes_the_first_touch(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    """The fast path and a scheduled run decided one demo request a moment apart, both for Ana:
    one clock, its due time unmoved, one "task the owner" rung. Once Ana has touched the lead, a
    new handoff to her (a demo request weeks later) is a new clock; so is another lane."""
    first = _start(sla, session)
    session.commit()
    clock_at.shift(timedelta(milliseconds=5))
    again = _start(sla, session, owner_email="ana@example.com", started_at=now())
    session.commit()
    assert again.id == first.id and first.ended_at is None and first.due_at == MONDAY_0955
    assert len(session.exec(select(SlaClock)).all()) == 1
    clock_at.move_to(MONDAY_0955)
    assert [type(a).__name__ for a in sla.evaluate(session, now())] == ["CreateTask"]
    assert sla.evaluate(session, now()) == []  # fired once, for the one clock

    sla.record_touches(session, [Touch("lead-1", "ana@example.com", "call", "phone", now())])
    session.commit()
    clock_at.shift(timedelta(days=20))
    later = _start(sla, session, started_at=now())
    assert later.id != first.id and first.end_reason == "reassigned"
    clock_at.shift(timedelta(minutes=1))
    standard = _start(sla, session, lane="mql", started_at=now())
    assert standard.id != later.id and later.end_reason == "reassigned"


def test_start_clock_is_idempotent_and_a_move_to_a_lane_without_sla_ends_it(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    a = _start(sla, session)
    b = _start(sla, session)
    session.commit()
    assert a.id == b.id
    assert len(session.exec(select(SlaClock)).all()) == 1
    clock_at.shift(timedelta(minutes=5))
    moved = sla.start_clock(
        session, lead_key="lead-1", owner_email="bo@b.c", lane="nurture", started_at=now()
    )
    assert moved is None  # no policy watches nurture, and Ana's clock ends: the lead moved
    assert a.end_reason == "reassigned" and sla.open_clocks(session, "lead-1") == []


def test_worker_crash_before_commit_yields_the_same_task_once(
    sla: SlaEngine, session: Session, engine: object, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session)
    session.commit()
    clock_at.move_to(MONDAY_0955)
    [decided] = sla.evaluate(session, now())
    session.rollback()  # the worker dies before committing the decision and its outbox row

    with Session(engine) as rerun:  # type: ignore[arg-type]
        [again] = sla.evaluate(rerun, now())
        rerun.commit()
    assert isinstance(decided, CreateTask) and isinstance(again, CreateTask)
    assert again.task_key == decided.task_key  # the connector creates this task at most once

    with Session(engine) as replica:  # type: ignore[arg-type]
        assert sla.evaluate(replica, now()) == []


def test_conversion_and_deletion_stop_clocks(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session, "won")
    _start(sla, session, "gone")
    assert sla.stop_clocks(session, "won", "converted", now()) == 1
    assert sla.stop_clocks(session, "gone", "deleted", now()) == 1
    assert sla.stop_clocks(session, "gone", "deleted", now()) == 0
    session.commit()
    clock_at.move_to(datetime(2026, 12, 31, 12, 0, tzinfo=NY))
    assert sla.evaluate(session, now()) == []
    with pytest.raises(ValueError, match="stop reason"):
        sla.stop_clocks(session, "won", "bored", now())


def test_merge_moves_clocks_to_the_survivor(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    loser = _start(sla, session, "dup")
    clock_at.shift(timedelta(minutes=1))
    survivor_own = _start(sla, session, "keep", owner_email="bo@example.com")
    assert sla.merge(session, "dup", "keep", now()) == 1
    session.commit()
    assert loser.lead_key == "keep" and loser.ended_at is None
    assert survivor_own.end_reason == "merged"  # the later deadline gives way
    clock_at.move_to(MONDAY_0955)
    [task] = sla.evaluate(session, now())
    assert isinstance(task, CreateTask) and task.lead_key == "keep"
    assert task.owner_email == "ana@example.com"


def test_lapsed_cadence_is_flagged_once(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session, "thin")
    _start(sla, session, "worked")
    monday = MONDAY_0955 - timedelta(minutes=30)
    sla.record_touches(
        session,
        [
            Touch("thin", "ana@example.com", "email", "email", monday),
            Touch("worked", "ana@example.com", "email", "email", monday),
            Touch("worked", "ana@example.com", "call", "phone", monday + timedelta(hours=3)),
            Touch("worked", "ana@example.com", "email", "email", monday + timedelta(days=1)),
        ],
    )
    session.commit()
    # 5 business days of 8h from Fri 16:55: due Fri 2026-11-27 16:55 (Thanksgiving skipped).
    clock_at.move_to(datetime(2026, 11, 30, 16, 54, tzinfo=NY))
    assert sla.evaluate(session, now()) == []
    clock_at.move_to(datetime(2026, 11, 30, 16, 55, tzinfo=NY))
    [flag] = sla.evaluate(session, now())
    session.commit()
    assert isinstance(flag, Flag) and flag.kind == "cadence_lapsed" and flag.lead_key == "thin"
    assert "1 touch(es) on 1 channel(s)" in flag.detail
    assert sla.evaluate(session, now()) == []


def test_holiday_and_always_open_calendars_set_the_deadline(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    clock_at.move_to(datetime(2026, 11, 25, 16, 30, tzinfo=NY))  # the day before Thanksgiving
    fast = _start(sla, session, "before-holiday")
    instant = _start(sla, session, "instant", lane="instant")
    assert fast.due_at == datetime(2026, 11, 27, 9, 30, tzinfo=NY)
    assert instant.due_at == now() + timedelta(minutes=5)
    clock_at.shift(timedelta(minutes=5))
    [notice] = sla.evaluate(session, now())
    assert isinstance(notice, NotifyManager) and notice.webhook_url is None


def test_deadline_across_spring_forward_fires_at_local_opening(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    clock_at.move_to(datetime(2026, 3, 6, 16, 30, tzinfo=NY))  # Friday, EST; DST starts Sunday
    clock = _start(sla, session, "dst")
    session.commit()
    assert clock.due_at == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # Monday 09:30 EDT
    clock_at.move_to(datetime(2026, 3, 9, 13, 29, tzinfo=UTC))
    assert sla.evaluate(session, now()) == []
    clock_at.move_to(datetime(2026, 3, 9, 13, 30, tzinfo=UTC))
    [task] = sla.evaluate(session, now())
    assert isinstance(task, CreateTask) and "09:30 EDT" in task.body


def test_pulled_activities_become_touches(
    sla: SlaEngine, session: Session, clock_at: time_machine.Traveller
) -> None:
    _start(sla, session)
    call = Activity(
        connection="hubspot",
        id="call-9",
        contact_id="c-1",
        kind=ActivityKind.CALL,
        occurred_at=now() + timedelta(minutes=3),
        actor=Actor.REP,
        channel="phone",
        owner_id="owner-7",
    )
    touch = Touch.from_activity(call, lead_key="lead-1", rep_email="ana@example.com")
    assert (touch.kind, touch.key) == ("call", "hubspot:call-9")
    assert sla.record_touches(session, [touch]) == 1
    clock = session.exec(select(SlaClock)).one()
    assert clock.first_touch_at == now() + timedelta(minutes=3)
    assert clock.first_touch_by == "ana@example.com"
    assert clock.first_touch_seconds == 180  # Friday 16:55 to 16:58, inside business hours
    enum_touch = Touch("lead-1", "ana@example.com", ActivityKind.EMAIL, "email", now())
    assert sla.record_touches(session, [enum_touch]) == 1
    session.commit()
    kinds = sorted(t.kind for t in session.exec(select(SlaTouch)).all())
    assert kinds == ["call", "email"]


def _clock_rows(session: Session) -> list[tuple[object, ...]]:
    return sorted(
        (c.id, c.lead_key, c.owner_email, c.due_at, c.ended_at, c.end_reason)
        for c in session.exec(select(SlaClock)).all()
    )


def test_a_chunk_of_starts_ends_and_starts_exactly_what_single_starts_do(
    sla: SlaEngine, engine: object, clock_at: time_machine.Traveller
) -> None:
    from routing.sla.starts import ClockStart

    t0 = now()
    later = t0 + timedelta(minutes=30)
    starts = [
        ClockStart("lead-1", "ana@example.com", "fast", t0, territory="us-east"),
        ClockStart("lead-2", "bo@example.com", "mql", t0),
        ClockStart("lead-1", "Bo@Example.com", "fast", later),  # same lead again: ends the first
        ClockStart("lead-3", "ana@example.com", "nurture", t0),  # no policy: no clock
        ClockStart("lead-2", "bo@example.com", "mql", t0),  # repeated: kept, not restarted
    ]
    with Session(engine) as one_by_one:  # type: ignore[arg-type]
        for s in starts:
            sla.start_clock(
                one_by_one,
                lead_key=s.lead_key,
                owner_email=s.owner_email,
                lane=s.lane,
                territory=s.territory,
                started_at=s.started_at,
            )
        one_by_one.commit()
        expected = _clock_rows(one_by_one)
        for clock in one_by_one.exec(select(SlaClock)).all():
            one_by_one.delete(clock)
        one_by_one.commit()
    with Session(engine) as batched:  # type: ignore[arg-type]
        running = sla.start_clocks(batched, starts)
        batched.commit()
        assert _clock_rows(batched) == expected
        assert len(running) == 4 and running[-1] == running[1]
        assert sla.start_clocks(batched, starts[2:3]) == running[2:3]  # idempotent across chunks
        [first] = [c for c in batched.exec(select(SlaClock)) if c.owner_email == "ana@example.com"]
        assert first.end_reason == "reassigned" and first.ended_at == later
