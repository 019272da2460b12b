"""Pulling HubSpot contacts without gaps: incremental search, full list, archives and merges.

Incremental (`since` given): CRM search on `lastmodifieddate` in [since - overlap, until],
read from both ends in turn: oldest first (`GTE low`, ascending) and newest first (`LTE high`,
descending). Instead of paging with an offset (which stops at HubSpot's 10,000-result cap and
skips records when others leave the window mid-run) every page narrows the window to what is
left between the two edges. Records at an edge's timestamp are held back and come again on a
later page, so nothing is lost at equal timestamps; only when a whole page shares one timestamp
does it page with an offset inside it. The newest end exists for speed: the previous run's own
writes fill the window's middle, and the changes since then (what a run is for) sit at its top,
so their activity reads start at once instead of after the echoes' search pages. Only the
oldest end moves the cursor, so a run cut short re-reads just the unread part and the top.

Full sync (`since=None`): the list endpoint (stable `after` cursor, 100 per page); the cursor is
committed only with the last batch, since list order is not time order. Its pages also bring each
contact's company and engagement ids (`associations=`, kept in `inline_links.InlineLinks`), so a
full sync makes no v4 associations batch reads for them.

Archived contacts come from the list endpoint with `archived=true`; merges from the survivor's
`hs_merged_object_ids`. Both become `RecordEvent`s in a final batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors import read_once
from connectors.base import ContactBatch
from connectors.errors import SkippableError
from connectors.hubspot.conversions import CONVERSION_PROPERTIES, RecentConversions
from connectors.hubspot.inline_links import InlineLinks
from connectors.hubspot.last_touch import TOUCH_PROPERTIES, LastTouches
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.mapping import FieldCodec, parse_timestamp
from connectors.records import Contact, RecordEvent, RecordEventKind

SEARCH_PAGE = 200
LIST_PAGE = 100
MODIFIED = "lastmodifieddate"
SYSTEM_PROPERTIES = ("lastmodifieddate", "createdate", "hs_merged_object_ids", "hs_object_id")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> str:
    """Epoch milliseconds, exactly (integer arithmetic: an edge held back must be queried at
    its own millisecond, never one below)."""
    return str((moment - _EPOCH) // timedelta(milliseconds=1))


class ContactReader:
    """Reads one HubSpot object type (contacts) as canonical `Contact`s."""

    def __init__(
        self,
        transport: HubSpotTransport,
        codec: FieldCodec,
        *,
        object_type: str,
        overlap: timedelta,
        problems: list[SkippableError],
        inline: InlineLinks | None = None,
        touches: LastTouches | None = None,
        conversions: RecentConversions | None = None,
    ) -> None:
        self._t = transport
        self._conversions = conversions
        self._inline = inline if inline is not None else InlineLinks()
        self._touches = touches if touches is not None else LastTouches()
        self._codec = codec
        self._object_type = object_type
        self._overlap = overlap
        self._problems = problems
        crm = transport.client.crm.contacts
        self._search = crm.search_api
        self._basic = crm.basic_api
        self._batch = crm.batch_api
        touch = TOUCH_PROPERTIES if self._touches.enabled else ()
        self.properties = list(dict.fromkeys([*codec.properties, *SYSTEM_PROPERTIES, *touch]))
        # a one-person read also brings the contact's latest form submission (conversions.py)
        converts = CONVERSION_PROPERTIES if conversions is not None and conversions.enabled else ()
        self._by_id = list(dict.fromkeys([*self.properties, *converts]))

    # --- records -------------------------------------------------------------------------------

    def to_contact(self, raw: dict[str, Any]) -> Contact:
        props = raw.get("properties") or {}
        record_id = str(raw["id"])
        fields: dict[str, Any] = {}
        for name in self._codec.mappings:
            prop = self._codec.mappings[name].property
            if prop not in props:
                continue
            try:
                fields[name] = self._codec.decode_value(name, props[prop], record_id)
            except SkippableError as exc:
                self._problems.append(exc)  # keep the contact, drop the malformed value
        modified = props.get(MODIFIED) or raw.get("updatedAt")
        created = props.get("createdate") or raw.get("createdAt")
        return Contact(
            connection=self._t.name,
            object_type=self._object_type,
            id=record_id,
            modified_at=parse_timestamp(modified),
            fields=fields,
            created_at=parse_timestamp(created) if created else None,
            archived=bool(raw.get("archived", False)),
        )

    def _merges(
        self, contacts: Sequence[Contact], raws: dict[str, dict[str, Any]]
    ) -> list[RecordEvent]:
        events = []
        for contact in contacts:
            merged = (raws[contact.id].get("properties") or {}).get("hs_merged_object_ids") or ""
            for loser in (v for v in str(merged).split(";") if v.strip()):
                events.append(
                    RecordEvent(
                        self._t.name,
                        self._object_type,
                        RecordEventKind.MERGED,
                        loser.strip(),
                        contact.modified_at,
                        survivor_id=contact.id,
                        survivor_object_type=self._object_type,
                    )
                )
        return events

    # --- pulls ---------------------------------------------------------------------------------

    def pull(self, since: datetime | None, until: datetime) -> Iterator[ContactBatch]:
        merged: set[str] = set()
        pages: Iterator[tuple[list[Contact], dict[str, dict[str, Any]], datetime | None]]
        if since is None:
            lower = None
            pages = ((contacts, raws, None) for contacts, raws in self._full(until))
        else:
            lower = since - self._overlap
            pages = self._incremental(lower, until)
        newest: datetime | None = since
        for contacts, raws, settled in pages:
            events = self._merges(contacts, raws)
            merged.update(e.record_id for e in events)
            if contacts:
                top = max(c.modified_at for c in contacts)
                newest = top if newest is None else max(newest, top)
            cursor = None if settled is None else min(settled, until)
            yield ContactBatch(self._object_type, contacts, events, cursor)
        archived = [e for e in self._archived(lower, until) if e.record_id not in merged]
        # the whole window is read: the cursor may pass everything seen (capped at the run start)
        final = min(newest, until) if newest is not None else None
        yield ContactBatch(self._object_type, (), archived, final)

    def _search_page(
        self, window: list[dict[str, Any]], *, sort: str = MODIFIED, newest_first: bool = False
    ) -> Any:
        """One search page of the records matching `window` (one filter group)."""
        request: dict[str, Any] = {
            "filterGroups": [{"filters": window}],
            "sorts": [
                {"propertyName": sort, "direction": "DESCENDING" if newest_first else "ASCENDING"}
            ],
            "properties": self.properties,
            "limit": SEARCH_PAGE,
        }
        return read_json(
            self._search.do_search(public_object_search_request=request, _preload_content=False)
        )

    @staticmethod
    def _between(low: datetime, high: datetime) -> list[dict[str, Any]]:
        return [
            {"propertyName": MODIFIED, "operator": "GTE", "value": epoch_ms(low)},
            {"propertyName": MODIFIED, "operator": "LTE", "value": epoch_ms(high)},
        ]

    def _window_page(
        self, page: Any, low: datetime, high: datetime
    ) -> tuple[list[Contact], dict[str, dict[str, Any]], bool]:
        raws = page.get("results", [])
        self._touches.keep(raws)  # their activity rollups: whose engagements can be newer
        contacts = [self.to_contact(r) for r in raws]
        contacts = sorted(
            (c for c in contacts if low <= c.modified_at <= high),
            key=lambda c: (c.modified_at, c.id),
        )
        has_more = bool((page.get("paging") or {}).get("next"))
        return contacts, {str(r["id"]): r for r in raws}, has_more

    def _incremental(
        self, lower: datetime, until: datetime
    ) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]], datetime | None]]:
        """The window [lower, until] read from both ends at once, one page from each in turn.

        The oldest end moves the cursor (everything below its edge is read); the newest end
        brings the latest changes first (the previous run's own writes sit in between). Each
        end holds back the records at its page's edge timestamp, so the window left between the
        two edges still holds them; a page with no next page means the window is read.
        """
        low, high = lower, until
        newest_first = False
        while True:
            page = self._search_page(self._between(low, high), newest_first=newest_first)
            contacts, by_id, has_more = self._window_page(page, low, high)
            if not has_more:
                yield contacts, by_id, None
                return
            if newest_first:
                edge = contacts[0].modified_at if contacts else high
                ready = [c for c in contacts if c.modified_at > edge]
            else:
                edge = contacts[-1].modified_at if contacts else low
                ready = [c for c in contacts if c.modified_at < edge]
            if not ready:  # a whole page at one timestamp: finish the window oldest first
                yield from self._ascending(low, high)
                return
            if newest_first:
                high = edge
                yield ready, by_id, None
            else:
                low = edge
                yield ready, by_id, ready[-1].modified_at
            newest_first = not newest_first

    def _ascending(
        self, lower: datetime, upper: datetime
    ) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]], datetime | None]]:
        """The window oldest first, re-anchored on each page's newest timestamp. A timestamp
        that fills a whole page is read on its own, by record id, and then passed: no offset,
        so neither the 10,000-result cap nor a record leaving the window mid-run can bite."""
        anchor = lower
        while anchor <= upper:
            page = self._search_page(self._between(anchor, upper))
            contacts, by_id, has_more = self._window_page(page, anchor, upper)
            if not has_more:
                yield contacts, by_id, None
                return
            newest = contacts[-1].modified_at if contacts else anchor
            if newest > anchor:
                # hold back the records at `newest`: the next query (GTE newest) returns them
                ready = [c for c in contacts if c.modified_at < newest]
                anchor = newest
                yield ready, by_id, ready[-1].modified_at if ready else None
            else:
                yield from self._one_timestamp(anchor)
                anchor += timedelta(milliseconds=1)  # HubSpot keeps milliseconds
        yield [], {}, None

    def _one_timestamp(
        self, moment: datetime
    ) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]], datetime | None]]:
        """Every record modified at exactly `moment`, in record-id order (keyset paging)."""
        last_id = 0
        while True:
            window = [
                {"propertyName": MODIFIED, "operator": "EQ", "value": epoch_ms(moment)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
            ]
            page = self._search_page(window, sort="hs_object_id")
            contacts, by_id, has_more = self._window_page(page, moment, moment)
            ids = [int(i) for i in by_id if i.isdigit()]
            done = not has_more or not ids or max(ids) <= last_id
            yield contacts, by_id, moment if done else None
            if done:
                return
            last_id = max(ids)

    def _full(self, until: datetime) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]]]]:
        after: str | None = None
        while True:
            page = read_json(
                self._basic.get_page(
                    limit=LIST_PAGE,
                    after=after,
                    properties=self.properties,
                    associations=list(self._inline.wanted) or None,
                    archived=False,
                    _preload_content=False,
                )
            )
            raws = page.get("results", [])
            contacts = [self.to_contact(r) for r in raws]
            contacts = sorted(
                (c for c in contacts if c.modified_at <= until), key=lambda c: (c.modified_at, c.id)
            )
            kept = {c.id for c in contacts}
            self._inline.keep(r for r in raws if str(r["id"]) in kept)
            yield contacts, {str(r["id"]): r for r in raws}
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _archived(self, lower: datetime | None, until: datetime) -> list[RecordEvent]:
        events: list[RecordEvent] = []
        after: str | None = None
        while True:
            page = read_json(
                self._basic.get_page(
                    limit=LIST_PAGE,
                    after=after,
                    properties=["hs_object_id"],
                    archived=True,
                    _preload_content=False,
                )
            )
            for raw in page.get("results", []):
                stamp = raw.get("archivedAt") or raw.get("updatedAt")
                when = parse_timestamp(stamp)
                if (lower is None or when >= lower) and when <= until:
                    events.append(
                        RecordEvent(
                            self._t.name,
                            self._object_type,
                            RecordEventKind.ARCHIVED,
                            str(raw["id"]),
                            when,
                        )
                    )
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return sorted(events, key=lambda e: (e.occurred_at, e.record_id))

    def read(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Raw properties of these contacts, by id (missing ones absent); 100 per call. Their
        latest form submission is kept for the activity read (`conversions.py`)."""
        out: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        shared = {i: read_once.take(self._key(i)) for i in unique}  # the fast path's (read_once)
        unique = [i for i in unique if shared[i] is None]
        for start in range(0, len(unique), LIST_PAGE):
            chunk = unique[start : start + LIST_PAGE]
            body = {"inputs": [{"id": i} for i in chunk], "properties": self._by_id}
            page = read_json(
                self._batch.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            for raw in page.get("results", []):
                out[str(raw["id"])] = raw
        if self._conversions is not None:
            self._conversions.keep(out.values())
        self._touches.keep_read(out.values())  # none logged: no engagement read (last_touch.py)
        for record_id, raw in out.items():
            read_once.keep(self._key(record_id), raw)
        out.update({i: raw for i, raw in shared.items() if raw is not None})
        return out

    def _key(self, record_id: str) -> read_once.Key:
        return (self._t.name, self._object_type, str(record_id))
