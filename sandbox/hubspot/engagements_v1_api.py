"""Legacy Engagements v1: `GET /engagements/v1/engagements/paged` (every engagement) and
`GET /engagements/v1/engagements/recent/modified` (changed since `since`), read by Airbyte's
engagements stream.

HubSpot's legacy "Engagements API" reference: `limit` (paged: max 250; recent: max 100),
`offset` (from the previous page), answer `{results, hasMore, offset}` (recent adds `total`),
each result `{engagement: {id, portalId, active, createdAt, lastUpdated, ownerId, type,
timestamp}, associations: {contactIds, companyIds, dealIds, ownerIds, workflowIds, ticketIds},
attachments: [], metadata: {...}}` with epoch-ms stamps. The recent endpoint only reaches back
30 days and at most 10,000 records (the same reference). The records are the v3 calls, emails,
meetings, notes and tasks of the portal: one store, two APIs.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.schema import ENGAGEMENT_TYPES
from sandbox.hubspot.store import HsObject
from sandbox.hubspot.wire import validation_error
from sandbox.server import SandboxRequest

V1_TYPE = {"calls": "CALL", "emails": "EMAIL", "meetings": "MEETING", "notes": "NOTE",
           "tasks": "TASK"}  # fmt: skip
# v3 property -> v1 metadata key, per type
METADATA = {
    "calls": {"hs_call_body": "body", "hs_call_title": "title", "hs_call_duration": "durationMilliseconds",
              "hs_call_status": "status", "hs_call_disposition": "disposition"},
    "emails": {"hs_email_subject": "subject", "hs_email_text": "text"},
    "meetings": {"hs_meeting_title": "title", "hs_meeting_body": "body",
                 "hs_meeting_start_time": "startTime", "hs_meeting_end_time": "endTime"},
    "notes": {"hs_note_body": "body"},
    "tasks": {"hs_task_subject": "subject", "hs_task_body": "body", "hs_task_status": "status",
              "hs_task_type": "taskType", "hs_task_priority": "priority"},
}  # fmt: skip
RECENT_WINDOW_MS = 30 * 86_400_000
RECENT_CAP = 10_000


def _ids(ctx: Ctx, obj: HsObject, to_type: str) -> list[int]:
    return sorted(ctx.store.linked(obj.object_type, obj.id, to_type))


def render_engagement(ctx: Ctx, obj: HsObject) -> dict[str, Any]:
    owner = obj.properties.get("hubspot_owner_id")
    timestamp = obj.ms("hs_timestamp") or obj.created_ms
    engagement: dict[str, Any] = {
        "id": obj.id,
        "portalId": ctx.portal_id,
        "active": True,
        "createdAt": obj.created_ms,
        "lastUpdated": obj.updated_ms,
        "type": V1_TYPE[obj.object_type],
        "timestamp": timestamp,
    }
    if owner:
        engagement["ownerId"] = int(owner) if owner.isdigit() else owner
    metadata = {
        key: obj.properties[name]
        for name, key in METADATA[obj.object_type].items()
        if obj.properties.get(name)
    }
    return {
        "engagement": engagement,
        "associations": {
            "contactIds": _ids(ctx, obj, "contacts"),
            "companyIds": _ids(ctx, obj, "companies"),
            "dealIds": _ids(ctx, obj, "deals"),
            "ownerIds": [],
            "workflowIds": [],
            "ticketIds": [],
        },
        "attachments": [],
        "metadata": metadata,
    }


def _engagements(ctx: Ctx) -> list[HsObject]:
    rows = [
        obj
        for kind in ENGAGEMENT_TYPES
        for obj in ctx.store.objects[kind].values()
        if not obj.archived
    ]
    rows.sort(key=lambda o: o.id)
    return rows


def _paging(req: SandboxRequest, maximum: int) -> tuple[int, int]:
    try:
        limit = max(1, min(int(req.param("limit") or 100), maximum))
        offset = int(req.param("offset") or 0)
    except ValueError:
        raise validation_error(
            "limit must be a number and offset the previous page's offset."
        ) from None
    return limit, offset


def paged(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    """All engagements by id; `offset` is the last id of the previous page."""
    limit, offset = _paging(req, 250)
    rows = [o for o in _engagements(ctx) if o.id > offset]
    page = rows[:limit]
    return 200, {
        "results": [render_engagement(ctx, o) for o in page],
        "hasMore": len(rows) > limit,
        "offset": page[-1].id if page else offset,
    }


def recent(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    """Changed since `since` (epoch ms, default 30 days ago), newest first; `offset` counts."""
    limit, offset = _paging(req, 100)
    try:
        since = int(req.param("since") or ctx.now_ms - RECENT_WINDOW_MS)
    except ValueError:
        raise validation_error("since must be epoch milliseconds.") from None
    since = max(since, ctx.now_ms - RECENT_WINDOW_MS)
    rows = [o for o in _engagements(ctx) if o.updated_ms >= since]
    rows.sort(key=lambda o: (o.updated_ms, o.id), reverse=True)
    rows = rows[:RECENT_CAP]
    page = rows[offset : offset + limit]
    return 200, {
        "results": [render_engagement(ctx, o) for o in page],
        "hasMore": offset + limit < len(rows),
        "offset": offset + len(page),
        "total": len(rows),
    }
