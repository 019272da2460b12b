"""Each changed contact's latest engagement time, from the contact's own activity rollups.

HubSpot keeps, on every contact, the time of its latest logged sales activity and of its next
one: `notes_last_updated` (Last activity date: a call, email, meeting or note logged),
`notes_last_contacted` (Last contacted: a call, sales email or meeting logged),
`hs_last_sales_activity_timestamp` (Last engagement date) and `notes_next_activity_date` (Next
activity date: the next open task or upcoming meeting) (HubSpot knowledge base, "HubSpot's
default contact properties", Sales properties). Logging an engagement against a contact updates
them, so the contact's `lastmodifieddate` moves too and an incremental pull lists it.

An incremental pull keeps only engagements whose `hs_timestamp` is at or after its cursor. A
changed contact none of whose rollups reaches the cursor (its job title changed, say) has no
such engagement: its v4 associations and engagement batch reads would all be dropped, so they
are not made (`recent`); its older activities are in the store already. A contact whose rollups
were not seen (read by another road, or evicted) is read as before.

The incremental search pages bring these properties along (`keep`); the activity read asks
`recent` and then `forget`s. At most `PAGES_KEPT` pages are kept, as `inline_links` does.

A contact read by id (the fast path's one-person read: `keep_read`) is kept apart, for
`FRESH_SECONDS`, until its activity read: one whose rollups are all empty has no call, email,
meeting or note logged at all, so even a read with no cursor (the one-person pull) makes none of
their association reads (a contact a form made seconds before: three calls of a decision's nine).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from connectors.mapping import parse_timestamp

TOUCH_PROPERTIES = (
    "notes_last_updated",
    "notes_last_contacted",
    "hs_last_sales_activity_timestamp",
    "notes_next_activity_date",
)
PAGES_KEPT = 40
READ_KEPT = 2_048  # contacts read by id, kept until their activity read
FRESH_SECONDS = 60.0  # a by-id read older than this is not trusted (read as before)
_UNSEEN = object()


class LastTouches:
    def __init__(self) -> None:
        self.enabled = False  # engagements are mapped: the contact pages ask for the rollups
        self._lock = threading.Lock()
        self._latest: dict[str, datetime | None] = {}  # contact id -> latest rollup, None: none
        self._pages: deque[list[str]] = deque()
        # contact id -> (when read, latest rollup or None), from one-person reads
        self._read: OrderedDict[str, tuple[float, datetime | None]] = OrderedDict()

    def keep(self, raws: Iterable[dict[str, Any]]) -> None:
        """Remember the latest rollup of each raw search-page record."""
        if not self.enabled:
            return
        with self._lock:
            page: list[str] = []
            for raw in raws:
                props = raw.get("properties") or {}
                stamps = [parse_timestamp(props[p]) for p in TOUCH_PROPERTIES if props.get(p)]
                self._latest[str(raw["id"])] = max(stamps) if stamps else None
                page.append(str(raw["id"]))
            self._pages.append(page)
            while len(self._pages) > PAGES_KEPT:
                for contact_id in self._pages.popleft():
                    self._latest.pop(contact_id, None)

    def keep_read(self, raws: Iterable[dict[str, Any]]) -> None:
        """Remember the latest rollup of each raw record a by-id read gave."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            for raw in raws:
                props = raw.get("properties") or {}
                stamps = [parse_timestamp(props[p]) for p in TOUCH_PROPERTIES if props.get(p)]
                contact_id = str(raw["id"])
                self._read[contact_id] = (now, max(stamps) if stamps else None)
                self._read.move_to_end(contact_id)
            while len(self._read) > READ_KEPT:
                self._read.popitem(last=False)

    def _seen(self, contact_id: str, now: float) -> object:
        """The latest rollup seen (None: none at all), or _UNSEEN. Caller holds the lock."""
        if contact_id in self._latest:
            return self._latest[contact_id]
        read = self._read.get(contact_id)
        if read is not None and now - read[0] <= FRESH_SECONDS:
            return read[1]
        return _UNSEEN

    def recent(self, ids: Sequence[str], since: datetime | None) -> list[str]:
        """The contacts that may have an engagement at or after `since`: those with a rollup
        at or after it (any rollup when `since` is None) or with none seen."""
        now = time.monotonic()
        with self._lock:
            out = []
            for contact_id in ids:
                latest = self._seen(contact_id, now)
                if latest is _UNSEEN:
                    out.append(contact_id)  # not seen: read as before
                elif since is None and contact_id not in self._latest:
                    if latest is not None:  # a by-id read with no cursor: any engagement at all
                        out.append(contact_id)
                elif since is None:
                    out.append(contact_id)  # a full pull's page: read as before
                elif isinstance(latest, datetime) and latest >= since:
                    out.append(contact_id)
            return out

    def forget(self, ids: Iterable[str]) -> None:
        with self._lock:
            for contact_id in ids:
                self._latest.pop(contact_id, None)
                self._read.pop(contact_id, None)
            if not self._latest:
                self._latest = {}
                self._pages.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._latest)
