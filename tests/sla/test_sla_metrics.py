"""SLA report metrics over a small, fully worked week (on both stores)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from routing.sla import SlaEngine, Touch, metrics

NY = ZoneInfo("America/New_York")
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=NY)
SINCE = datetime(2026, 11, 16, 0, 0, tzinfo=NY)
UNTIL = datetime(2026, 11, 24, 12, 0, tzinfo=NY)


def _start(
    sla: SlaEngine, session: Session, lead: str, owner: str, lane: str, territory: str, at: datetime
) -> None:
    sla.start_clock(
        session, lead_key=lead, owner_email=owner, lane=lane, territory=territory, started_at=at
    )


def _worked_week(sla: SlaEngine, session: Session) -> None:
    _start(sla, session, "early-bird", "ana@x.com", "fast", "east", MONDAY)
    _start(sla, session, "late", "bo@x.com", "fast", "west", MONDAY)
    _start(sla, session, "ignored", "ana@x.com", "mql", "east", MONDAY)
    _start(sla, session, "won", "bo@x.com", "mql", "west", MONDAY)
    _start(sla, session, "fresh", "cy@x.com", "fast", "east", UNTIL - timedelta(minutes=30))
    _start(sla, session, "last-week", "cy@x.com", "fast", "east", SINCE - timedelta(days=3))
    sla.record_touches(
        session,
        [
            Touch("early-bird", "ana@x.com", "call", "phone", MONDAY + timedelta(minutes=30)),
            Touch("early-bird", "ana@x.com", "email", "email", MONDAY + timedelta(days=1)),
            Touch("early-bird", "ana@x.com", "call", "phone", MONDAY + timedelta(days=2)),
            Touch("late", "bo@x.com", "call", "phone", MONDAY + timedelta(hours=2)),
        ],
    )
    sla.stop_clocks(session, "won", "converted", MONDAY + timedelta(days=1))
    sla.evaluate(session, UNTIL - timedelta(minutes=1))
    session.commit()


def test_compliance_time_to_touch_breaches_escalations_and_cadence(
    sla: SlaEngine, session: Session
) -> None:
    _worked_week(sla, session)

    report = sla.metrics(session, SINCE, UNTIL)

    overall = report.overall
    assert (overall.judged, overall.in_window, overall.breached, overall.pending) == (3, 1, 2, 1)
    assert overall.compliance == 1 / 3
    assert overall.median_first_touch == timedelta(minutes=75)
    assert overall.p90_first_touch == timedelta(minutes=111)
    assert overall.escalations == 2  # the ignored MQL's task and flag; its reminder is not one

    assert report.by_lane["fast"].compliance == 0.5
    assert report.by_lane["fast"].pending == 1
    assert report.by_lane["mql"].breached == 1 and report.by_lane["mql"].judged == 1
    assert report.by_territory["west"].judged == 1 and report.by_territory["west"].breached == 1
    assert report.by_rep["ana@x.com"].compliance == 0.5
    assert report.by_rep["bo@x.com"].median_first_touch == timedelta(hours=2)
    assert "cy@x.com" in report.by_rep and report.by_rep["cy@x.com"].judged == 0

    # Rungs fired inside the span, including those of last week's still-open clock.
    assert report.escalations_by_action == {
        "cadence_lapsed": 2,
        "flag": 1,
        "reassign_backup": 1,
        "remind_owner": 1,
        "task_owner": 2,
    }
    cadence = report.cadence
    assert (cadence.leads, cadence.met, cadence.lapsed) == (2, 1, 1)
    assert cadence.touches_per_lead == 2.0


def test_an_empty_span_reports_nothing(sla: SlaEngine, session: Session) -> None:
    report = sla.metrics(session, SINCE, UNTIL)
    assert report.overall.judged == 0 and report.overall.compliance is None
    assert report.overall.median_first_touch is None
    assert report.by_lane == {} and report.cadence.touches_per_lead is None


def test_clocks_read_a_page_at_a_time_give_the_same_metrics(
    sla: SlaEngine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clocks are read in pages (a report's memory stays flat): four start at the same
    instant, so a page that ends among them must not skip the rest."""
    _worked_week(sla, session)
    whole = sla.metrics(session, SINCE, UNTIL)
    monkeypatch.setattr(metrics, "PAGE", 1)
    assert sla.metrics(session, SINCE, UNTIL) == whole
    assert whole.overall.judged == 3  # what is compared is the worked week, not nothing
