"""The SLA engine: starts, stops and restarts clocks, credits touches, fires the ladder.

Every method works inside the caller's session and never commits: the pipeline commits the
engine's bookkeeping together with the outbox rows it makes from the returned actions, so a crash
before the commit loses both and a rerun decides again (same deterministic task keys), and a
commit records both (the unique rung rows make a rerun or another replica emit nothing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from sqlmodel import col

from config.sla import SlaConfig, SlaPolicy
from routing.sla.actions import Flag, SlaAction, Touch
from routing.sla.calendar import BusinessCalendar
from routing.sla.ladder import RungDue, rung_actions, rung_schedule
from routing.sla.metrics import SlaMetrics, compute_metrics
from routing.sla.starts import ClockStart, start_clocks
from routing.sla.tables import SlaClock, SlaRungFired, SlaTouch
from sync.store.key_in import key_in

# running clocks read per page: every open lead's clock at once was ~20 Python objects each held
# to the end of a run (24,000 clocks at 100,000 people: ~30 MB at the run's end; ten times that
# at 1,000,000)
CLOCK_PAGE = 2000
STOP_REASONS = frozenset({"converted", "disqualified", "deleted", "merged", "archived", "recycled"})


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} {value!r} is naive: pass a tz-aware UTC datetime")
    return value.astimezone(UTC)


def _insert_ignore(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when this call inserted the row."""
    dialect = session.get_bind().dialect.name
    table = model.__table__  # Core insert: no ORM bulk machinery per row
    key = sa_inspect(model).primary_key[0]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing().returning(key)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing().returning(key)
    else:  # pragma: no cover - the store supports SQLite and PostgreSQL only
        raise ValueError(f"unsupported state store dialect {dialect!r}: use SQLite or PostgreSQL")
    return session.execute(stmt).first() is not None


class SlaEngine:
    """Business-time SLA clocks for lead follow-up, per `sla:` config."""

    def __init__(self, config: SlaConfig) -> None:
        self.config = config
        self.calendars = {
            name: BusinessCalendar.from_config(cal) for name, cal in config.calendars.items()
        }

    # -- lookups ------------------------------------------------------------------------------

    def _policy(self, clock: SlaClock) -> SlaPolicy | None:
        policy = self.config.policies.get(clock.policy)
        if policy is None:
            found = self.config.policy_for(clock.lane, clock.stage)
            policy = found[1] if found else None
        return policy

    def _calendar(self, clock: SlaClock, policy: SlaPolicy) -> BusinessCalendar:
        calendar = self.calendars.get(clock.calendar)
        if calendar is None:  # the config dropped it since: resolve afresh
            name = self.config.calendar_for(
                policy, owner_email=clock.owner_email, territory=clock.territory
            )
            calendar = self.calendars[name]
        return calendar

    # -- clocks -------------------------------------------------------------------------------

    def start_clock(
        self,
        session: Session,
        *,
        lead_key: str,
        owner_email: str,
        lane: str,
        territory: str | None = None,
        started_at: datetime,
        stage: str | None = None,
        context: Sequence[str] = (),
    ) -> SlaClock | None:
        """Start the first-touch clock at an assignment (call it once per assignment); a new
        assignment restarts it (the open clock ends as `reassigned`). Idempotent for the same
        lead, owner and start. None when no policy watches the lane (any open clock still
        ends: the lead has a new owner)."""
        started_at = _utc(started_at, "started_at")
        start = ClockStart(
            lead_key=lead_key,
            owner_email=owner_email,
            lane=lane,
            started_at=started_at,
            territory=territory,
            stage=stage,
            context=tuple(context),
        )
        running = self.start_clocks(session, [start])
        session.flush()
        return session.get(SlaClock, running[0]) if running else None

    def start_clocks(self, session: Session, starts: Sequence[ClockStart]) -> list[str]:
        """`start_clock` for a chunk of handoffs, in order, in two statements; the running
        clocks' ids (see `routing.sla.starts`)."""
        return start_clocks(self, session, starts)

    def schedule(self, clock: SlaClock) -> tuple[SlaPolicy, BusinessCalendar, list[RungDue]] | None:
        """The clock's policy, calendar and ladder with each rung's due time (what `evaluate`
        fires), for explaining one lead; None when no policy watches it any more."""
        policy = self._policy(clock)
        if policy is None:
            return None
        calendar = self._calendar(clock, policy)
        schedule = rung_schedule(policy, calendar, started_at=clock.started_at, due_at=clock.due_at)
        return policy, calendar, schedule

    def next_rung_due(
        self,
        session: Session,
        *,
        lead_key: str | None = None,
        started_since: datetime | None = None,
    ) -> datetime | None:
        """When the earliest unfired ladder rung of the open clocks owing a first touch falls
        due: the lead's, or those started since a moment (a run's handoffs); None: none waits."""
        query = select(SlaClock).where(
            col(SlaClock.ended_at).is_(None),
            col(SlaClock.first_touch_at).is_(None),
            col(SlaClock.ladder_done).is_(False),
        )
        if lead_key is not None:
            query = query.where(col(SlaClock.lead_key) == lead_key)
        if started_since is not None:
            query = query.where(col(SlaClock.started_at) >= _utc(started_since, "started_since"))
        clocks = list(session.scalars(query))
        fired = self._fired_rungs(session, [clock.id for clock in clocks])
        earliest: datetime | None = None
        for clock in clocks:
            found = self.schedule(clock)
            done = fired.get(clock.id, set())
            for due in found[2] if found is not None else []:
                if due.rung_id not in done:
                    earliest = due.due_at if earliest is None else min(earliest, due.due_at)
                    break
        return earliest

    def open_clocks(self, session: Session, lead_key: str) -> list[SlaClock]:
        """The lead's running clocks (normally one), oldest first."""
        query = select(SlaClock).where(
            col(SlaClock.lead_key) == lead_key, col(SlaClock.ended_at).is_(None)
        )
        return list(session.scalars(query.order_by(col(SlaClock.started_at))))

    def stop_clocks(self, session: Session, lead_key: str, reason: str, at: datetime) -> int:
        """The lead converted, was disqualified, deleted or archived: its clocks stop."""
        if reason not in STOP_REASONS:
            raise ValueError(
                f"stop reason {reason!r}: use one of {', '.join(sorted(STOP_REASONS))}"
            )
        at = _utc(at, "at")
        clocks = self.open_clocks(session, lead_key)
        for clock in clocks:
            clock.ended_at = max(at, clock.started_at)
            clock.end_reason = reason
            clock.cadence_done = True
        session.flush()
        return len(clocks)

    def merge(self, session: Session, loser_key: str, survivor_key: str, at: datetime) -> int:
        """The loser was merged into the survivor: the survivor inherits its clocks (and their
        touches and fired rungs). If that leaves several open clocks, the most urgent one (the
        earliest deadline) keeps running and the others stop as `merged`."""
        at = _utc(at, "at")
        moved = list(session.scalars(select(SlaClock).where(col(SlaClock.lead_key) == loser_key)))
        for clock in moved:
            clock.lead_key = survivor_key
        session.flush()
        open_clocks = sorted(
            self.open_clocks(session, survivor_key), key=lambda c: (c.due_at, c.id)
        )
        for clock in open_clocks[1:]:
            clock.ended_at = max(at, clock.started_at)
            clock.end_reason = "merged"
            clock.cadence_done = True
        session.flush()
        return len(moved)

    # -- touches ------------------------------------------------------------------------------

    def record_touches(self, session: Session, touches: Iterable[Touch]) -> int:
        """Credit qualifying touches to the clocks running when they happened (CRM time).
        The earliest qualifying touch stops the first-touch clock. Returns touches credited."""
        touches = list(touches)
        leads = sorted({touch.lead_key for touch in touches})
        clocks_by_lead: dict[str, list[SlaClock]] = {}
        for begin in range(0, len(leads), 500):  # one query per 500 leads, not one per touch
            query = select(SlaClock).where(
                key_in(col(SlaClock.lead_key), leads[begin : begin + 500])
            )
            for clock in session.scalars(
                query.order_by(col(SlaClock.started_at), col(SlaClock.id))
            ):
                clocks_by_lead.setdefault(clock.lead_key, []).append(clock)
        credited = 0
        for touch in touches:
            at = _utc(touch.at, "touch.at")
            for clock in clocks_by_lead.get(touch.lead_key, ()):
                if clock.started_at > at or (clock.ended_at is not None and clock.ended_at <= at):
                    continue
                policy = self._policy(clock)
                if policy is None or not self._qualifies(policy, clock, touch):
                    continue
                rep = touch.rep_email.strip().lower()
                inserted = _insert_ignore(
                    session,
                    SlaTouch,
                    {
                        "clock_id": clock.id,
                        "touch_key": touch.key,
                        "rep_email": rep,
                        "kind": str(touch.kind),
                        "channel": str(touch.channel),
                        "at": at,
                    },
                )
                credited += int(inserted)
                if clock.first_touch_at is None or at < clock.first_touch_at:
                    calendar = self._calendar(clock, policy)
                    clock.first_touch_at = at
                    clock.first_touch_by = rep
                    clock.first_touch_seconds = calendar.between(
                        clock.started_at, at
                    ).total_seconds()
        session.flush()
        return credited

    @staticmethod
    def _qualifies(policy: SlaPolicy, clock: SlaClock, touch: Touch) -> bool:
        rule = policy.touch
        if touch.kind not in rule.kinds:
            return False
        if rule.channels and touch.channel not in rule.channels:
            return False
        return rule.by == "any_rep" or touch.rep_email.strip().lower() == clock.owner_email

    # -- the ladder ---------------------------------------------------------------------------

    def evaluate(
        self, session: Session, now: datetime, *, lead_keys: Collection[str] | None = None
    ) -> list[SlaAction]:
        """Fire every rung (and cadence flag) due by `now` that no run has fired yet; with
        `lead_keys`, only those leads' (the webhook fast path's step for one person)."""
        now = _utc(now, "now")
        query = select(SlaClock).where(
            col(SlaClock.ended_at).is_(None),
            col(SlaClock.started_at) <= now,
            or_(
                and_(col(SlaClock.first_touch_at).is_(None), col(SlaClock.ladder_done).is_(False)),
                and_(col(SlaClock.cadence_done).is_(False), col(SlaClock.cadence_due_at) <= now),
            ),
        )
        if lead_keys is not None:
            query = query.where(col(SlaClock.lead_key).in_(sorted(lead_keys)))
        query = query.order_by(col(SlaClock.started_at), col(SlaClock.id)).limit(CLOCK_PAGE)
        actions: list[SlaAction] = []
        after: tuple[datetime, str] | None = None
        while True:  # a page of clocks at a time, after the last one seen (its rungs may end it)
            page = query
            if after is not None:
                started, clock_id = after
                page = page.where(
                    or_(
                        col(SlaClock.started_at) > started,
                        and_(col(SlaClock.started_at) == started, col(SlaClock.id) > clock_id),
                    )
                )
            clocks = list(session.scalars(page))
            if not clocks:
                break
            after = (clocks[-1].started_at, clocks[-1].id)
            fired = self._fired_rungs(session, [c.id for c in clocks if c.first_touch_at is None])
            for clock in clocks:
                policy = self._policy(clock)
                if policy is None:
                    continue
                calendar = self._calendar(clock, policy)
                if clock.first_touch_at is None:
                    done = fired.get(clock.id, set())
                    actions += self._fire_ladder(session, clock, policy, calendar, now, done)
                if not clock.cadence_done and clock.cadence_due_at and clock.cadence_due_at <= now:
                    actions += self._judge_cadence(session, clock, policy, now)
            session.flush()  # the page's changes written: its clocks can leave memory
            if len(clocks) < CLOCK_PAGE:
                break
        return actions

    def _fire_ladder(
        self,
        session: Session,
        clock: SlaClock,
        policy: SlaPolicy,
        calendar: BusinessCalendar,
        now: datetime,
        already_fired: set[str],
    ) -> list[SlaAction]:
        actions: list[SlaAction] = []
        schedule = rung_schedule(policy, calendar, started_at=clock.started_at, due_at=clock.due_at)
        for due in schedule:
            if due.due_at > now:
                return actions
            if due.rung_id in already_fired:
                continue  # fired by an earlier run: skip the write (the unique key would too)
            if self._record_rung(session, clock, due.rung_id, due.rung.action, due.due_at, now):
                actions += rung_actions(
                    clock, due, policy, calendar, webhook_url=self.config.webhook_url
                )
        clock.ladder_done = True  # nothing left to fire: later runs skip this clock's ladder
        return actions

    def _judge_cadence(
        self, session: Session, clock: SlaClock, policy: SlaPolicy, now: datetime
    ) -> list[SlaAction]:
        cadence = policy.cadence
        if cadence is None or clock.cadence_due_at is None:  # the config dropped the cadence
            clock.cadence_done = True
            return []
        count, channels = session.execute(
            select(
                func.count(col(SlaTouch.id)), func.count(func.distinct(col(SlaTouch.channel)))
            ).where(col(SlaTouch.clock_id) == clock.id, col(SlaTouch.at) <= clock.cadence_due_at)
        ).one()
        clock.cadence_done = True
        if count >= cadence.touches and channels >= cadence.channels:
            return []
        if not self._record_rung(
            session, clock, "cadence", "cadence_lapsed", clock.cadence_due_at, now
        ):
            return []
        detail = (
            f"{count} touch(es) on {channels} channel(s) by {clock.cadence_due_at.isoformat()}; "
            f"the cadence asks for {cadence.touches} on {cadence.channels}"
        )
        return [
            Flag(
                lead_key=clock.lead_key,
                owner_email=clock.owner_email,
                kind="cadence_lapsed",
                detail=detail,
                clock_id=clock.id,
                rung="cadence",
            )
        ]

    @staticmethod
    def _fired_rungs(session: Session, clock_ids: list[str]) -> dict[str, set[str]]:
        """Rungs already recorded for these clocks (committed by earlier runs)."""
        fired: dict[str, set[str]] = {}
        for offset in range(0, len(clock_ids), 500):
            chunk = clock_ids[offset : offset + 500]
            rows = session.execute(
                select(col(SlaRungFired.clock_id), col(SlaRungFired.rung)).where(
                    col(SlaRungFired.clock_id).in_(chunk)
                )
            )
            for clock_id, rung in rows:
                fired.setdefault(clock_id, set()).add(rung)
        return fired

    @staticmethod
    def _record_rung(
        session: Session,
        clock: SlaClock,
        rung_id: str,
        action: str,
        due_at: datetime,
        now: datetime,
    ) -> bool:
        return _insert_ignore(
            session,
            SlaRungFired,
            {
                "clock_id": clock.id,
                "rung": rung_id,
                "action": action,
                "lane": clock.lane,
                "territory": clock.territory,
                "owner_email": clock.owner_email,
                "fired_at": now,
                "due_at": due_at,
            },
        )

    # -- reports ------------------------------------------------------------------------------

    def metrics(self, session: Session, since: datetime, until: datetime) -> SlaMetrics:
        """Compliance, time to first touch, breaches, escalations and cadence for clocks
        started in [since, until), judged as of `until`."""
        rules = {name: p.cadence for name, p in self.config.policies.items() if p.cadence}
        return compute_metrics(session, _utc(since, "since"), _utc(until, "until"), rules)
