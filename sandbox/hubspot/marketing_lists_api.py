"""Lists and legacy email endpoints a connector pages through, answered as a portal with none.

- `POST /crm/v3/lists/search` (spec CRM Lists v3, `ListSearchRequest {query, processingTypes,
  listIds, offset, count, additionalProperties}` -> `ListSearchResponse {lists, offset, hasMore,
  total}`): the sandbox keeps no lists.
- `GET /email/public/v1/events` (legacy Email Events API: `{events, hasMore, offset}`) and
  `GET /email/public/v1/subscriptions/timeline` (`{timeline, hasMore, offset}`),
  `GET /email/public/v1/campaigns/by-id` (`{campaigns, hasMore, offset}`) and
  `GET /email/public/v1/subscriptions` (`{subscriptionDefinitions}`): the sandbox sends no
  marketing email through these APIs (email opens and clicks are in the Events API,
  timeline_api.py), so each is one empty, final page; likewise
  `GET /marketing-emails/v1/emails/with-statistics` (legacy Marketing Email API:
  `{objects, limit, offset, total}`).
- `GET /automation/v3/workflows` (legacy Workflows API v3: `{workflows: [...]}`): no workflows.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.objects_api import body_of
from sandbox.hubspot.wire import validation_error
from sandbox.server import SandboxRequest


def search_lists(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    body = body_of(req)
    if body is not None and not isinstance(body, dict):
        raise validation_error("The body must be a ListSearchRequest object.")
    offset = int((body or {}).get("offset") or 0)
    return 200, {"lists": [], "offset": offset, "hasMore": False, "total": 0}


def email_events(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"events": [], "hasMore": False, "offset": req.param("offset") or ""}


def subscription_timeline(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"timeline": [], "hasMore": False, "offset": req.param("offset") or ""}


def email_campaigns(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"campaigns": [], "hasMore": False, "offset": req.param("offset") or ""}


def subscription_types(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"subscriptionDefinitions": []}


def marketing_emails(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    try:
        limit = int(req.param("limit") or 20)
        offset = int(req.param("offset") or 0)
    except ValueError:
        raise validation_error("limit and offset must be numbers.") from None
    return 200, {"objects": [], "limit": limit, "offset": offset, "total": 0}


def workflows(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"workflows": []}
