"""Decision stage: score -> lifecycle -> route -> SLA clocks, planned into the outbox.

Runs inside one decision transaction per chunk of people; it reads only the state store (what the
pull stage mirrored) and writes decisions (person state, assignments, clocks, outbox items). A dry
run executes exactly this and rolls the transaction back.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from time import perf_counter
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from config.model import HandoffConfig
from connectors.records import ActivityKind, Actor
from routing import ledger
from routing.sla.actions import Touch, stable_key
from routing.sla.starts import ClockStart
from routing.tables import Assignment
from scoring.lifecycle import is_forward, is_regression
from sync.ledger import RunLedger
from sync.outbox import OutboxPlanner
from sync.people import (
    PersonView,
    current_stage,
    guess_account_owner,
    load_people,
    rejection_reason,
)
from sync.person_state import StateRow, load_states, save_states
from sync.reasons import ReasonPublisher, ScoreWords, keep_written
from sync.run_people import RunPeople
from sync.store.tables import PersonRecord, PersonState

AUTOMATION_STAGES = ("subscriber", "lead", "mql", "recycled")
LANE_FAST = "fast"
SALES_OWNED = frozenset({"sal", "sql", "opportunity", "customer"})
LANE_MQL = "mql"


@dataclass
class DecisionTally:
    scored: int = 0
    stage_changes: Counter[str] = field(default_factory=Counter)
    routed: Counter[str] = field(default_factory=Counter)  # by rule
    assignments: list[dict[str, Any]] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)  # by reason code ('' = missing)
    clocks_started: int = 0
    sla_actions: Counter[str] = field(default_factory=Counter)
    flags: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scores: Counter[int] = field(default_factory=Counter)  # score -> people (flat in N)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    unmatched_owners: Counter[tuple[str, str]] = field(default_factory=Counter)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    stages: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))


def unmatched_owner_problems(tally: DecisionTally) -> list[str]:
    """One line per owner a CRM does not know, with how many people it held back."""
    return [
        f"{connection}: no user with email {email} ({n} people not assigned there): add the "
        "user in that CRM, or fix routing in handoff.yaml (owners are matched by email, never guessed)"
        for (connection, email), n in sorted(tally.unmatched_owners.items())
    ]


class DecisionStage:
    """Decides for a set of people and plans their CRM writes."""

    def __init__(
        self,
        config: HandoffConfig,
        engines: DomainEngines,
        planner: OutboxPlanner,
        people: RunPeople | None = None,
    ) -> None:
        self.config = config
        self.engines = engines
        self.planner = planner
        self.session = planner.session
        self.now = planner.now
        self.tally = DecisionTally()
        self._touches: list[Touch] = []
        self._starts: list[ClockStart] = []
        # people deferred for routing, with their score and touches for the routing pass: in
        # the run's ledger on disk (`_kept`: the chunk in hand's)
        self.people = people or RunPeople(RunLedger())
        self._kept: dict[str, tuple[Any, list[Touch], ScoreWords]] = {}
        self.reasons = ReasonPublisher(engines.scoring, config)

    def forget_held(self, keys: Iterable[str]) -> None:
        """These people changed after they were deferred (a merge): score them afresh."""
        self.people.forget(keys)

    # -- per person ----------------------------------------------------------------------------

    def decide_many(self, keys: list[str], *, defer_routing: bool = False) -> list[str]:
        """Decide a chunk of people with their data loaded up front (a few queries, not N).

        With `defer_routing`, people who need an owner get only their score fields planned and
        are returned: the run decides the rest for them after everyone else, once the pull is
        complete (routing reads the whole store: account owners by domain, open leads per rep),
        whatever order the pull had."""
        tick = perf_counter()
        self._kept = self.people.kept(keys)
        held = [key for key in keys if key in self._kept]  # scored already: no activities
        people = load_people(
            self.session,
            [key for key in keys if key not in self._kept],
            self.config,
            self.engines.owners,
        )
        people.update(
            load_people(self.session, held, self.config, self.engines.owners, with_activities=False)
        )
        states = load_states(self.session, keys)
        self.settle(people.values())
        for view in people.values():  # the majority guess: only when opted in (passes.py)
            guess_account_owner(view, self.engines.account_owners)
        deferred: list[str] = []
        decided: list[StateRow] = []
        seconds = self.tally.seconds
        seconds["load"] += perf_counter() - tick
        with self.session.no_autoflush:
            for key in keys:
                person = people.get(key)
                if person is not None:
                    state = states.get(key) or StateRow(key)
                    if self.decide(person, state, defer_routing=defer_routing):
                        decided.append(state)
                    else:
                        deferred.append(key)
            tick = perf_counter()
            save_states(self.session, decided)
            if self._starts:  # the chunk's handoffs in two statements, before its touches
                running = self.engines.sla.start_clocks(self.session, self._starts)
                self.tally.clocks_started += len(running)
                self._starts = []
            if self._touches:  # one call per chunk, not per person
                self.engines.sla.record_touches(self.session, self._touches)
                self._touches = []
            seconds["state"] += perf_counter() - tick
        return deferred

    def settle(self, people: Iterable[PersonView]) -> None:
        """Read these people as their CRMs will be once Handoff's own unconfirmed writes land,
        with Handoff's last owner decision (see `PersonView.settle`): a decision already made
        and committed by a run that was killed is not made again."""
        people = list(people)
        intended = self.planner.intended(
            (r.connection, r.crm_id) for p in people for r in p.records
        )
        last = ledger.latest(self.session, [p.key for p in people])
        for view in people:
            ours = {
                (r.connection, r.crm_id): intended[(r.connection, r.crm_id)]
                for r in view.records
                if (r.connection, r.crm_id) in intended
            }
            view.settle(ours, self.engines.owners, last.get(view.key))

    def decide(self, person: PersonView, state: StateRow, *, defer_routing: bool = False) -> bool:
        """Decide one person; False when routing is needed and deferred: then only the score
        fields are planned (so they are written behind the pull), and the score is kept for the
        routing pass, which plans the rest. Nothing else is saved before that pass: a run cut
        short in between decides the person afresh next time."""
        key = person.key
        held = self._kept.pop(key, None)
        seconds = self.tally.seconds
        tick = perf_counter()
        if held is not None:
            score, words = held[0], held[2]
        else:
            score = self.engines.scoring.score(person.contact, person.activities, self.now)
            words = self.reasons.words(person, state, score)
            seconds["score"] += perf_counter() - tick
        current = current_stage(self.config, person, state.stage)
        review = self.engines.lifecycle.review(
            current,
            score,
            rejection_reason=rejection_reason(self.config, person),
            stage_changed_at=state.stage_changed_at,
            now=self.now,
        )
        stage = str(review.changes[-1].to_stage) if review.changes else current
        # A demo request from a lead sales already owns (SAL and beyond) is the rep's to work:
        # no new handoff, no fast-lane clock that would escalate it away from the rep.
        fast = score.fast_lane and not score.disqualified and stage not in SALES_OWNED
        became_ready = (fast and not state.fast_lane) or (stage == "mql" and current != "mql")
        needs_owner = became_ready or ((stage == "mql" or fast) and not person.owner_active)
        if needs_owner and defer_routing:
            tick = perf_counter()
            for record in person.write_targets():
                self._plan_scores(record, score, words)
            seconds["plan"] += perf_counter() - tick
            touches = held[1] if held is not None else self._touches_of(person)
            self.people.defer(key, (score, touches, words))
            return False
        self.tally.scored += 1
        self.tally.scores[score.total] += 1
        for change in review.changes:
            self.tally.stage_changes[f"{change.from_stage}->{change.to_stage}"] += 1
            if change.code is not None:
                self.tally.rejections[change.code] += 1
        for flag in review.flags:
            if "rejection" in flag.kind:
                self.tally.rejections[""] += 1
            self.tally.flags.append({"person": key, "flag": flag.kind, "detail": flag.detail})
        self.tally.stages[stage] += 1

        owner_email = person.owner_email
        tick = perf_counter()
        if needs_owner:
            owner_email = self._route(person, score.fast_lane, state, owner_email)
            seconds["route"] += perf_counter() - tick
            tick = perf_counter()
        self._plan_person_writes(person, score, words, stage, current, owner_email)
        seconds["plan"] += perf_counter() - tick
        self._touches += held[1] if held is not None else self._touches_of(person)
        self._update_state(state, score, stage, current, owner_email)
        keep_written(state, score, words)
        state.source_modified_at = person.source_modified_at
        return True

    def _route(
        self, person: PersonView, fast: bool, state: StateRow, owner: str | None
    ) -> str | None:
        lane = LANE_FAST if fast else LANE_MQL
        lead = replace(person.routing_lead(), decision_key=self.decision_key(person, "route"))
        decision = self.engines.router.route(
            self.session, lead, self.now, lane="fast" if fast else "nurture"
        )
        self._count_assignment(person, decision)
        if not decision.owner_email:
            return owner
        self._starts.append(self._clock_start(person, decision, lane))
        return decision.owner_email

    def decision_key(self, person: PersonView, purpose: str) -> str:
        """One routing decision: this person, at this moment, for this purpose."""
        return stable_key("routing-decision", person.key, self.now.isoformat(), purpose)

    def _clock_start(self, person: PersonView, decision: Any, lane: str) -> ClockStart:
        """The handoff: the new owner's SLA clock starts now (a running one ends as reassigned)."""
        return ClockStart(
            lead_key=person.key,
            owner_email=decision.owner_email,
            lane=lane,
            territory=decision.territory,
            started_at=self.now,
            stage="mql",
            context=(person.summary_line,),
        )

    def _start_clock(self, person: PersonView, decision: Any, lane: str) -> None:
        start = self._clock_start(person, decision, lane)
        self.tally.clocks_started += len(self.engines.sla.start_clocks(self.session, [start]))

    def reassign(self, person: PersonView, decision: Any, lane: str) -> bool:
        """An SLA escalation picked a new owner: write it and restart the clock for them. Only
        when the owner write is planned: otherwise the CRM keeps the old owner, and so does the
        report (a flag says why)."""
        refused = self._write_owners(person, decision.owner_email)
        if refused:
            self._owner_not_written(
                person, "reassign_not_written", f"escalation chose {decision.owner_email}", refused
            )
            self.session.execute(  # and the routing ledger forgets the choice too
                delete(Assignment).where(
                    col(Assignment.lead_key) == person.key,
                    col(Assignment.owner_email) == decision.owner_email,
                    col(Assignment.rule) == decision.rule,
                    col(Assignment.assigned_at) == self.now,
                )
            )
            return False
        self._count_assignment(person, decision)
        self._start_clock(person, decision, lane)
        state = self.session.get(PersonState, person.key)
        if state is not None:
            state.owner_email = decision.owner_email
            self.session.add(state)
        return True

    def _count_assignment(self, person: PersonView, decision: Any) -> None:
        self.tally.routed[decision.rule] += 1
        self.tally.assignments.append(
            {
                "person": person.key,
                "owner": decision.owner_email,
                "rule": decision.rule,
                "territory": decision.territory,
                "reason": decision.reason,
            }
        )

    def _plan_owner(self, person: PersonView, owner_email: str) -> None:
        refused = self._write_owners(person, owner_email)
        if refused:  # routed, but the rep would never see it in the CRM: say so, never silence
            self._owner_not_written(
                person, "route_not_written", f"routed to {owner_email}", refused
            )

    def _write_owners(self, person: PersonView, owner_email: str) -> list[str]:
        """Plan the owner on every record; why not, when no record takes it (else [])."""
        refused = [
            why
            for record in person.write_targets()
            if (why := self._write_owner(record, owner_email, f"routed to {owner_email}"))
        ]
        targets = person.write_targets()
        if not targets:
            return ["no CRM record to write"]
        return refused if len(refused) == len(targets) else []

    def _owner_not_written(
        self, person: PersonView, flag: str, what: str, refused: list[str]
    ) -> None:
        self.tally.flags.append(
            {
                "person": person.key,
                "owner": person.owner_email,
                "flag": flag,
                "detail": f"{what}, but the owner stays: " + "; ".join(refused),
            }
        )

    def _write_owner(self, record: PersonRecord, owner_email: str, reason: str) -> str | None:
        """Plan the record's owner as the CRM user with this email (never a guess); why not,
        when the record keeps another owner."""
        owner_id = self.engines.owners.id_for(record.connection, owner_email)
        if owner_id is None:
            self.tally.unmatched_owners[(record.connection, owner_email)] += 1
            return f"{record.connection} has no user {owner_email}"
        self.planner.write_field(
            record.connection,
            record.object_type,
            record.crm_id,
            "owner_id",
            owner_id,
            record.fields.get("owner_id"),
            reason,
        )
        return self.planner.refused

    def _plan_person_writes(
        self,
        person: PersonView,
        score: Any,
        words: ScoreWords,
        stage: str,
        current: str,
        owner_email: str | None,
    ) -> None:
        for record in person.write_targets():
            crm = record.fields
            self.planner.observe(record.connection, record.object_type, record.crm_id, crm)
            self._plan_scores(record, score, words)
            if record.connection == person.lifecycle_from:
                if stage != current and current in AUTOMATION_STAGES:
                    self.planner.write_field(
                        record.connection,
                        record.object_type,
                        record.crm_id,
                        "lifecycle_stage",
                        stage,
                        crm.get("lifecycle_stage"),
                        f"lifecycle {current} -> {stage}",
                        clear_first=is_regression(current, stage),
                    )
            elif is_forward(person.held(record, "lifecycle_stage"), stage):
                # Another system owns lifecycle: mirror its stage here, forward only.
                self.planner.write_field(
                    record.connection,
                    record.object_type,
                    record.crm_id,
                    "lifecycle_stage",
                    stage,
                    crm.get("lifecycle_stage"),
                    f"lifecycle mirrored from {person.lifecycle_from}: {stage}",
                )
        if owner_email and owner_email != person.owner_email:
            self._plan_owner(person, owner_email)
        elif owner_email:
            self._mirror_owner(person, owner_email)
        self._compare_systems(person)

    def _plan_scores(self, record: PersonRecord, score: Any, words: ScoreWords) -> None:
        values = self.reasons.values(record.connection, record.fields, score, words)
        for name, value in values:
            self.planner.write_field(
                record.connection,
                record.object_type,
                record.crm_id,
                name,
                value,
                record.fields.get(name),
                "score",
            )

    def _mirror_owner(self, person: PersonView, owner_email: str) -> None:
        """Records in other systems follow the owner of the owning system (same email)."""
        for record in person.write_targets():
            current = self.engines.owners.email_for(
                record.connection, person.held(record, "owner_id")
            )
            if record.connection == person.owner_from or current == owner_email:
                continue
            if not self.planner.managed(record.connection, record.object_type, "owner_id"):
                continue
            self._write_owner(
                record, owner_email, f"owner mirrored from {person.owner_from}: {owner_email}"
            )

    def _compare_systems(self, person: PersonView) -> None:
        """One person in several CRMs: report where they disagree, and true duplicates."""
        seen: dict[tuple[str, str], int] = {}
        for record in person.records:
            slot = (record.connection, record.object_type)
            seen[slot] = seen.get(slot, 0) + 1
        for (connection, object_type), n in sorted(seen.items()):
            if n > 1:
                self.tally.duplicates.append(
                    {
                        "person": person.key,
                        "connection": connection,
                        "object": object_type,
                        "records": n,
                    }
                )
        targets = person.write_targets()
        if len(targets) < 2:
            return
        stages = {t.connection: t.fields.get("lifecycle_stage") for t in targets}
        owners = {
            t.connection: self.engines.owners.email_for(t.connection, t.fields.get("owner_id"))
            for t in targets
        }
        for name, values in (("lifecycle_stage", stages), ("owner", owners)):
            if len({v for v in values.values() if v not in (None, "")}) > 1:
                self.tally.disagreements.append(
                    {"person": person.key, "field": name, "values": values}
                )

    def _touches_of(self, person: PersonView) -> list[Touch]:
        touches = []
        for activity in person.activities:
            if activity.actor is not Actor.REP or activity.kind not in TOUCH_KINDS:
                continue
            email = self.engines.owners.email_for(activity.connection, activity.owner_id)
            if email:
                touches.append(Touch.from_activity(activity, lead_key=person.key, rep_email=email))
        return touches

    def _update_state(
        self, state: StateRow, score: Any, stage: str, current: str, owner_email: str | None
    ) -> None:
        state.score = score.total
        state.fit = score.fit
        state.behaviour = score.behaviour
        state.mql = score.mql
        state.fast_lane = score.fast_lane
        state.disqualified = score.disqualified
        state.track = str(score.track)
        state.model_version = score.model_version
        state.computed_at = self.now
        if stage != state.stage:
            state.stage_changed_at = self.now
        state.stage = stage
        state.owner_email = owner_email


TOUCH_KINDS = frozenset({ActivityKind.CALL, ActivityKind.EMAIL, ActivityKind.MEETING})


@dataclass
class DomainEngines:
    """The pure domain engines a run uses, built once from config."""

    scoring: Any
    lifecycle: Any
    router: Any
    sla: Any
    owners: Any
    account_owners: dict[str, str] = field(default_factory=dict)  # company domain -> owner


def dirty_people(
    session: Session, now: datetime, full: bool = False, page: int = 5000
) -> Iterator[list[str]]:
    """People whose records changed since they were last decided, or due their daily decay
    pass, in key order a page at a time (each page one query: nothing per person is kept, and
    a page's decisions may be committed before the next is read).

    Reads plain columns (no ORM objects, no JSON): at 100,000 people this runs every run."""
    after = ""
    while True:
        latest = session.execute(
            sa_select(col(PersonRecord.person_key), func.max(col(PersonRecord.modified_at)))
            .where(col(PersonRecord.status) == "active", col(PersonRecord.person_key) > after)
            .group_by(col(PersonRecord.person_key))
            .order_by(col(PersonRecord.person_key))
            .limit(page)
        ).all()
        if not latest:
            return
        after = latest[-1][0]
        if full:
            yield [key for key, _ in latest]
        else:
            decided = {
                key: (computed_at, source_modified_at)
                for key, computed_at, source_modified_at in session.execute(
                    sa_select(
                        col(PersonState.person_key),
                        col(PersonState.computed_at),
                        col(PersonState.source_modified_at),
                    ).where(col(PersonState.person_key).in_([key for key, _ in latest]))
                )
            }
            out = []
            for key, modified in latest:
                computed_at, source_modified_at = decided.get(key, (None, None))
                if (
                    computed_at is None
                    or source_modified_at is None
                    or modified > source_modified_at
                    or computed_at.date() < now.date()
                ):
                    out.append(key)
            yield out
        if len(latest) < page:
            return
