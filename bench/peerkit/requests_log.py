"""A run's figures from the sandbox's request log: calls by endpoint, 429s, refused routes and
API time.

API time is the span of the run's requests as the sandbox saw them: from the first request's
arrival to the last answer's end. It leaves out the process's start-up and whatever it does
after its last call, and it is what the rate limit governs; `server_seconds` adds up the
requests' own durations (the sandbox's work, not the client's)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

_ID = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|p\d+|[A-Za-z0-9]{18,})$")


def endpoint(record: dict[str, Any]) -> str:
    """`GET /crm/v3/objects/contacts/{id}`: ids folded so calls group by route."""
    parts = ["{id}" if _ID.match(p) else p for p in record["path"].split("/")]
    return f"{record['method']} {'/'.join(parts)}"


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    calls = Counter(endpoint(r) for r in records)
    refused = Counter(
        f"{endpoint(r)} {r['status']}" for r in records if r["status"] >= 400 and r["status"] != 429
    )
    starts = [_at(r["time"]) for r in records]
    ends = [s + r.get("duration_ms", 0) / 1000 for s, r in zip(starts, records, strict=True)]
    return {
        "calls": sum(calls.values()),
        "calls_by_endpoint": dict(calls.most_common()),
        "throttled_429": sum(1 for r in records if r["status"] == 429),
        "refused": dict(refused.most_common()),
        "api_seconds": round(max(ends) - min(starts), 2) if records else 0.0,
        "server_seconds": round(sum(r.get("duration_ms", 0) for r in records) / 1000, 2),
    }
