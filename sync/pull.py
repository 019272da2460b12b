"""Pull stage: mirror each connection's people, activities and owners into the state store.

Each page of people is written in one transaction together with the cursor that covers it, so a
crash never moves a cursor past rows that were not stored. Cursors only move forward and are capped
at the run's start by the connector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from connectors.base import (
    AccountLookup,
    ActivityStream,
    ContactBatch,
    CrmConnector,
    HeldEventStream,
    RecordActivityStreams,
)
from connectors.records import Activity, Contact, RecordEventKind
from sync.cursors import advance_cursor, read_cursor
from sync.identity import person_key
from sync.owners import store_owners
from sync.prefetch import read_ahead
from sync.store.activities import (
    bulk_load,
    ensure_indexes,
    redecide,
    store_activities,
    unheld,
)
from sync.store.engine import json_text, json_value
from sync.store.key_in import key_in
from sync.store.tables import PersonRecord
from sync.store.upsert import upsert

log = structlog.get_logger("handoff.pull")
EVENTS_PER_COMMIT = 5000  # bigger commits rewrite fewer index pages in SQLite's WAL
HELD_PAGES = 10  # a few new people amid pages of echoes are not held back for long


@dataclass
class PullResult:
    people: int = 0
    activities: int = 0
    owners: int = 0
    events: int = 0
    unchanged: int = 0  # records the store already held at that exact version (skipped)
    changed: int = 0  # records stored as new or changed (their people handed on, if streaming)
    ended_keys: dict[str, str] = field(default_factory=dict)  # person key -> why its clocks stop
    merged: dict[str, str] = field(default_factory=dict)  # loser key -> survivor key


def _person_row(contact: Contact) -> dict[str, Any]:
    return {
        "connection": contact.connection,
        "crm_id": contact.id,
        "object_type": contact.object_type,
        "person_key": person_key(contact),
        "email": contact.email,
        "fields": dict(contact.fields),
        "modified_at": contact.modified_at,
        "created_at": contact.created_at,
        "status": "archived" if contact.archived else "active",
        "survivor_id": None,
    }


class PullStage:
    """Pull one connection incrementally (or fully when `full` is set)."""

    def __init__(
        self,
        engine: Engine,
        connector: CrmConnector,
        *,
        full: bool = False,
        stopping: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.full = full
        self.stopping = stopping or threading.Event()
        self.overlap = timedelta(minutes=5)

    def run(
        self,
        until: datetime,
        now: datetime,
        progress: Callable[[int], None] | None = None,
        on_stored: Callable[[list[str]], None] | None = None,
    ) -> PullResult:
        """Owners, then the web-event stream, then people page by page with their activities:
        once a page is stored (`on_stored` gets its person keys) those people are complete."""
        result = PullResult()
        name = self.connector.name
        ensure_indexes(self.engine)  # an earlier run's bulk load may have been cut short
        if isinstance(self.connector, AccountLookup):
            self.connector.begin_accounts()  # accounts are cached for one run only
        if isinstance(self.connector, ActivityStream):
            self.connector.streams_events = True  # web events come from the run's one stream
        with Session(self.engine) as session:
            result.owners = store_owners(session, self.connector)
            session.commit()
        # web events first: a page's people are complete (page views included) once it is stored
        held: HeldEventStream | None = None
        streamed: datetime | None = None
        if isinstance(self.connector, ActivityStream):
            if isinstance(self.connector, HeldEventStream) and self._lists_everyone():
                held = self.connector  # what names no record yet goes with its people's pages
            tick = time.perf_counter()
            streamed = self._pull_event_stream(self.connector, until, now, result, held)
            log.info(
                "pull.events",
                connection=name,
                events=result.activities,
                seconds=round(time.perf_counter() - tick, 2),
            )
        # activity records next, up to the run's start: the people pulled after them (modified
        # up to the same instant) find theirs stored; later ones come with the next run's streams
        # and have their people decided again
        if isinstance(self.connector, RecordActivityStreams):
            for stream in self.connector.activity_streams():
                if self.stopping.is_set():
                    return result
                self._pull_activity_stream(self.connector, stream, until, now, result)
        for object_type in self.connector.object_types():
            if not self._pull_people(object_type, until, now, result, progress, on_stored):
                log.info("pull.stopping", connection=name)
                return result  # the stream's cursor stays: the next run reads what was held
        if held is not None:
            self._store_unclaimed(held, streamed, now, result)
        log.info("pull.done", connection=name, people=result.people, activities=result.activities)
        return result

    def _pull_people(
        self,
        object_type: str,
        until: datetime,
        now: datetime,
        result: PullResult,
        progress: Callable[[int], None] | None,
        on_stored: Callable[[list[str]], None] | None,
    ) -> bool:
        """One object type's pages, stored with their cursors. Pages are held until their new
        people fill one activity read (HubSpot: 1,000 ids an associations call) or ten pages
        are held, and stored at once when none is new. False when the run is stopping (what was
        read is stored)."""
        stream = f"{object_type}s"
        with Session(self.engine) as session:
            since = None if self.full else read_cursor(session, self.connector.name, stream)
        batches = self.connector.pull_contacts(object_type, since, until)
        group = max(1, getattr(self.connector, "activity_batch", 1))
        pages = (
            read_ahead(batches, 1, depth=2 + group // 100, stopping=self.stopping)
            if getattr(self.connector, "reads_pages_ahead", False)
            else ([batch] for batch in batches)
        )
        held: list[tuple[ContactBatch, list[Contact]]] = []
        with closing(pages):  # stops a read-ahead thread however the loop ends
            for (batch,) in pages:
                held.append(
                    (batch, list(batch.contacts) if self.full else self._unseen(batch.contacts))
                )
                waiting = sum(len(fresh) for _, fresh in held)
                stopping = self.stopping.is_set()
                if waiting == 0 or waiting >= group or len(held) >= HELD_PAGES or stopping:
                    self._hand_on(held, stream, since, now, result, progress, on_stored)
                    held = []
                if stopping:
                    return False
        if held:
            self._hand_on(held, stream, since, now, result, progress, on_stored)
        return True

    def _hand_on(
        self,
        held: list[tuple[ContactBatch, list[Contact]]],
        stream: str,
        since: datetime | None,
        now: datetime,
        result: PullResult,
        progress: Callable[[int], None] | None,
        on_stored: Callable[[list[str]], None] | None,
    ) -> None:
        """Store held pages, then hand their new people on: they are complete now."""
        fresh = self._store_batches(held, stream, since, now, result)
        if on_stored is not None and fresh:
            on_stored([person_key(c) for c in fresh])
        if progress:
            progress(sum(len(batch.contacts) for batch, _ in held))

    def _lists_everyone(self) -> bool:
        """Whether this run's pull lists every person (a full run, or a store's first)."""
        if self.full:
            return True
        with Session(self.engine) as session:
            name = self.connector.name
            return all(
                read_cursor(session, name, f"{t}s") is None for t in self.connector.object_types()
            )

    def _pull_event_stream(
        self,
        connector: ActivityStream,
        until: datetime,
        now: datetime,
        result: PullResult,
        held: HeldEventStream | None = None,
    ) -> datetime | None:
        """Web events: one ascending stream per run with its own cursor, committed per page
        (not when `held`: what names no record is held for the pages, and `_store_unclaimed`
        moves the cursor); the newest event stored."""
        name = self.connector.name
        with Session(self.engine) as session:
            cursor = None if self.full else read_cursor(session, name, "events")
        since = None if cursor is None else cursor - self.overlap
        stream = (
            connector.pull_event_stream(since)
            if held is None
            else held.held_event_stream(since, until)
        )
        pages = read_ahead(stream, EVENTS_PER_COMMIT, stopping=self.stopping)
        advance = held is None
        latest: datetime | None = None
        with closing(pages), bulk_load(self.engine) if cursor is None else nullcontext():
            for page in pages:
                kept = [a for a in page if a.occurred_at <= until]
                self._store_events(kept, now, result, first_load=cursor is None, advance=advance)
                if kept:
                    newest = max(a.occurred_at for a in kept)
                    latest = newest if latest is None else max(latest, newest)
                if len(kept) < len(page) or self.stopping.is_set():
                    break  # the stream is ascending: the rest is past the run's start
        return latest

    def _store_unclaimed(
        self,
        connector: HeldEventStream,
        streamed: datetime | None,
        now: datetime,
        result: PullResult,
    ) -> None:
        """After the last page: the held events no page took (looked up), then the stream's
        cursor, held back until now so that a run stopped before here reads them all again."""
        unclaimed, held = connector.unclaimed_events()
        moved = max((t for t in (streamed, held) if t is not None), default=None)
        self._store_events(unclaimed, now, result, first_load=False, cursor=moved)
        log.info("pull.unclaimed_events", connection=self.connector.name, events=len(unclaimed))

    def _pull_activity_stream(
        self,
        connector: RecordActivityStreams,
        stream: str,
        until: datetime,
        now: datetime,
        result: PullResult,
    ) -> None:
        """One activity source's records modified up to `until`, page by page with its cursor
        (`activities.<source>`); people with activities the store did not hold are decided
        again (their own record may not have changed). A store whose people were pulled before
        activities were streamed (no cursor of its own yet, the people's cursors there) starts
        from the oldest people cursor: what came before was read with the people."""
        cursor_name = f"activities.{stream}"
        name = self.connector.name
        with Session(self.engine) as session:
            since = None if self.full else read_cursor(session, name, cursor_name)
            if since is None and not self.full:
                people = [
                    read_cursor(session, name, f"{t}s") for t in self.connector.object_types()
                ]
                since = min(people) if people and None not in people else None  # type: ignore[type-var]
        tick = time.perf_counter()
        read = 0
        pages = connector.pull_activity_stream(stream, since, until)
        with bulk_load(self.engine) if since is None else nullcontext():
            for page, cursor in pages:
                self._store_events(
                    page, now, result, first_load=since is None, stream=cursor_name, cursor=cursor
                )
                read += len(page)
                if self.stopping.is_set():
                    return
        log.info(
            "pull.activities",
            connection=self.connector.name,
            source=stream,
            activities=read,
            seconds=round(time.perf_counter() - tick, 2),
        )

    def _store_events(
        self,
        page: list[Activity],
        now: datetime,
        result: PullResult,
        first_load: bool,
        *,
        stream: str = "events",
        cursor: datetime | None = None,
        advance: bool = True,
    ) -> None:
        if not page and cursor is None:
            return
        with Session(self.engine) as session:
            name = self.connector.name
            fresh = page if first_load else unheld(session, name, page)
            store_activities(session, page)
            redecide(session, name, {a.contact_id for a in fresh})
            moved = cursor if cursor is not None else page[-1].occurred_at
            if advance:
                advance_cursor(session, self.connector.name, stream, moved, now)
            session.commit()
        result.activities += len(page)

    def _store_batches(
        self,
        held: Sequence[tuple[ContactBatch, list[Contact]]],
        stream: str,
        since: datetime | None,
        now: datetime,
        result: PullResult,
    ) -> list[Contact]:
        """Store pages in one transaction with the furthest cursor among them; their new
        contacts' activities are read in one go. Returns those new contacts (the others the
        store already held at that exact version: re-seen in the cursor's overlap, or our own
        write's echo)."""
        name = self.connector.name
        fresh = [c for _, unseen in held for c in unseen]
        result.unchanged += sum(len(batch.contacts) for batch, _ in held) - len(fresh)
        if fresh and isinstance(self.connector, AccountLookup):
            fresh = self.connector.with_accounts(fresh)  # company fields and account owner
        streamed = isinstance(self.connector, RecordActivityStreams)  # stored before the people
        activities = (
            list(self.connector.pull_activities(fresh, since)) if fresh and not streamed else []
        )
        cursors = [batch.cursor for batch, _ in held if batch.cursor is not None]
        with Session(self.engine) as session:
            people = [_person_row(c) for c in fresh]
            upsert(session, PersonRecord, people, versioned_by="modified_at")
            result.changed += len(people)
            store_activities(session, activities)
            result.activities += len(activities)
            for event in (e for batch, _ in held for e in batch.events):
                row = session.get(PersonRecord, (name, event.record_id))
                if row is None:
                    continue
                row.status = event.kind.value
                row.survivor_id = event.survivor_id
                session.add(row)
                result.events += 1
                if event.kind is RecordEventKind.MERGED and event.survivor_id:
                    survivor = session.get(PersonRecord, (name, event.survivor_id))
                    if survivor is not None and survivor.person_key != row.person_key:
                        result.merged[row.person_key] = survivor.person_key
                elif event.kind is not RecordEventKind.CONVERTED:
                    result.ended_keys[row.person_key] = event.kind.value
            advance_cursor(session, name, stream, max(cursors) if cursors else None, now)
            session.commit()
        result.people += sum(len(batch.contacts) for batch, _ in held)
        return fresh

    def _unseen(self, contacts: Sequence[Contact]) -> list[Contact]:
        """The contacts the store does not hold as they are: a held version (same modified
        time) is skipped only while its fields match too. An edit made between our read and
        our own write is stamped with our write's time, and would otherwise pass for its echo."""
        if not contacts:
            return []
        columns: tuple[Any, ...] = (
            PersonRecord.crm_id,
            PersonRecord.modified_at,
            PersonRecord.fields,
        )
        with Session(self.engine) as session:
            held = {
                crm_id: (modified_at, fields)
                for crm_id, modified_at, fields in session.execute(
                    sa_select(*columns).where(
                        col(PersonRecord.connection) == self.connector.name,
                        key_in(col(PersonRecord.crm_id), [c.id for c in contacts]),
                        col(PersonRecord.status) == "active",
                    )
                )
            }
        return [c for c in contacts if c.archived or not _holds(held.get(c.id), c)]


def _holds(held: tuple[datetime, dict[str, Any]] | None, contact: Contact) -> bool:
    """The store holds exactly this version of the contact (time and mapped fields)."""
    if held is None or held[0] != contact.modified_at:
        return False
    stored = held[1]
    pulled = json_value(json_text(dict(contact.fields)))  # as the store would keep them
    from_account = stored.get("account_filled") or ()  # blank on the person, filled by its account
    return all(
        stored.get(name) == value or (value is None and name in from_account)
        for name, value in pulled.items()
    )
