"""The state store's core tables: what was pulled, what was decided, what must be written.

Routing and SLA keep their own tables beside their code (`routing/tables.py`,
`routing/sla/tables.py`); all share one metadata and one Alembic history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from sync.store.types import UtcDateTime


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class PersonRecord(SQLModel, table=True):
    """A pulled CRM person (HubSpot contact, Salesforce Lead/Contact) with canonical fields."""

    __tablename__ = "people"

    connection: str = Field(primary_key=True)
    crm_id: str = Field(primary_key=True)
    object_type: str
    person_key: str = Field(index=True)  # one person across CRMs (normalised email or id)
    email: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    modified_at: datetime = _ts()
    created_at: datetime | None = _ts(nullable=True)
    status: str = "active"  # active | archived | deleted | merged | converted
    survivor_id: str | None = None


class ActivityRecord(SQLModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_person", "connection", "contact_id"),)

    connection: str = Field(primary_key=True)
    crm_id: str = Field(primary_key=True)
    contact_id: str
    kind: str
    actor: str
    channel: str = ""
    owner_id: str | None = None
    occurred_at: datetime = _ts()
    properties: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class OwnerRecord(SQLModel, table=True):
    __tablename__ = "owners"

    connection: str = Field(primary_key=True)
    crm_id: str = Field(primary_key=True)
    email: str | None = Field(default=None, index=True)
    name: str = ""
    active: bool = True


class PersonState(SQLModel, table=True):
    """Handoff's own view of a person: latest score, stage and lane."""

    __tablename__ = "person_state"

    person_key: str = Field(primary_key=True)
    score: int = 0
    fit: int = 0
    behaviour: int = 0
    mql: bool = False
    fast_lane: bool = False
    disqualified: bool = False
    track: str = "standard"
    summary: str = ""
    reasons: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    model_version: str = ""
    computed_at: datetime | None = _ts(nullable=True)
    source_modified_at: datetime | None = _ts(nullable=True)  # newest record seen when decided
    stage: str = "lead"
    stage_changed_at: datetime | None = _ts(nullable=True)
    owner_email: str | None = None
    rejection_code: str | None = None  # sales' code carried out, while the record still holds it


class OutboxItem(SQLModel, table=True):
    """One planned CRM change. Its key is deterministic, so planning twice never writes twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "connection"),
        Index("ix_outbox_record", "connection", "record_id"),
    )

    key: str = Field(primary_key=True)
    run_id: str = Field(index=True)
    connection: str
    object_type: str
    record_id: str
    kind: str  # field | task
    field: str = ""
    value: Any = Field(default=None, sa_column=Column(JSON))
    previous: Any = Field(default=None, sa_column=Column(JSON))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = ""
    status: str = "pending"  # pending | sending | applied | unchanged | rejected | dead
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    applied_at: datetime | None = _ts(nullable=True)


class WrittenValue(SQLModel, table=True):
    """The last value Handoff wrote to a managed field: how drift is told from our own writes."""

    __tablename__ = "written_values"

    connection: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    field: str = Field(primary_key=True)
    value: Any = Field(default=None, sa_column=Column(JSON))
    written_at: datetime = _ts()


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursors"

    connection: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    value: datetime = _ts()
    updated_at: datetime = _ts()


class RunRecord(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = Field(primary_key=True)
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    as_of: datetime = _ts()
    dry_run: bool = False
    worker: str = ""  # host:pid of the replica that ran it
    status: str = "running"  # running | ok | partial | failed
    counts: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timings: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    api_calls: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    errors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class RunReport(SQLModel, table=True):
    """A run's report as data (zlib-compressed JSON, secrets redacted), saved before its files are
    written: `handoff report` writes the files again from it when the reports directory failed."""

    __tablename__ = "run_reports"

    run_id: str = Field(primary_key=True)
    created_at: datetime = _ts(index=True)
    report: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class WebhookEventSeen(SQLModel, table=True):
    """A webhook event the fast path has handled (HubSpot redelivers on timeouts and errors):
    a redelivery finds its key here and is skipped. Kept a week (HubSpot retries for a day)."""

    __tablename__ = "webhook_events"

    connection: str = Field(primary_key=True)
    event_key: str = Field(primary_key=True)  # eventId/subscriptionId/objectId
    handled_at: datetime = _ts(index=True)


class RunReportRows(SQLModel, table=True):
    """A saved report's rows after the first 500 of each list (those are in `run_reports`), in parts
    of zlib-compressed JSON: a run of millions of changes is saved and read back a part at a
    time, never whole in memory."""

    __tablename__ = "run_report_rows"

    run_id: str = Field(primary_key=True)
    list: str = Field(primary_key=True)  # where in the report: "reconciliation", "flags" ...
    part: int = Field(primary_key=True)
    rows: int  # rows in this part
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ChangeStream(SQLModel, table=True):
    """Where a Salesforce change event subscription resumes: the replay id of the last event
    whose people are in `change_event_inbox` (stored in the same transaction as they are)."""

    __tablename__ = "change_event_streams"

    connection: str = Field(primary_key=True)
    topic: str = Field(primary_key=True)
    replay_id: str  # hex of the opaque bytes
    updated_at: datetime = _ts()


class ChangeInbox(SQLModel, table=True):
    """A person a change event named, waiting for the fast path's decision; removed once
    decided. Written with the stream's replay id, so a restart neither loses nor repeats it."""

    __tablename__ = "change_event_inbox"

    connection: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    object_type: str  # lead, contact
    change_type: str
    replay_id: str  # hex: the newest event naming this record
    committed_at: datetime = _ts()  # when Salesforce committed the change
    received_at: datetime = _ts(index=True)
