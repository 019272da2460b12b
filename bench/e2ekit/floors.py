"""What a run's calls cost at the rate limits: the floor of the calls made and the fewest calls
the job needs (pages and batches at their maximum sizes)."""

from __future__ import annotations

import math

PRO_BURST = 190 / 10.0  # calls per second, HubSpot Professional
PAGE = 100  # list page and batch size
SEARCH_PAGE = 200  # CRM search page
HISTORY_BATCH = 50  # contacts per batch read with propertiesWithHistory


def call_floor(total: int, search: int, salesforce: bool) -> float:
    """Seconds the calls take at the limits: HubSpot Pro 190 / 10 s (search 5 / s on its own
    bucket); Salesforce has no burst limit, its floor is our own 100 calls / s limiter."""
    return (total / 100.0) if salesforce else max((total - search) / PRO_BURST, search / 5.0)


def minimum_calls(
    calls: dict[str, int], people: int, fresh: int, records: int, salesforce: bool
) -> dict[str, int]:
    """The fewest calls the job needs, each read and write at its maximum size: every contact
    read 100 a list page or 200 a search page (an incremental search must page through our own
    echoes too: HubSpot has no 'modified by someone else' filter); for the `fresh` ones (not
    echoes) property history 50 a batch read and associations 1,000 a call per engagement type;
    writes 100 records a batch update. Engagement reads count as made (each type's associated
    ids in full batches of 100 is that read's minimum), and so do owners, forms and tasks
    (their minimum is what they read, which the run does not report). Salesforce: 2,000
    records a query page, the rest as made."""
    if salesforce:
        pages = math.ceil(people / 2000)
        return {
            "query pages": pages,
            "other (as made)": sum(calls.values()) - calls.get("query", 0),
        }
    search = any(k.endswith("/contacts/search") for k in calls)  # not the companies search
    types = sum(1 for k in calls if k.startswith("POST /crm/v4/associations/"))
    history = any(k == "POST /crm/v3/objects/contacts/batch/read" for k in calls)
    engagements = sum(
        n
        for k, n in calls.items()
        if k.startswith("POST /crm/v3/objects/")
        and k.endswith("/batch/read")
        and "/contacts/" not in k
        and "/tasks/" not in k
    )
    as_made = sum(
        n
        for k, n in calls.items()
        if k.startswith(("GET /crm/v3/owners", "GET /marketing/", "GET /form-integrations/"))
        or "/tasks/" in k
    )
    page = SEARCH_PAGE if search else PAGE
    return {
        "search pages" if search else "contact pages": math.ceil(people / page),
        "history reads": math.ceil(fresh / HISTORY_BATCH) if history else 0,
        "association reads": types * math.ceil(fresh / 1000),
        "engagement reads (as made)": engagements,
        "write batches": math.ceil(records / PAGE),
        "owners, forms, tasks (as made)": as_made,
    }
