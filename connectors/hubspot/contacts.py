"""Pulling HubSpot contacts without gaps: incremental search, full list, archives and merges.

Incremental (`since` given): CRM search on `lastmodifieddate` in [since - overlap, until],
ascending. Instead of paging with an offset (which stops at HubSpot's 10,000-result cap and
skips records when others leave the window mid-run) every page re-anchors the window on the last
timestamp seen (`GTE last`). Records at that last timestamp are held back and come again at the
top of the next page, so batches are in (modified_at, id) order and nothing is lost at equal
timestamps. Only when a whole page shares one timestamp does it page with an offset inside it.

Full sync (`since=None`): the list endpoint (stable `after` cursor, 100 per page); the cursor is
committed only with the last batch, since list order is not time order.

Archived contacts come from the list endpoint with `archived=true`; merges from the survivor's
`hs_merged_object_ids`. Both become `RecordEvent`s in a final batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.base import ContactBatch
from connectors.errors import FatalError, SkippableError
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.mapping import FieldCodec, parse_timestamp
from connectors.records import Contact, RecordEvent, RecordEventKind

SEARCH_PAGE = 200
LIST_PAGE = 100
SEARCH_CAP = 10_000
MODIFIED = "lastmodifieddate"
SYSTEM_PROPERTIES = ("lastmodifieddate", "createdate", "hs_merged_object_ids", "hs_object_id")


def epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


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
    ) -> None:
        self._t = transport
        self._codec = codec
        self._object_type = object_type
        self._overlap = overlap
        self._problems = problems
        crm = transport.client.crm.contacts
        self._search = crm.search_api
        self._basic = crm.basic_api
        self._batch = crm.batch_api
        self.properties = list(dict.fromkeys([*codec.properties, *SYSTEM_PROPERTIES]))

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
        last: datetime | None = since
        if since is None:
            source = self._full(until)
        else:
            source = self._incremental(since - self._overlap, until)
        pending_cursor: datetime | None = None
        for contacts, raws in source:
            events = self._merges(contacts, raws)
            merged.update(e.record_id for e in events)
            if contacts:
                newest = (
                    contacts[-1].modified_at
                    if since is not None
                    else max(c.modified_at for c in contacts)
                )
                last = newest if last is None else max(last, newest)
            if since is not None:
                cursor = min(last, until) if last is not None else None
                yield ContactBatch(self._object_type, contacts, events, cursor)
            else:
                pending_cursor = min(last, until) if last is not None else None
                yield ContactBatch(self._object_type, contacts, events, None)
        lower = None if since is None else since - self._overlap
        archived = [e for e in self._archived(lower, until) if e.record_id not in merged]
        final = pending_cursor if since is None else (min(last, until) if last else None)
        if archived or since is None:
            yield ContactBatch(self._object_type, (), archived, final)

    def _incremental(
        self, lower: datetime, until: datetime
    ) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]]]]:
        anchor = lower
        offset = 0
        seen_at_anchor: set[str] = set()
        while True:
            if offset + SEARCH_PAGE > SEARCH_CAP:
                raise FatalError(
                    f"more than {SEARCH_CAP:,} contacts share lastmodifieddate {anchor.isoformat()}: "
                    "run a full resync (handoff sync --full)",
                    connection=self._t.name,
                )
            request: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": MODIFIED,
                                "operator": "GTE",
                                "value": epoch_ms(anchor),
                            },
                            {"propertyName": MODIFIED, "operator": "LTE", "value": epoch_ms(until)},
                        ]
                    }
                ],
                "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
                "properties": self.properties,
                "limit": SEARCH_PAGE,
            }
            if offset:
                request["after"] = str(offset)
            page = read_json(
                self._search.do_search(public_object_search_request=request, _preload_content=False)
            )
            raws = [r for r in page.get("results", []) if str(r["id"]) not in seen_at_anchor]
            contacts = [self.to_contact(r) for r in raws]
            contacts = [c for c in contacts if lower <= c.modified_at <= until]
            contacts.sort(key=lambda c: (c.modified_at, c.id))
            by_id = {str(r["id"]): r for r in raws}
            has_more = bool((page.get("paging") or {}).get("next"))
            if not has_more:
                yield contacts, by_id
                return
            if not contacts:
                # the whole page was already seen at this timestamp: page inside it
                offset += len(page.get("results", []))
                continue
            newest = contacts[-1].modified_at
            if newest > anchor:
                # hold back the records at `newest`: the next query (GTE newest) returns them
                ready = [c for c in contacts if c.modified_at < newest]
                anchor, offset, seen_at_anchor = newest, 0, set()
                yield ready, by_id
            else:
                offset += len(page.get("results", []))
                seen_at_anchor.update(c.id for c in contacts)
                yield contacts, by_id

    def _full(self, until: datetime) -> Iterator[tuple[list[Contact], dict[str, dict[str, Any]]]]:
        after: str | None = None
        while True:
            page = read_json(
                self._basic.get_page(
                    limit=LIST_PAGE,
                    after=after,
                    properties=self.properties,
                    archived=False,
                    _preload_content=False,
                )
            )
            raws = page.get("results", [])
            contacts = [self.to_contact(r) for r in raws]
            contacts = sorted(
                (c for c in contacts if c.modified_at <= until), key=lambda c: (c.modified_at, c.id)
            )
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
        """Raw properties of these contacts, by id (missing ones absent); 100 per call."""
        out: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), LIST_PAGE):
            chunk = unique[start : start + LIST_PAGE]
            body = {"inputs": [{"id": i} for i in chunk], "properties": self.properties}
            page = read_json(
                self._batch.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            for raw in page.get("results", []):
                out[str(raw["id"])] = raw
        return out
