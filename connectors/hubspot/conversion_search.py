"""Contacts by their latest conversion: what the fast path's catch-up reads after a restart.

A form submission moves the contact's `recent_conversion_date` (conversions.py). A listener that
was down (stopped, killed) misses the deliveries made meanwhile, and the one in flight when it
died; HubSpot delivers them again only with its retries, minutes later. The catch-up
(sync/catch_up.py) asks instead: which contacts converted since the last event the fast path
decided? One CRM search (`POST /crm/v3/objects/contacts/search`, HubSpot's "Search the CRM"
guide, https://developers.hubspot.com/docs/api/crm/search):

- filter `recent_conversion_date` GTE the window's start and LTE its end (datetime values as epoch
  milliseconds), and `lastmodifieddate` GTE the start too (a conversion modifies the contact, so
  this removes nobody; it narrows the query to recently changed records);
- sorted by `recent_conversion_date` ascending (one sort per search), 200 a page (the most a page
  holds);
- never past the 10,000-result cap: each page re-anchors the window at its newest conversion
  (`GTE` that millisecond, so records sharing it come again and are skipped by id) instead of
  paging on with `after`; only a page whose records all share one millisecond pages with `after`
  inside it;
- through the transport's search limiter (5 requests a second, apart from the ten-second burst
  window), whose 429 handling retries after `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.hubspot.contacts import epoch_ms
from connectors.hubspot.conversions import RECENT_DATE
from connectors.hubspot.transport import read_json
from connectors.mapping import parse_timestamp

PAGE = 200
RESULT_CAP = 10_000
MODIFIED = "lastmodifieddate"


def converted_between(
    search_api: Any, since: datetime, until: datetime, *, page_size: int = PAGE
) -> Iterator[tuple[str, datetime]]:
    """(contact id, its `recent_conversion_date`) of every contact whose latest conversion is in
    [since, until], oldest first, each once."""
    anchor = since
    after: int | None = None
    seen: set[str] = set()
    while anchor <= until:
        page = _page(search_api, anchor, until, after, page_size)
        rows = _rows(page)
        for contact_id, at in rows:
            if contact_id not in seen and since <= at <= until:
                seen.add(contact_id)
                yield contact_id, at
        following = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not following or not rows:
            return
        newest = max(at for _, at in rows)
        if newest > anchor:
            anchor, after = newest, None  # re-anchored: no offset, no cap
            continue
        after = int(following)  # a whole page in one millisecond: page within it
        if after >= RESULT_CAP:
            return  # 10,000 conversions in one millisecond: the rest is the scheduled sync's


def _page(
    search_api: Any, low: datetime, high: datetime, after: int | None, size: int
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": RECENT_DATE, "operator": "GTE", "value": epoch_ms(low)},
                    {"propertyName": RECENT_DATE, "operator": "LTE", "value": epoch_ms(high)},
                    {"propertyName": MODIFIED, "operator": "GTE", "value": epoch_ms(low)},
                ]
            }
        ],
        "sorts": [{"propertyName": RECENT_DATE, "direction": "ASCENDING"}],
        "properties": [RECENT_DATE],
        "limit": size,
    }
    if after is not None:
        request["after"] = str(after)
    found: dict[str, Any] = read_json(
        search_api.do_search(public_object_search_request=request, _preload_content=False)
    )
    return found


def _rows(page: dict[str, Any]) -> list[tuple[str, datetime]]:
    out = []
    for raw in page.get("results", []):
        value = (raw.get("properties") or {}).get(RECENT_DATE)
        if value:
            out.append((str(raw["id"]), parse_timestamp(value)))
    return out
