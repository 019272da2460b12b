"""InMemoryConnector: a real CrmConnector over in-process data.

It honours the whole contract (overlap window, dedup, (modified_at, id) order, cursor capped at
`until`, archive/merge/delete events, per-item write outcomes, idempotent tasks), so the pipeline
and the contract suite run against it without a network. Tests and demos seed it through
`put_contact`, `add_activity`, `add_owner`, `archive`, `merge`, `delete` and `reject_writes`.
`clock` is injected: writes stamp records with it.

Activity properties arrive in the sandbox portal's neutral vocabulary (`url`, `title`,
`form_name`, `subject`, `campaign`, `webinar_name`, `asset_stage`, see
sandbox/fixtures/README.md) and are translated to the canonical keys of
`connectors.activity_keys` like any CRM's, each also kept as `raw.<name>`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from connectors import activity_keys as keys
from connectors.base import ApiUsage, ContactBatch
from connectors.records import (
    Activity,
    ActivityKind,
    Contact,
    FieldChange,
    OutcomeStatus,
    Owner,
    RecordEvent,
    RecordEventKind,
    TaskRequest,
    WriteOutcome,
)

_EMAIL_KINDS = frozenset({ActivityKind.EMAIL_OPEN, ActivityKind.EMAIL_CLICK, ActivityKind.EMAIL})
# The portal vocabulary -> canonical keys (a key named like a canonical one feeds it as is).
_SIGNAL_KEYS: keys.Translation = {keys.PAGE_TITLE: ("page_title", "title")}
_EMAIL_KEYS: keys.Translation = {keys.EMAIL_SUBJECT: ("email_subject", "subject")}


def canonical_activity(activity: Activity) -> Activity:
    """The activity with its properties in canonical keys (raw ones kept as raw.<name>)."""
    props = activity.properties
    if any(name.startswith(keys.RAW_PREFIX) for name in props):
        return activity  # already translated
    translation = _EMAIL_KEYS if activity.kind in _EMAIL_KINDS else _SIGNAL_KEYS
    return replace(activity, properties=keys.translate(props, translation))


@dataclass
class _StoredTask:
    id: str
    request: TaskRequest
    created_at: datetime


@dataclass
class _Store:
    contacts: dict[str, dict[str, Contact]] = field(default_factory=dict)
    events: list[RecordEvent] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    owners: dict[str, Owner] = field(default_factory=dict)
    tasks: dict[str, _StoredTask] = field(default_factory=dict)  # task_key -> task
    rejections: dict[tuple[str, str], str] = field(default_factory=dict)  # (record, field) -> why


class InMemoryConnector:
    """A CRM held in memory; one instance per connection name."""

    def __init__(
        self,
        name: str = "memory",
        *,
        object_types: Sequence[str] = ("contact",),
        clock: Callable[[], datetime],
        overlap: timedelta = timedelta(minutes=5),
        page_size: int = 100,
        batch_size: int = 100,
        fields: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.usage = ApiUsage()
        self._object_types = tuple(object_types)
        self._clock = clock
        self._overlap = overlap
        self._page_size = page_size
        self._batch_size = batch_size
        self._fields = set(fields)  # canonical fields that "exist" in this CRM (setup)
        self._created_fields: set[str] = set()
        self._store = _Store(contacts={t: {} for t in self._object_types})
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # --- seeding -------------------------------------------------------------------------------

    def put_contact(
        self,
        record_id: str,
        fields: Mapping[str, Any],
        *,
        modified_at: datetime,
        object_type: str = "contact",
        created_at: datetime | None = None,
    ) -> Contact:
        with self._lock:
            contact = Contact(
                connection=self.name,
                object_type=object_type,
                id=record_id,
                modified_at=modified_at,
                fields=dict(fields),
                created_at=created_at or modified_at,
            )
            self._store.contacts[object_type][record_id] = contact
            return contact

    def contact(self, record_id: str, object_type: str = "contact") -> Contact | None:
        return self._store.contacts[object_type].get(record_id)

    def add_activity(self, activity: Activity) -> None:
        with self._lock:
            self._store.activities.append(canonical_activity(activity))

    def add_owner(self, owner: Owner) -> None:
        with self._lock:
            self._store.owners[owner.id] = owner

    def _remove(self, object_type: str, record_id: str, event: RecordEvent) -> None:
        with self._lock:
            self._store.contacts[object_type].pop(record_id, None)
            self._store.events.append(event)

    def archive(self, record_id: str, at: datetime, object_type: str = "contact") -> None:
        event = RecordEvent(self.name, object_type, RecordEventKind.ARCHIVED, record_id, at)
        self._remove(object_type, record_id, event)

    def delete(self, record_id: str, at: datetime, object_type: str = "contact") -> None:
        event = RecordEvent(self.name, object_type, RecordEventKind.DELETED, record_id, at)
        self._remove(object_type, record_id, event)

    def merge(
        self, loser_id: str, survivor_id: str, at: datetime, object_type: str = "contact"
    ) -> None:
        event = RecordEvent(
            self.name,
            object_type,
            RecordEventKind.MERGED,
            loser_id,
            at,
            survivor_id=survivor_id,
            survivor_object_type=object_type,
        )
        self._remove(object_type, loser_id, event)
        survivor = self._store.contacts[object_type][survivor_id]
        self._store.contacts[object_type][survivor_id] = replace(survivor, modified_at=at)

    def reject_writes(self, record_id: str, field_name: str, reason: str) -> None:
        """Make the CRM refuse writes of `field_name` on `record_id` (a validation rule)."""
        self._store.rejections[(record_id, field_name)] = reason

    def tasks(self) -> list[TaskRequest]:
        return [stored.request for stored in self._store.tasks.values()]

    # --- CrmConnector ----------------------------------------------------------------------------

    def object_types(self) -> Sequence[str]:
        return self._object_types

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        start = None if since is None else since - self._overlap
        with self._lock:
            rows = sorted(
                (
                    c
                    for c in self._store.contacts[object_type].values()
                    if (start is None or c.modified_at >= start) and c.modified_at <= until
                ),
                key=lambda c: (c.modified_at, c.id),
            )
            events = sorted(
                (
                    e
                    for e in self._store.events
                    if e.object_type == object_type
                    and (start is None or e.occurred_at >= start)
                    and e.occurred_at <= until
                ),
                key=lambda e: (e.occurred_at, e.record_id),
            )
        cursor = since
        for offset in range(0, len(rows), self._page_size):
            page = rows[offset : offset + self._page_size]
            self.usage.count("contacts.page")
            last = page[-1].modified_at
            cursor = last if cursor is None else max(cursor, last)
            yield ContactBatch(object_type, page, (), min(cursor, until))
        if events:
            last_event = events[-1].occurred_at
            cursor = last_event if cursor is None else max(cursor, last_event)
            yield ContactBatch(object_type, (), events, min(cursor, until))

    def pull_activities(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        wanted = {c.id for c in contacts}
        self.usage.count("activities.read")
        with self._lock:
            found = [
                a
                for a in self._store.activities
                if a.contact_id in wanted and (since is None or a.occurred_at >= since)
            ]
        yield from sorted(found, key=lambda a: (a.occurred_at, a.id))

    def pull_owners(self) -> Sequence[Owner]:
        self.usage.count("owners.page")
        return sorted(self._store.owners.values(), key=lambda o: o.id)

    def read_fields(
        self, object_type: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Mapping[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        store = self._store.contacts[object_type]
        for offset in range(0, len(ids), self._batch_size):
            self.usage.count("contacts.batch_read")
            for record_id in ids[offset : offset + self._batch_size]:
                contact = store.get(record_id)
                if contact is not None:
                    out[record_id] = {f: contact.fields.get(f) for f in fields}
        return out

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        to_send: list[int] = []
        for index, change in enumerate(changes):
            if change.previous is not None and change.previous == change.value:
                outcomes[index] = WriteOutcome(change.key, OutcomeStatus.UNCHANGED)
            else:
                to_send.append(index)
        if any(changes[i].clear_first for i in to_send):
            self.usage.count("contacts.batch_update")  # the separate clearing request
        by_record: dict[tuple[str, str], list[int]] = {}  # a batch input is a record
        for index in to_send:
            by_record.setdefault((changes[index].object_type, changes[index].record_id), []).append(
                index
            )
        records = list(by_record.values())
        for offset in range(0, len(records), self._batch_size):
            self.usage.count("contacts.batch_update")
            for members in records[offset : offset + self._batch_size]:
                for index in members:
                    outcomes[index] = self._write(changes[index])
        return [outcomes[i] for i in range(len(changes))]

    def _write(self, change: FieldChange) -> WriteOutcome:
        with self._lock:
            store = self._store.contacts.get(change.object_type, {})
            contact = store.get(change.record_id)
            if contact is None:
                return WriteOutcome(
                    change.key, OutcomeStatus.REJECTED, f"record {change.record_id} not found"
                )
            reason = self._store.rejections.get((change.record_id, change.field))
            if reason:
                return WriteOutcome(change.key, OutcomeStatus.REJECTED, reason, change.record_id)
            fields = dict(contact.fields)
            if fields.get(change.field) == change.value:
                return WriteOutcome(change.key, OutcomeStatus.UNCHANGED, crm_id=change.record_id)
            fields[change.field] = change.value
            stamp = self._clock()
            store[change.record_id] = replace(contact, fields=fields, modified_at=stamp)
            return WriteOutcome(
                change.key, OutcomeStatus.APPLIED, crm_id=change.record_id, modified_at=stamp
            )

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> Sequence[WriteOutcome]:
        outcomes = []
        for task in tasks:
            with self._lock:
                if task.resend:
                    self.usage.count("tasks.search")
                existing = self._store.tasks.get(task.task_key)
                if existing is not None:
                    outcomes.append(
                        WriteOutcome(task.task_key, OutcomeStatus.UNCHANGED, crm_id=existing.id)
                    )
                    continue
                self.usage.count("tasks.create")
                task_id = f"task-{next(self._ids)}"
                self._store.tasks[task.task_key] = _StoredTask(task_id, task, self._clock())
            outcomes.append(WriteOutcome(task.task_key, OutcomeStatus.APPLIED, crm_id=task_id))
        return outcomes

    # --- setup -----------------------------------------------------------------------------------

    def missing_fields(self) -> list[str]:
        return sorted(self._fields - self._created_fields) if self._fields else []

    def create_missing_fields(self) -> list[str]:
        created = self.missing_fields()
        self._created_fields.update(created)
        return created

    def close(self) -> None:
        return None
