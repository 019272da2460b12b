"""The escalation ladder: when each rung of a policy falls due, and what it asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.sla import LadderRung, SlaPolicy
from routing.sla.actions import CreateTask, Flag, NotifyManager, Reassign, SlaAction, stable_key
from routing.sla.calendar import BusinessCalendar
from routing.sla.tables import SlaClock


@dataclass(frozen=True, slots=True)
class RungDue:
    rung_id: str  # the ladder index as text: the unique key beside the clock id
    rung: LadderRung
    due_at: datetime


def rung_schedule(
    policy: SlaPolicy, calendar: BusinessCalendar, *, started_at: datetime, due_at: datetime
) -> list[RungDue]:
    """Each rung's due time, earliest first: shares of the window from the start, offsets
    (business time) after the deadline."""
    schedule: list[RungDue] = []
    for index, rung in enumerate(policy.ladder):
        share = rung.share
        if share is not None:
            at = calendar.add(started_at, policy.first_touch * share)
        else:
            offset = rung.offset(calendar.business_day)
            assert offset is not None
            at = calendar.add(due_at, offset)
        schedule.append(RungDue(str(index), rung, at))
    return sorted(schedule, key=lambda d: (d.due_at, int(d.rung_id)))


def task_key(clock_id: str, rung_id: str, audience: str) -> str:
    """The deterministic key the connectors store with the CRM task (created at most once)."""
    return "sla-" + stable_key("sla-task", clock_id, rung_id, audience)


def _when(calendar: BusinessCalendar, at: datetime) -> str:
    return calendar.local(at).strftime("%a %Y-%m-%d %H:%M %Z")


def _brief(clock: SlaClock, policy: SlaPolicy, calendar: BusinessCalendar) -> str:
    kinds = ", ".join(policy.touch.kinds)
    who = "the owner" if policy.touch.by == "owner" else "any rep"
    lines = [
        f"Lead {clock.lead_key} ({clock.lane} lane"
        + (f", territory {clock.territory}" if clock.territory else "")
        + f") was assigned to {clock.owner_email} at {_when(calendar, clock.started_at)}.",
        f"First touch was due by {_when(calendar, clock.due_at)}; no {kinds} by {who} yet.",
    ]
    if clock.context:
        lines += ["", "Why this lead:", *[f"- {line}" for line in clock.context.splitlines()]]
    return "\n".join(lines)


def rung_actions(
    clock: SlaClock,
    due: RungDue,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    *,
    webhook_url: str | None,
) -> list[SlaAction]:
    """What one fired rung asks the pipeline to do."""
    rung, body = due.rung, _brief(clock, policy, calendar)
    actions: list[SlaAction] = []
    if rung.action == "remind_owner":
        actions.append(
            CreateTask(
                lead_key=clock.lead_key,
                owner_email=clock.owner_email,
                subject=f"Reminder: first touch due {_when(calendar, clock.due_at)}",
                body=body,
                due_at=clock.due_at,
                task_key=task_key(clock.id, due.rung_id, "owner"),
                clock_id=clock.id,
                rung=due.rung_id,
            )
        )
    elif rung.action == "task_owner":
        actions.append(
            CreateTask(
                lead_key=clock.lead_key,
                owner_email=clock.owner_email,
                subject=f"SLA breached: contact lead {clock.lead_key} now",
                body=body,
                due_at=due.due_at,
                task_key=task_key(clock.id, due.rung_id, "owner"),
                clock_id=clock.id,
                rung=due.rung_id,
            )
        )
    elif rung.action == "reassign_backup":
        actions.append(
            Reassign(
                lead_key=clock.lead_key,
                from_email=clock.owner_email,
                reason=f"no first touch by {_when(calendar, due.due_at)} (SLA rung {rung.at})",
                lane=clock.lane,
                territory=clock.territory,
                clock_id=clock.id,
                rung=due.rung_id,
            )
        )
    elif rung.action == "flag":
        actions.append(
            Flag(
                lead_key=clock.lead_key,
                owner_email=clock.owner_email,
                kind="breach",
                detail=f"no first touch {rung.at} past the window",
                clock_id=clock.id,
                rung=due.rung_id,
            )
        )
    if rung.action == "notify_manager" or rung.notify_manager:
        escalated = " and reassigned" if rung.action == "reassign_backup" else ""
        actions.append(
            NotifyManager(
                lead_key=clock.lead_key,
                owner_email=clock.owner_email,
                territory=clock.territory,
                subject=f"SLA escalation{escalated}: {clock.owner_email} missed lead {clock.lead_key}",
                body=body,
                due_at=due.due_at,
                task_key=task_key(clock.id, due.rung_id, "manager"),
                webhook_url=webhook_url if rung.webhook else None,
                clock_id=clock.id,
                rung=due.rung_id,
            )
        )
    return actions
