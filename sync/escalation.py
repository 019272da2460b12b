"""SLA actions due at the run's time, turned into CRM work: tasks, manager alerts, reassignments."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import Session

from config.model import HandoffConfig
from routing.sla.actions import CreateTask, Flag, NotifyManager, Reassign
from routing.sla.tables import SlaClock
from sync.decide import DecisionStage, DomainEngines
from sync.people import PersonView, load_person
from sync.person_state import load_states
from sync.task_wording import PersonWords, TaskText, manager_task, owner_task
from sync.webhooks import escalation_message

RUNG_WAIT = timedelta(seconds=2)  # a rung of a handoff just made due this soon is waited for


def plan_sla_actions(
    session: Session,
    config: HandoffConfig,
    stage: DecisionStage,
    engines: DomainEngines,
    *,
    lead_keys: Collection[str] | None = None,
    now: datetime | None = None,
) -> None:
    """The ladder rungs due at `now` (default: the planner's time), for every clock (a run) or
    for `lead_keys` only (the fast path's step for one person: sync/speed_sla.py)."""
    planner = stage.planner
    reassigned: dict[str, str] = {}  # clock id -> the new owner, for the manager's task
    for action in engines.sla.evaluate(session, now or planner.now, lead_keys=lead_keys):
        stage.tally.sla_actions[type(action).__name__] += 1
        person = load_person(session, action.lead_key, config, engines.owners)
        if person is not None:
            stage.settle([person])
        if isinstance(action, Flag):
            stage.tally.flags.append(
                {
                    "person": action.lead_key,
                    "owner": action.owner_email,
                    "flag": action.kind,
                    "detail": action.detail,
                }
            )
            continue
        if person is None:
            continue
        if isinstance(action, CreateTask | NotifyManager):
            email = (
                action.owner_email
                if isinstance(action, CreateTask)
                else manager_of(config, action.territory) or action.owner_email
            )
            for record in person.write_targets()[:1]:
                owner_id = engines.owners.id_for(record.connection, email)
                if owner_id is None:
                    stage.tally.problems.append(
                        f"{record.connection}: SLA task for {email}, who has no user there"
                    )
                    continue
                text = task_text(session, config, engines, action, person, email, reassigned)
                planner.create_task(
                    record.connection,
                    record.object_type,
                    record.crm_id,
                    task_key=action.task_key,
                    owner_id=owner_id,
                    subject=text.subject,
                    body=text.body,
                    due_at=action.due_at,
                    reason=f"SLA {action.rung}",
                )
            if isinstance(action, NotifyManager) and action.webhook_url:
                for record in person.write_targets()[:1]:
                    planner.post_webhook(
                        record.object_type,
                        record.crm_id,
                        key_seed=action.task_key,
                        message=escalation_message(
                            rung=action.rung,
                            owner_email=action.owner_email,
                            manager=manager_of(config, action.territory),
                            territory=action.territory,
                            record=(record.connection, record.object_type, record.crm_id),
                            due_at=action.due_at.isoformat(),
                            reassigned="reassigned" in action.subject,
                        ),
                        reason=f"SLA {action.rung}: manager notified by webhook",
                    )
        elif isinstance(action, Reassign):
            lead = replace(
                person.routing_lead(),
                decision_key=stage.decision_key(person, f"escalate {action.clock_id}"),
            )
            decision = engines.router.escalate(
                session,
                lead,
                planner.now,
                previous_owner=action.from_email,
                lane="fast" if action.lane == "fast" else "nurture",
            )
            if decision.owner_email and stage.reassign(person, decision, action.lane):
                reassigned[action.clock_id] = decision.owner_email


def manager_of(config: HandoffConfig, territory: str | None) -> str | None:
    for candidate in config.routing.territories:
        if candidate.name == territory:
            return candidate.manager
    return None


def task_text(
    session: Session,
    config: HandoffConfig,
    engines: DomainEngines,
    action: CreateTask | NotifyManager,
    person: PersonView,
    recipient: str,
    reassigned: dict[str, str],
) -> TaskText:
    """The task's subject and body in the words of `sync.task_wording`."""
    clock = session.get(SlaClock, action.clock_id)
    calendar = engines.sla.calendars.get(clock.calendar) if clock is not None else None
    words = PersonWords(person, load_states(session, [person.key]).get(person.key))
    if isinstance(action, CreateTask):
        return owner_task(action, clock, words, calendar)
    names = {o.email.lower(): o.name for o in engines.owners.owners if o.email and o.name}
    return manager_task(
        action,
        clock,
        words,
        calendar,
        names=names,
        manager=recipient,
        new_owner=reassigned.get(action.clock_id),
    )
