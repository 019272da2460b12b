"""Account settings a connector reads beside the CRM: users (`GET /settings/v3/users`, spec
Settings User Provisioning v3) and custom object schemas (`GET /crm/v3/schemas`, spec CRM
Schemas v3).

Teams (`GET /settings/v3/users/teams`) are the owners' territories. Users are the portal's owners' users: `PublicUser {id, email, roleIds[], primaryTeamId?,
secondaryTeamIds[], superAdmin}` in `{results, paging?}`, `limit` (default 100) and `after`.
A Professional portal without custom objects answers `{results: []}` for schemas (custom
objects need Enterprise).
"""

from __future__ import annotations

import zlib
from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.wire import validation_error
from sandbox.server import SandboxRequest


def list_users(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    try:
        limit = max(1, min(int(req.param("limit") or 100), 100))
        after = int(req.param("after") or 0)
    except ValueError:
        raise validation_error("limit must be a number and after a paging cursor.") from None
    owners = sorted(ctx.store.owners.values(), key=lambda o: o.user_id)
    rows = []
    for owner in owners[after : after + limit]:
        row: dict[str, Any] = {
            "id": str(owner.user_id),
            "email": owner.email,
            "roleIds": [],
            "secondaryTeamIds": [],
            "superAdmin": False,
        }
        if owner.territory:
            row["primaryTeamId"] = str(zlib.crc32(owner.territory.encode()) % 10**6)
        rows.append(row)
    payload: dict[str, Any] = {"results": rows}
    if after + limit < len(owners):
        cursor = str(after + limit)
        payload["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return 200, payload


def list_teams(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    """`GET /settings/v3/users/teams`: `{results: [PublicTeam {id, name, userIds[],
    secondaryUserIds[]}]}`, one team per owner territory (the owners' `teams`)."""
    teams: dict[str, dict[str, Any]] = {}
    for owner in sorted(ctx.store.owners.values(), key=lambda o: o.user_id):
        if not owner.territory:
            continue
        ident = str(zlib.crc32(owner.territory.encode()) % 10**6)
        team = teams.setdefault(
            ident, {"id": ident, "name": owner.territory, "userIds": [], "secondaryUserIds": []}
        )
        team["userIds"].append(str(owner.user_id))
    return 200, {"results": list(teams.values())}


def list_schemas(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    return 200, {"results": []}
