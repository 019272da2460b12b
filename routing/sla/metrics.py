"""SLA metrics for reports: compliance, business time to first touch, breaches, escalations,
and touches per lead within the follow-up cadence; overall and by lane, territory and rep."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from config.sla import CadenceRule
from routing.sla.tables import SlaClock, SlaRungFired, SlaTouch
from sync.store.key_in import key_in

# a pre-breach reminder and a cadence flag are not escalations of a missed first touch
NOT_ESCALATIONS = frozenset({"remind_owner", "cadence_lapsed"})
PAGE = 1000  # clocks judged a query (and the keys of its IN lists)


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


class _Clock(NamedTuple):
    """What judging a clock reads: not its context text (score reasons, recent activity)."""

    id: str
    started_at: datetime
    lane: str
    territory: str | None
    owner_email: str
    policy: str
    due_at: datetime
    cadence_due_at: datetime | None
    first_touch_at: datetime | None
    first_touch_seconds: float | None
    ended_at: datetime | None


_COLUMNS = tuple(col(getattr(SlaClock, name)) for name in _Clock._fields)


def _verdict(clock: _Clock, until: datetime) -> str:
    """in_window | breached | pending | excluded"""
    touched = clock.first_touch_at is not None and clock.first_touch_at <= until
    if touched:
        assert clock.first_touch_at is not None
        return "in_window" if clock.first_touch_at <= clock.due_at else "breached"
    end = until if clock.ended_at is None else min(clock.ended_at, until)
    if end >= clock.due_at:
        return "breached"
    if clock.ended_at is not None and clock.ended_at <= until:
        return "excluded"
    return "pending"


def _percentile(values: list[float], share: float) -> float:
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(share * 100) - 1]


@dataclass
class _Tally:
    """A group's verdicts, escalations and first-touch times (a median needs them all)."""

    verdicts: Counter[str] = field(default_factory=Counter)
    escalations: int = 0
    first_touch: list[float] = field(default_factory=list)

    def add(self, clock: _Clock, verdict: str, escalations: int, until: datetime) -> None:
        self.verdicts[verdict] += 1
        self.escalations += escalations
        if (
            clock.first_touch_seconds is not None
            and clock.first_touch_at is not None
            and clock.first_touch_at <= until
        ):
            self.first_touch.append(clock.first_touch_seconds)

    def stats(self) -> ComplianceStats:
        verdicts, first_touch = self.verdicts, self.first_touch
        judged = verdicts["in_window"] + verdicts["breached"]
        return ComplianceStats(
            judged=judged,
            in_window=verdicts["in_window"],
            breached=verdicts["breached"],
            pending=verdicts["pending"],
            escalations=self.escalations,
            median_first_touch=timedelta(seconds=statistics.median(first_touch))
            if first_touch
            else None,
            p90_first_touch=timedelta(seconds=_percentile(first_touch, 0.9))
            if first_touch
            else None,
            compliance=verdicts["in_window"] / judged if judged else None,
        )


@dataclass
class _CadenceTally:
    leads: int = 0
    met: int = 0
    touches: int = 0

    def stats(self) -> CadenceStats:
        if not self.leads:
            return CadenceStats()
        return CadenceStats(
            leads=self.leads,
            met=self.met,
            lapsed=self.leads - self.met,
            touches_per_lead=self.touches / self.leads,
        )


def _pages(session: Session, since: datetime, until: datetime) -> Iterator[list[_Clock]]:
    """The clocks started in [since, until), `PAGE` at a time in (started_at, id) order."""
    after: _Clock | None = None
    while True:
        query = select(*_COLUMNS).where(
            col(SlaClock.started_at) >= since, col(SlaClock.started_at) < until
        )
        if after is not None:
            query = query.where(
                (col(SlaClock.started_at) > after.started_at)
                | ((col(SlaClock.started_at) == after.started_at) & (col(SlaClock.id) > after.id))
            )
        rows = session.execute(
            query.order_by(col(SlaClock.started_at), col(SlaClock.id)).limit(PAGE)
        ).all()
        page = [_Clock(*row) for row in rows]
        if page:
            yield page
        if len(page) < PAGE:
            return
        after = page[-1]


def _escalations(
    session: Session, ids: list[str], since: datetime, until: datetime
) -> Counter[str]:
    """Escalation rungs fired in [since, until) for these clocks."""
    return Counter(
        {
            clock_id: n
            for clock_id, n in session.execute(
                select(col(SlaRungFired.clock_id), func.count())
                .where(
                    key_in(col(SlaRungFired.clock_id), ids),
                    col(SlaRungFired.fired_at) >= since,
                    col(SlaRungFired.fired_at) < until,
                    col(SlaRungFired.action).not_in(sorted(NOT_ESCALATIONS)),
                )
                .group_by(col(SlaRungFired.clock_id))
            )
        }
    )


def compute_metrics(
    session: Session,
    since: datetime,
    until: datetime,
    cadence_rules: Mapping[str, CadenceRule] | None = None,
) -> SlaMetrics:
    """Metrics for clocks started in [since, until), as of `until`; escalations fired in the
    same span. `cadence_rules` maps policy names to their cadence (for met/lapsed). The clocks
    are read a page at a time: a report's memory does not grow with the leads of its window."""
    rules = cadence_rules or {}
    overall = _Tally()
    groups: dict[str, defaultdict[str, _Tally]] = {
        name: defaultdict(_Tally) for name in ("lane", "territory", "owner_email")
    }
    cadence = _CadenceTally()
    for page in _pages(session, since, until):
        fired = _escalations(session, [c.id for c in page], since, until)
        for clock in page:
            verdict = _verdict(clock, until)
            for tally in (
                overall,
                *(groups[name][getattr(clock, name) or "(none)"] for name in groups),
            ):
                tally.add(clock, verdict, fired[clock.id], until)
        _count_cadence(session, page, until, rules, cadence)
    by_action = {
        str(action): int(n)
        for action, n in session.execute(
            select(col(SlaRungFired.action), func.count())
            .where(col(SlaRungFired.fired_at) >= since, col(SlaRungFired.fired_at) < until)
            .group_by(col(SlaRungFired.action))
        )
    }
    return SlaMetrics(
        since=since,
        until=until,
        overall=overall.stats(),
        by_lane=_stats(groups["lane"]),
        by_territory=_stats(groups["territory"]),
        by_rep=_stats(groups["owner_email"]),
        escalations_by_action=dict(sorted(by_action.items())),
        cadence=cadence.stats(),
    )


def _stats(tallies: Mapping[str, _Tally]) -> dict[str, ComplianceStats]:
    return {name: tally.stats() for name, tally in sorted(tallies.items())}


def _count_cadence(
    session: Session,
    clocks: list[_Clock],
    until: datetime,
    rules: Mapping[str, CadenceRule],
    cadence: _CadenceTally,
) -> None:
    """A page's clocks whose cadence window closed by `until` (not stopped first): met or not."""
    closed = [
        c
        for c in clocks
        if c.cadence_due_at is not None
        and c.cadence_due_at <= until
        and (c.ended_at is None or c.ended_at >= c.cadence_due_at)
        and c.policy in rules
    ]
    if not closed:
        return
    counts: dict[str, tuple[int, int]] = {
        clock_id: (n, channels)
        for clock_id, n, channels in session.execute(
            select(
                col(SlaTouch.clock_id),
                func.count(col(SlaTouch.id)),
                func.count(func.distinct(col(SlaTouch.channel))),
            )
            .join(SlaClock, col(SlaClock.id) == col(SlaTouch.clock_id))
            .where(
                key_in(col(SlaTouch.clock_id), [c.id for c in closed]),
                col(SlaTouch.at) <= col(SlaClock.cadence_due_at),
            )
            .group_by(col(SlaTouch.clock_id))
        )
    }
    for clock in closed:
        n, channels = counts.get(clock.id, (0, 0))
        rule = rules[clock.policy]
        cadence.leads += 1
        cadence.touches += n
        cadence.met += int(n >= rule.touches and channels >= rule.channels)
