"""The owner path, the SLA clocks and the pending writes of one person, as explanation data."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial

from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from config.model import HandoffConfig
from routing import ledger
from routing.availability import Lane, day_start, skip_reason
from routing.directory import OwnerDirectory
from routing.router import Router
from routing.sla.engine import SlaEngine
from routing.sla.tables import SlaClock, SlaRungFired
from routing.tables import Assignment as AssignmentRow
from routing.tables import RotationState
from routing.territory import by_rank, field_names, first_match
from scoring.score import Score
from sync.explain.model import (
    Assignment,
    ClockExplanation,
    PendingWrite,
    RepOption,
    RouterDecision,
    RoutingExplanation,
    Rung,
)
from sync.people import OwnerBook, PersonView, account_owners
from sync.store.tables import OutboxItem

UNSETTLED = ("pending", "sending", "rejected", "dead")
CLOCKS_SHOWN = 5


def explain_routing(
    session: Session,
    config: HandoffConfig,
    person: PersonView,
    owners: OwnerBook,
    score: Score,
    as_of: datetime,
) -> RoutingExplanation:
    """The owner the CRM holds, the account owner, the matching territory and its reps, what the
    router decides now (in a rolled-back savepoint: no assignment or rotation is recorded), and
    the assignments the ledger recorded."""
    shared = frozenset(config.scoring.negative.free_mail.domains)
    lead = person.routing_lead()
    domain = lead.company_domain.lower() if lead.company_domain else None
    if domain and person.account_owner_email is None:
        person.account_owner_email = account_owners(session, owners, shared).get(domain)
        lead = person.routing_lead()
    directory = OwnerDirectory.from_owners(owners.owners, as_of)
    lane: Lane = "fast" if score.fast_lane else "nurture"
    territory = first_match(by_rank(config.routing.territories), lead.place)
    reps = []
    for position, rep in enumerate(territory.reps if territory else (), 1):
        why = skip_reason(
            rep,
            directory.status(rep.email),
            as_of,
            lane,
            excluded=False,
            assigned_today=partial(
                ledger.assignments_since, session, rep.email, day_start(rep, as_of)
            ),
            open_leads=partial(_open_leads, session, directory, rep.email),
        )
        reps.append(RepOption(rep.email, position, rep.weight, why))
    rotation = session.get(RotationState, territory.name) if territory else None
    return RoutingExplanation(
        owner=person.owner_email,
        owner_active=person.owner_active,
        account_owner=person.account_owner_email,
        company_domain=domain,
        territory=territory.name if territory else None,
        place=lead.place.describe(field_names(config.routing.territories)),
        reps=reps,
        rotation_turn=rotation.turn if rotation is not None else 0,
        router=_route_now(session, config, directory, person, score, as_of),
        assignments=_assignments(session, person.key),
    )


def _open_leads(session: Session, directory: OwnerDirectory, email: str) -> int:
    status = directory.status(email)
    snapshot = status.open_leads if status is not None else 0
    return snapshot + ledger.assignments_since(session, email, directory.as_of)


def _route_now(
    session: Session,
    config: HandoffConfig,
    directory: OwnerDirectory,
    person: PersonView,
    score: Score,
    as_of: datetime,
) -> RouterDecision | None:
    lane: Lane = "fast" if score.fast_lane else "nurture"
    lead = replace(person.routing_lead(), is_mql=score.mql or score.fast_lane)
    router = Router(config.routing, directory)
    # its own transaction, rolled back: the ledger queues the assignment for the transaction
    # it routes in, and no rotation may move for an explanation
    with Session(session.get_bind()) as scratch:
        try:
            decision = router.route(scratch, lead, as_of, lane=lane)
        except OperationalError:  # the store is busy (a run holds SQLite's write lock)
            return None
        finally:
            scratch.rollback()
    return RouterDecision(
        owner=decision.owner_email,
        rule=decision.rule,
        reason=decision.reason,
        lane=lane,
        territory=decision.territory,
        turn=decision.slot,
        skipped=list(decision.skipped),
    )


def _assignments(session: Session, key: str) -> list[Assignment]:
    rows = session.exec(
        select(AssignmentRow)
        .where(col(AssignmentRow.lead_key) == key)
        .order_by(col(AssignmentRow.assigned_at).desc(), col(AssignmentRow.id).desc())
    ).all()
    return [
        Assignment(
            owner=row.owner_email,
            rule=row.rule,
            reason=row.reason,
            assigned_at=row.assigned_at,
            lane=row.lane,
            territory=row.territory,
            turn=row.turn,
            previous_owner=row.previous_owner_email,
        )
        for row in rows
    ]


def explain_clocks(
    session: Session, sla: SlaEngine, key: str, as_of: datetime
) -> list[ClockExplanation]:
    """The person's SLA clocks, newest first: deadline, each rung's due time, the next rung."""
    clocks = session.exec(
        select(SlaClock)
        .where(col(SlaClock.lead_key) == key)
        .order_by(col(SlaClock.started_at).desc())
        .limit(CLOCKS_SHOWN)
    ).all()
    shown = []
    for clock in clocks:
        fired = set(
            session.exec(select(SlaRungFired.rung).where(SlaRungFired.clock_id == clock.id)).all()
        )
        planned = sla.schedule(clock)
        rungs = [
            Rung(
                due.rung_id,
                due.rung.at,
                str(due.rung.action),
                due.due_at,
                due.rung_id in fired,
                due.rung.notify_manager,
            )
            for due in (planned[2] if planned else [])
        ]
        state = "ended" if clock.ended_at else "touched" if clock.first_touch_at else "running"
        upcoming = [r for r in rungs if not r.fired] if state == "running" else []
        shown.append(
            ClockExplanation(
                owner=clock.owner_email,
                lane=clock.lane,
                policy=clock.policy,
                calendar=clock.calendar,
                started_at=clock.started_at,
                due_at=clock.due_at,
                state=("breached" if clock.due_at <= as_of else state)
                if state == "running"
                else state,
                first_touch_at=clock.first_touch_at,
                first_touch_by=clock.first_touch_by,
                ended_at=clock.ended_at,
                end_reason=clock.end_reason,
                rungs=rungs,
                next_rung=upcoming[0] if upcoming else None,
            )
        )
    return shown


def pending_writes(session: Session, person: PersonView) -> list[PendingWrite]:
    """Outbox items for the person's records not written yet (pending, retrying or dead)."""
    found: list[PendingWrite] = []
    for record in person.records:
        rows = session.exec(
            select(OutboxItem)
            .where(
                col(OutboxItem.connection) == record.connection,
                col(OutboxItem.record_id) == record.crm_id,
                col(OutboxItem.status).in_(UNSETTLED),
            )
            .order_by(col(OutboxItem.created_at), col(OutboxItem.key))
        ).all()
        found += [
            PendingWrite(
                connection=row.connection,
                object_type=row.object_type,
                record_id=row.record_id,
                kind=row.kind,
                field=row.field or str(row.payload.get("subject", "")),
                value=row.value,
                previous=row.previous,
                reason=row.reason,
                status=row.status,
                attempts=row.attempts,
                last_error=row.last_error,
            )
            for row in rows
        ]
    return found
