"""SLA metrics for reports: compliance, business time to first touch, breaches, escalations,
and touches per lead within the follow-up cadence; overall and by lane, territory and rep."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from config.sla import CadenceRule
from routing.sla.tables import SlaClock, SlaRungFired, SlaTouch

# a pre-breach reminder and a cadence flag are not escalations of a missed first touch
NOT_ESCALATIONS = frozenset({"remind_owner", "cadence_lapsed"})


@dataclass(frozen=True, slots=True)
class ComplianceStats:
    """`judged` clocks were touched or saw their window lapse; `pending` are still inside it.
    Clocks stopped (converted, deleted ...) inside the window untouched are left out."""

    judged: int = 0
    in_window: int = 0
    breached: int = 0
    pending: int = 0
    escalations: int = 0
    median_first_touch: timedelta | None = None  # business time, touched clocks only
    p90_first_touch: timedelta | None = None
    compliance: float | None = None  # share of judged clocks touched inside the window


@dataclass(frozen=True, slots=True)
class CadenceStats:
    """Clocks whose cadence window closed by the report's end, without being stopped first."""

    leads: int = 0
    met: int = 0
    lapsed: int = 0
    touches_per_lead: float | None = None


@dataclass(frozen=True, slots=True)
class SlaMetrics:
    """Clock figures cover clocks started in [since, until), judged as of `until`;
    `escalations_by_action` counts rungs fired in [since, until), whenever their clock started."""

    since: datetime
    until: datetime
    overall: ComplianceStats
    by_lane: dict[str, ComplianceStats] = field(default_factory=dict)
    by_territory: dict[str, ComplianceStats] = field(default_factory=dict)
    by_rep: dict[str, ComplianceStats] = field(default_factory=dict)
    escalations_by_action: dict[str, int] = field(default_factory=dict)
    cadence: CadenceStats = CadenceStats()


@dataclass(frozen=True, slots=True)
class _Judgement:
    clock: SlaClock
    verdict: str  # in_window | breached | pending | excluded
    escalations: int


def _judge(clock: SlaClock, until: datetime, escalations: int) -> _Judgement:
    touched = clock.first_touch_at is not None and clock.first_touch_at <= until
    if touched:
        assert clock.first_touch_at is not None
        verdict = "in_window" if clock.first_touch_at <= clock.due_at else "breached"
    else:
        end = until if clock.ended_at is None else min(clock.ended_at, until)
        if end >= clock.due_at:
            verdict = "breached"
        elif clock.ended_at is not None and clock.ended_at <= until:
            verdict = "excluded"
        else:
            verdict = "pending"
    return _Judgement(clock, verdict, escalations)


def _percentile(values: list[float], share: float) -> float:
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(share * 100) - 1]


def _stats(judgements: Iterable[_Judgement], until: datetime) -> ComplianceStats:
    verdicts: Counter[str] = Counter()
    escalations = 0
    first_touch: list[float] = []
    for j in judgements:
        verdicts[j.verdict] += 1
        escalations += j.escalations
        clock = j.clock
        if (
            clock.first_touch_seconds is not None
            and clock.first_touch_at is not None
            and clock.first_touch_at <= until
        ):
            first_touch.append(clock.first_touch_seconds)
    judged = verdicts["in_window"] + verdicts["breached"]
    return ComplianceStats(
        judged=judged,
        in_window=verdicts["in_window"],
        breached=verdicts["breached"],
        pending=verdicts["pending"],
        escalations=escalations,
        median_first_touch=timedelta(seconds=statistics.median(first_touch))
        if first_touch
        else None,
        p90_first_touch=timedelta(seconds=_percentile(first_touch, 0.9)) if first_touch else None,
        compliance=verdicts["in_window"] / judged if judged else None,
    )


def _grouped(
    judgements: list[_Judgement], key: Callable[[SlaClock], str | None], until: datetime
) -> dict[str, ComplianceStats]:
    groups: dict[str, list[_Judgement]] = defaultdict(list)
    for j in judgements:
        name = key(j.clock)
        groups[name if name is not None else "(none)"].append(j)
    return {name: _stats(items, until) for name, items in sorted(groups.items())}


def _cadence(
    session: Session,
    clocks: list[SlaClock],
    until: datetime,
    rules: Mapping[str, CadenceRule],
) -> CadenceStats:
    closed = [
        c
        for c in clocks
        if c.cadence_due_at is not None
        and c.cadence_due_at <= until
        and (c.ended_at is None or c.ended_at >= c.cadence_due_at)
        and c.policy in rules
    ]
    if not closed:
        return CadenceStats()
    ids = [c.id for c in closed]
    counts: dict[str, tuple[int, int]] = {}
    for offset in range(0, len(ids), 500):  # bounded IN lists on both stores
        rows = session.execute(
            select(
                col(SlaTouch.clock_id),
                func.count(col(SlaTouch.id)),
                func.count(func.distinct(col(SlaTouch.channel))),
            )
            .join(SlaClock, col(SlaClock.id) == col(SlaTouch.clock_id))
            .where(
                col(SlaTouch.clock_id).in_(ids[offset : offset + 500]),
                col(SlaTouch.at) <= col(SlaClock.cadence_due_at),
            )
            .group_by(col(SlaTouch.clock_id))
        )
        counts.update({clock_id: (n, channels) for clock_id, n, channels in rows})
    met = 0
    total = 0
    for clock in closed:
        n, channels = counts.get(clock.id, (0, 0))
        total += n
        rule = rules[clock.policy]
        met += int(n >= rule.touches and channels >= rule.channels)
    return CadenceStats(
        leads=len(closed), met=met, lapsed=len(closed) - met, touches_per_lead=total / len(closed)
    )


def compute_metrics(
    session: Session,
    since: datetime,
    until: datetime,
    cadence_rules: Mapping[str, CadenceRule] | None = None,
) -> SlaMetrics:
    """Metrics for clocks started in [since, until), as of `until`; escalations fired in the
    same span. `cadence_rules` maps policy names to their cadence (for met/lapsed)."""
    clocks = list(
        session.scalars(
            select(SlaClock)
            .where(col(SlaClock.started_at) >= since, col(SlaClock.started_at) < until)
            .order_by(col(SlaClock.started_at), col(SlaClock.id))
        )
    )
    fired = session.execute(
        select(col(SlaRungFired.clock_id), col(SlaRungFired.action)).where(
            col(SlaRungFired.fired_at) >= since, col(SlaRungFired.fired_at) < until
        )
    ).all()
    by_action: Counter[str] = Counter()
    per_clock: Counter[str] = Counter()
    for clock_id, action in fired:
        by_action[action] += 1
        if action not in NOT_ESCALATIONS:
            per_clock[clock_id] += 1
    judgements = [_judge(c, until, per_clock[c.id]) for c in clocks]
    return SlaMetrics(
        since=since,
        until=until,
        overall=_stats(judgements, until),
        by_lane=_grouped(judgements, lambda c: c.lane, until),
        by_territory=_grouped(judgements, lambda c: c.territory, until),
        by_rep=_grouped(judgements, lambda c: c.owner_email, until),
        escalations_by_action=dict(sorted(by_action.items())),
        cadence=_cadence(session, clocks, until, cadence_rules or {}),
    )
