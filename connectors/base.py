"""The connector port: one narrow Protocol every CRM adapter implements."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from connectors.records import (
    Activity,
    Contact,
    FieldChange,
    Owner,
    RecordEvent,
    TaskRequest,
    WriteOutcome,
)


@dataclass(frozen=True, slots=True)
class ContactBatch:
    """One page of pulled contacts and the cursor that is safe to commit with them."""

    object_type: str
    contacts: Sequence[Contact]
    events: Sequence[RecordEvent] = ()
    cursor: datetime | None = None  # max modified timestamp fully covered, capped at run start


@dataclass
class ApiUsage:
    """API calls made, per endpoint label, and throttling seen."""

    calls: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    retries: int = 0
    # the CRM's daily quota as its last response reported it (HubSpot's X-HubSpot-RateLimit-Daily
    # headers, Salesforce's Sforce-Limit-Info); None until a response carried it
    daily_limit: int | None = None
    daily_remaining: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, endpoint: str, n: int = 1) -> None:
        with self._lock:  # the pull and the write-behind run in different threads
            self.calls[endpoint] = self.calls.get(endpoint, 0) + n

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def observe_quota(self, limit: str | int | None, remaining: str | int | None) -> None:
        """Keep the daily quota a response reported (headers arrive as text; bad ones ignored)."""
        try:
            if limit is not None and remaining is not None:
                self.daily_limit, self.daily_remaining = int(limit), int(remaining)
        except ValueError:
            pass


@runtime_checkable
class CrmConnector(Protocol):
    """What the pipeline needs from a CRM. Implemented by HubSpot, Salesforce and in-memory."""

    name: str
    usage: ApiUsage

    def object_types(self) -> Sequence[str]:
        """Canonical person object types this connection pulls (e.g. ["contact"], ["lead", "contact"])."""
        ...

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        """Records modified in [since - overlap, until], deduped by id, each batch sorted by
        (modified_at, id); a batch's cursor covers everything modified up to it."""
        ...

    def pull_activities(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        """Activities of these contacts that happened at or after `since` (all when None)."""
        ...

    def pull_owners(self) -> Sequence[Owner]:
        """Every owner/user, active and inactive."""
        ...

    def read_fields(
        self, object_type: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Mapping[str, Mapping[str, Any]]:
        """Current CRM values of canonical fields, by record id (missing ids are absent)."""
        ...

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        """Write field changes in the largest batches allowed; one outcome per change, in order."""
        ...

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> Sequence[WriteOutcome]:
        """Create tasks at most once each (looked up by task_key before any resend)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class FieldSetup(Protocol):
    """Optional for adapters: what `handoff crm setup` calls (custom score/task-key fields)."""

    def missing_fields(self) -> list[str]:
        """CRM fields Handoff writes that do not exist yet (e.g. 'contacts.handoff_score')."""
        ...

    def create_missing_fields(self) -> list[str]:
        """Create them; return what was created."""
        ...


@runtime_checkable
class FastLaneSlots(Protocol):
    """Optional: an adapter whose rate limit can keep a few slots of each window for the fast
    path's calls (connectors/ratelimit.py). The fast path asks when it starts; a scheduled sync
    alone leaves the whole window to the bulk run."""

    def keep_fast_lane_slots(self) -> None: ...


@runtime_checkable
class ActivityStream(Protocol):
    """Optional: activities read as one time-ordered stream per run rather than per batch of
    contacts (HubSpot web events). The pipeline keeps a cursor for it like for contacts."""

    streams_events: bool

    def pull_event_stream(self, since: datetime | None) -> Iterator[Activity]: ...


@runtime_checkable
class HeldEventStream(Protocol):
    """Optional, with ActivityStream: in a run that lists every person, the stream's items that
    name no record yet (HubSpot's form submissions name an email) are held, not looked up, and
    go with the pages of the people they belong to; after the last page `unclaimed_events` gives
    the rest (looked up) and the newest item held (where the stream's cursor goes)."""

    def held_event_stream(self, since: datetime | None, until: datetime) -> Iterator[Activity]:
        """`pull_event_stream`, holding what names no record (after `until`: the next run's)."""
        ...

    def unclaimed_events(self) -> tuple[list[Activity], datetime | None]: ...


@runtime_checkable
class RecordActivityStreams(Protocol):
    """Optional: activity records read as org-wide streams ordered by their modification time
    (Salesforce Task, Event, CampaignMember), each with its own cursor, before a run's people;
    the pull stage then reads no activities per batch of people (`pull_activities` still serves
    one person's read: the fast path, `handoff explain --live`)."""

    def activity_streams(self) -> Sequence[str]: ...

    def pull_activity_stream(
        self, stream: str, since: datetime | None, until: datetime
    ) -> Iterator[tuple[list[Activity], datetime]]:
        """(page, cursor) in modification order; the last page's cursor is `until`."""
        ...


@runtime_checkable
class AccountLookup(Protocol):
    """Optional: the adapter adds each person's company/account (fields and owner, see
    connectors/accounts.py) before a page of new people is stored. What the run should report
    (a refused scope, a property the CRM lacks) goes to the adapter's `warnings`."""

    def with_accounts(self, contacts: Sequence[Contact]) -> list[Contact]: ...

    def begin_accounts(self) -> None:
        """A run starts: forget the last run's cached accounts, warnings and refusals."""
        ...
