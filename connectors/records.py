"""Canonical records: the only shapes that cross the connector boundary.

Everything above `connectors/` speaks these; CRM property names live only inside an adapter
and in the field mappings from config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ActivityKind(StrEnum):
    """What happened, in revops terms (CRM types are mapped onto these by config)."""

    PAGE_VIEW = "page_view"
    FORM_SUBMISSION = "form_submission"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    WEBINAR_REGISTERED = "webinar_registered"
    WEBINAR_ATTENDED = "webinar_attended"
    TRIAL_MILESTONE = "trial_milestone"
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    TASK = "task"


class Actor(StrEnum):
    """Who did it: the contact (a buying signal) or a rep (a touch)."""

    CONTACT = "contact"
    REP = "rep"


class RecordEventKind(StrEnum):
    ARCHIVED = "archived"
    DELETED = "deleted"
    MERGED = "merged"
    CONVERTED = "converted"


@dataclass(frozen=True, slots=True)
class Contact:
    """A person as Handoff sees it: a HubSpot contact, a Salesforce Lead or Contact."""

    connection: str
    object_type: str  # "contact" | "lead" (canonical object names from config mappings)
    id: str
    modified_at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)  # canonical field -> typed value
    created_at: datetime | None = None
    archived: bool = False

    @property
    def email(self) -> str | None:
        value = self.fields.get("email")
        return str(value) if value else None

    @property
    def owner_id(self) -> str | None:
        value = self.fields.get("owner_id")
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A delete, archive, merge or conversion seen while pulling."""

    connection: str
    object_type: str
    kind: RecordEventKind
    record_id: str
    occurred_at: datetime
    survivor_id: str | None = None  # merged into / converted to
    survivor_object_type: str | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    connection: str
    id: str
    contact_id: str
    kind: ActivityKind
    occurred_at: datetime
    actor: Actor
    channel: str = ""  # web | email | phone | meeting | event | form ...
    owner_id: str | None = None  # the rep, for touches
    properties: Mapping[str, str] = field(default_factory=dict)  # url, form_name, asset_stage, ...

    @property
    def is_touch(self) -> bool:
        return self.actor is Actor.REP


@dataclass(frozen=True, slots=True)
class Owner:
    connection: str
    id: str
    email: str | None
    name: str = ""
    active: bool = True


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One managed field to write on one record."""

    connection: str
    object_type: str
    record_id: str
    field: str  # canonical field name
    value: Any
    key: str  # deterministic idempotency key (outbox key)
    previous: Any = None  # what Handoff believes the CRM holds now
    clear_first: bool = False  # a deliberate lifecycle regression (recycling): clear, then set


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """A follow-up task for a rep, created at most once (task_key is stored with it in the CRM)."""

    connection: str
    object_type: str  # the record the task is about: "contact" | "lead"
    record_id: str
    owner_id: str
    subject: str
    body: str
    due_at: datetime
    task_key: str
    priority: str = "HIGH"
    resend: bool = False  # an earlier attempt's outcome is unknown: look the key up first


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # the CRM already held the value / the task already existed
    REJECTED = "rejected"  # the CRM refused this item; reason kept, retried later
    UNKNOWN = "unknown"  # no answer (timeout): look up before resending


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    key: str
    status: OutcomeStatus
    error: str | None = None
    crm_id: str | None = None
    # the record's modified timestamp right after this write, when the CRM's answer says it:
    # the next pull knows that version as its own echo and skips it
    modified_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status in (OutcomeStatus.APPLIED, OutcomeStatus.UNCHANGED)
