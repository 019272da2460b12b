"""Decision stage: score -> lifecycle -> route -> SLA clocks, planned into the outbox.

Runs inside one decision transaction per chunk of people; it reads only the state store (what the
pull stage mirrored) and writes decisions (person state, clocks, outbox items). A routing decision
is made and committed in a short routing transaction of its own (routing/transaction.py), so
deciders beside each other share the round robin and the reps' capacity. A dry run executes
exactly this, routing in its own transaction, and rolls it back.

Deciders run beside each other (a bulk run and the speed-to-lead fast path), each holding the
people it decides (sync/person_lock.py). With `decided_after` set (a live run), a person whose
state was decided after that moment (by the fast path, while this run went on) is not decided
again: that decision read the person later than this run did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from time import perf_counter
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import col

from config.model import HandoffConfig
from connectors.records import ActivityKind, Actor
from routing import ledger
from routing.decision import RoutingDecision
from routing.sla.actions import Touch, stable_key
from routing.sla.starts import ClockStart
from routing.tables import Assignment
from routing.transaction import RoutingBatch
from sync.decision_tally import DecisionTally, unmatched_owner_problems
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
from sync.person_writes import PersonWrites
from sync.reasons import ReasonPublisher, ScoreWords, keep_written
from sync.run_people import RunPeople
from sync.store.tables import PersonState

LANE_FAST = "fast"
SALES_OWNED = frozenset({"sal", "sql", "opportunity", "customer"})
LANE_MQL = "mql"
__all__ = ["DecisionStage", "DecisionTally", "DomainEngines", "unmatched_owner_problems"]


class DecisionStage(PersonWrites):
    """Decides for a set of people and plans their CRM writes."""

    def __init__(
        self,
        config: HandoffConfig,
        engines: DomainEngines,
        planner: OutboxPlanner,
        people: RunPeople | None = None,
        *,
        decided_after: datetime | None = None,
    ) -> None:
        self.config = config
        self.decided_after = decided_after
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
        self._deferring: list[tuple[str, Any]] = []  # the chunk's, recorded at once
        self._routing: RoutingBatch | None = None  # a live run's routing decisions, in batches
        self._unrecorded: set[str] = set()  # the chunk's decision keys with no decision recorded
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
        states = load_states(self.session, keys)
        keys = self._not_decided_since(keys, states)
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
        self.people.name(people.values())  # who their records are, in the report's rows
        self.settle(people.values())
        for view in people.values():  # the majority guess: only when opted in (passes.py)
            guess_account_owner(view, self.engines.account_owners)
        if not defer_routing:  # the chunk's routing decisions looked up at once
            wanted = [self.decision_key(view, "route") for view in people.values()]
            self._unrecorded = set(wanted) - ledger.recorded(self.session, wanted)
        deferred: list[str] = []
        decided: list[StateRow] = []
        seconds = self.tally.seconds
        seconds["load"] += perf_counter() - tick
        with self.session.no_autoflush:
            try:
                for key in keys:
                    person = people.get(key)
                    if person is not None:
                        state = states.get(key) or StateRow(key)
                        if self.decide(person, state, defer_routing=defer_routing):
                            decided.append(state)
                        else:
                            deferred.append(key)
            finally:  # the chunk's routing decisions commit before anything else is written
                self.people.defer(self._deferring)
                self._deferring = []
                self._unrecorded = set()
                if self._routing is not None:
                    self._routing.close()
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

    def _not_decided_since(self, keys: list[str], states: dict[str, StateRow]) -> list[str]:
        """The keys, less the people decided after `decided_after` (by the fast path beside
        this run: their decision read them later than this run did; deciding them again could
        undo it)."""
        after = self.decided_after
        if after is None:
            return keys
        later = {
            k for k, s in states.items() if s.computed_at is not None and s.computed_at > after
        }
        if not later:
            return keys
        self.tally.decided_elsewhere += len(later)
        return [key for key in keys if key not in later]

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
        code = rejection_reason(self.config, person)
        review = self.engines.lifecycle.review(
            current,
            score,
            rejection_reason=code,
            stage_changed_at=state.stage_changed_at,
            now=self.now,
            spent_code=state.rejection_code,
        )
        review = self.carried_out(person, review, current)  # sales' verdict, as the CRM takes it
        stage = review.stage(current)
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
            self._deferring.append((key, (score, touches, words)))
            return False
        self.tally.scored += 1
        self.tally.scores[score.total] += 1
        self.tally.count_review(key, review)
        self.tally.stages[stage] += 1

        owner_email = person.owner_email
        tick = perf_counter()
        if needs_owner:
            owner_email = self._route(person, score.fast_lane, state, owner_email)
            seconds["route"] += perf_counter() - tick
            tick = perf_counter()
        self._plan_person_writes(person, score, words, review, current, owner_email)
        seconds["plan"] += perf_counter() - tick
        self._touches += held[1] if held is not None else self._touches_of(person)
        self._update_state(state, score, stage, current, owner_email)
        state.rejection_code = self.engines.lifecycle.spent_code(code, stage, state.rejection_code)
        keep_written(state, score, words)
        state.source_modified_at = person.source_modified_at
        return True

    def _route(
        self, person: PersonView, fast: bool, state: StateRow, owner: str | None
    ) -> str | None:
        lane = LANE_FAST if fast else LANE_MQL
        key = self.decision_key(person, "route")
        lead = replace(
            person.routing_lead(), decision_key=key, decision_unrecorded=key in self._unrecorded
        )
        decision = self._routed(lead, "fast" if fast else "nurture")
        self._count_assignment(person, decision)
        if not decision.owner_email:
            return owner
        self._starts.append(self._clock_start(person, decision, lane))
        return decision.owner_email

    def _routed(self, lead: Any, lane: Any) -> RoutingDecision:
        """The router's decision, made in a routing transaction of its own shared by a batch of
        consecutive decisions and committed with it, by the end of the chunk at the latest (a live
        run: routing/transaction.py), or in the decision transaction (a dry run: rolled back with
        it)."""
        engine: Engine | None = self.engines.routing_engine
        if engine is None:
            decision: RoutingDecision = self.engines.router.route(
                self.session, lead, self.now, lane=lane
            )
            return decision
        if self._routing is None or self._routing.engine is not engine:
            self._routing = RoutingBatch(engine)
        try:
            decision = self.engines.router.route(self._routing.session(), lead, self.now, lane=lane)
        except BaseException as error:
            self._routing.abandon(error)
            raise
        self._routing.decided()
        return decision

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
    routing_engine: Engine | None = None  # a live run's: routing decisions commit on their own
