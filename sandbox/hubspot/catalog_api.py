"""Owners (`/crm/v3/owners`, spec crmOwners.json) and properties (`/crm/v3/properties/{type}`,
spec properties.json): crm-api-notes §3."""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx, flag
from sandbox.hubspot.objects_api import body_of, object_type_of
from sandbox.hubspot.schema import PropertyDef
from sandbox.hubspot.wire import ApiError, validation_error
from sandbox.server import SandboxRequest

PROPERTY_TYPES = {"bool", "date", "datetime", "enumeration", "number", "phone_number", "string"}
FIELD_TYPES = {
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
}


def list_owners(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    """`limit` default 100, `after` cursor, `archived=true` lists deactivated owners, `email`."""
    try:
        limit = max(1, min(int(req.param("limit") or 100), 500))
        after = int(req.param("after") or 0)
    except ValueError:
        raise validation_error("limit must be a number and after a paging cursor.") from None
    archived = flag(req, "archived")
    email = (req.param("email") or "").lower()
    owners = [
        o
        for o in ctx.store.owners.values()
        if o.active != archived and (not email or o.email.lower() == email)
    ]
    owners.sort(key=lambda o: int(o.id))
    page = owners[after : after + limit]
    payload: dict[str, Any] = {"results": [o.to_json() for o in page]}
    if after + limit < len(owners):
        cursor = str(after + limit)
        payload["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return 200, payload


def get_owner(ctx: Ctx, req: SandboxRequest, owner_id: str) -> tuple[int, Any]:
    by_user = req.param("idProperty") == "userId"
    archived = flag(req, "archived")
    for owner in ctx.store.owners.values():
        key = str(owner.user_id) if by_user else owner.id
        if key == owner_id and (owner.active or archived):
            return 200, owner.to_json()
    raise ApiError(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found.")


def list_properties(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    defs = ctx.store.properties[object_type_of(object_type)]
    return 200, {"results": [p.to_json() for p in defs.values()]}


def get_property(ctx: Ctx, req: SandboxRequest, object_type: str, name: str) -> tuple[int, Any]:
    prop = ctx.store.properties[object_type_of(object_type)].get(name)
    if prop is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} on {object_type}.")
    return 200, prop.to_json()


def create_property(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    """`PropertyCreate` requires name, label, type, fieldType, groupName; 409 when it exists."""
    object_type = object_type_of(object_type)
    body = body_of(req)
    if not isinstance(body, dict):
        raise validation_error("The body must be a PropertyCreate object.")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise validation_error(
            f"Missing required fields: {', '.join(missing)}.",
            errors=[{"message": f"{k} is required", "in": k} for k in missing],
        )
    if body["type"] not in PROPERTY_TYPES:
        raise validation_error(f"type {body['type']!r} is not one of {sorted(PROPERTY_TYPES)}.")
    if body["fieldType"] not in FIELD_TYPES:
        raise validation_error(
            f"fieldType {body['fieldType']!r} is not one of {sorted(FIELD_TYPES)}."
        )
    name = str(body["name"])
    if name in ctx.store.properties[object_type]:
        raise ApiError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
    options = tuple(str(o.get("value")) for o in body.get("options") or [] if isinstance(o, dict))
    prop = PropertyDef(
        name,
        str(body["label"]),
        str(body["type"]),
        str(body["fieldType"]),
        group_name=str(body["groupName"]),
        options=options,
        hubspot_defined=False,
        description=str(body.get("description") or ""),
        created_ms=ctx.now_ms,
    )
    ctx.store.properties[object_type][name] = prop
    return 201, prop.to_json()
