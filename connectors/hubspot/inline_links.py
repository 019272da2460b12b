"""Contact associations that came inline with the full sync's contact list pages.

A full sync lists every contact (`GET /crm/v3/objects/contacts`, 100 a page). Asked with
`associations=companies,calls,...`, each page also carries each contact's associated ids per
type, so the companies and engagements of those contacts need no v4 associations batch read
(one call per type per 1,000 contacts). HubSpot shows at most 100 associations of a type per
record and then a `paging.next` (developer changelog, "Announcing a change to how v3 CRM APIs
return association data", 2021): such a contact's links of that type are *not* kept, so the
readers ask the v4 batch read for it as before. A type absent from a record means no association
of that type (the list answers only the types it has).

The links are kept from the page read until the contacts' activities are read (the pipeline
reads a batch's companies, then its activities), then forgotten; at most `PAGES_KEPT` pages are
kept in any case (the pipeline holds ten pages and reads a dozen ahead), so contacts whose
activities are never read (already stored at that version) cost no memory for long: memory holds
a few batches of contacts' ids, not the portal's. An evicted contact's links are read through v4
again. The read-ahead thread adds pages while the pipeline reads an earlier batch, hence the lock.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

# v3's names for the primary contact->company label and the plain association
PRIMARY_COMPANY_TYPE = "contact_to_company"
PAGES_KEPT = 40
Link = tuple[str, str]  # (associated record id, association type): not the list page's dict


class InlineLinks:
    def __init__(self) -> None:
        self.wanted: tuple[str, ...] = ()  # association types asked of the list endpoint
        self._lock = threading.Lock()
        # contact id -> to type -> links (id, type); a type missing: not known (ask v4). Up to
        # PAGES_KEPT pages of contacts with ~20 links each: as dicts ~27 MB, as tuples ~11 MB
        self._links: dict[str, dict[str, tuple[Link, ...]]] = {}
        self._pages: deque[list[str]] = deque()  # the ids of each page kept, oldest first

    def keep(self, raws: Iterable[dict[str, Any]]) -> None:
        """Remember the complete association lists of these raw list-page records."""
        if not self.wanted:
            return
        with self._lock:
            page: list[str] = []
            for raw in raws:
                shown = raw.get("associations") or {}
                kept: dict[str, tuple[Link, ...]] = {}
                for to_type in self.wanted:
                    collection = shown.get(to_type) or {}
                    if (collection.get("paging") or {}).get("next"):
                        continue  # more than one page: the v4 batch read has them all
                    kept[to_type] = tuple(
                        (str(r["id"]), sys.intern(str(r.get("type") or "")))
                        for r in collection.get("results") or []
                        if r.get("id") is not None
                    )
                self._links[str(raw["id"])] = kept
                page.append(str(raw["id"]))
            self._pages.append(page)
            while len(self._pages) > PAGES_KEPT:
                for contact_id in self._pages.popleft():
                    self._links.pop(contact_id, None)

    def split(
        self, to_type: str, ids: Sequence[str]
    ) -> tuple[dict[str, tuple[Link, ...]], list[str]]:
        """(contact id -> (id, type) links for the contacts whose `to_type` links are known,
        the others)."""
        known: dict[str, tuple[Link, ...]] = {}
        rest: list[str] = []
        with self._lock:
            for contact_id in ids:
                rows = self._links.get(contact_id, {}).get(to_type)
                if rows is None:
                    rest.append(contact_id)
                else:
                    known[contact_id] = rows
        return known, rest

    def forget(self, ids: Iterable[str]) -> None:
        with self._lock:
            for contact_id in ids:
                self._links.pop(contact_id, None)
            if not self._links:  # every page read: a worker lives on, so its tables go too
                self._links = {}  # (a dict keeps the size it grew to when emptied)
                self._pages.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._links)


def primary_company_of(rows: Sequence[Link]) -> tuple[bool, str | None]:
    """(decided, company id) from one contact's inline company rows: the one company under the
    primary label, or the only company; anything else (several companies, no single primary)
    is undecided and left to the v4 batch read, whose type ids say it for sure."""
    primaries = {linked for linked, kind in rows if kind == PRIMARY_COMPANY_TYPE}
    ids = {linked for linked, _ in rows}
    if len(primaries) == 1:
        return True, primaries.pop()
    if len(ids) <= 1:
        return True, ids.pop() if ids else None
    return False, None
