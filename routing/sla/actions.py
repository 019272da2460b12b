"""What flows into the SLA engine (touches) and what it decides (actions for the pipeline).

The engine never calls a CRM: the pipeline turns a CreateTask into a TaskRequest (the task_key is
deterministic, so the connectors create it at most once), a Reassign into a routing decision and
a new clock, a NotifyManager into a manager task (and a webhook post), a Flag into reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from hashlib import sha256

from connectors.records import Activity


def stable_key(*parts: object) -> str:
    """A short deterministic key from its parts (clock ids, task keys, touch keys)."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Touch:
    """A rep's activity on a lead, timestamped by the CRM."""

    lead_key: str
    rep_email: str
    kind: str  # call | email | meeting | note | task (ActivityKind values)
    channel: str
    at: datetime
    activity_id: str | None = None  # the CRM id; makes re-pulled activities idempotent

    @property
    def key(self) -> str:
        if self.activity_id:
            return self.activity_id
        return stable_key(self.lead_key, self.rep_email.lower(), self.kind, self.channel, self.at)

    @classmethod
    def from_activity(cls, activity: Activity, *, lead_key: str, rep_email: str) -> Touch:
        return cls(
            lead_key=lead_key,
            rep_email=rep_email,
            kind=str(activity.kind),
            channel=activity.channel,
            at=activity.occurred_at,
            activity_id=f"{activity.connection}:{activity.id}",
        )


@dataclass(frozen=True, slots=True)
class CreateTask:
    """A task for the owner: the window lapsed (or is about to)."""

    lead_key: str
    owner_email: str
    subject: str
    body: str
    due_at: datetime
    task_key: str
    clock_id: str
    rung: str


@dataclass(frozen=True, slots=True)
class Reassign:
    """Route the lead to a backup rep (the caller starts a new clock for the new owner)."""

    lead_key: str
    from_email: str
    reason: str
    lane: str
    territory: str | None
    clock_id: str
    rung: str


@dataclass(frozen=True, slots=True)
class NotifyManager:
    """Tell the owner's manager: a task (task_key) and, when configured, a webhook post."""

    lead_key: str
    owner_email: str
    territory: str | None
    subject: str
    body: str
    due_at: datetime
    task_key: str
    webhook_url: str | None
    clock_id: str
    rung: str


@dataclass(frozen=True, slots=True)
class Flag:
    """Something for reports: a lapsed cadence, or a ladder rung configured as `flag`."""

    lead_key: str
    owner_email: str
    kind: str  # cadence_lapsed | breach
    detail: str
    clock_id: str
    rung: str


SlaAction = CreateTask | Reassign | NotifyManager | Flag
