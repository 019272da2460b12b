"""`/crm/v3/objects/{objectType}`: list, read, create, update, archive, batch, merge, search.

Shapes and codes follow the Contacts/Tasks/... v3 specs (crm-api-notes §1-2): list `limit`
default 10, max 100, `after` cursor in `paging.next.after`; batch endpoints take at most 100
inputs and answer 200/201 when all worked, 207 with `errors[]`/`numErrors` otherwise (changelog
"Simplifying batch update response codes"); engagements require `hs_timestamp` (tasks guide).
"""

from __future__ import annotations

import bisect
from typing import Any

from sandbox.hubspot.association_types import PAIR_OF_TYPE_ID
from sandbox.hubspot.context import Ctx, flag, multi_param
from sandbox.hubspot.forms_api import history_of
from sandbox.hubspot.schema import (
    ENGAGEMENT_TYPES,
    OBJECT_TYPE_ALIASES,
    default_properties,
    iso_of_ms,
    parse_ms,
)
from sandbox.hubspot.search import run_search
from sandbox.hubspot.store import HsObject, PropertyErrors
from sandbox.hubspot.wire import (
    ApiError,
    not_found,
    property_problems,
    property_problems_message,
    render_object,
    validation_error,
)
from sandbox.server import SandboxRequest

# Contact rollups HubSpot recalculates when an engagement is logged against the contact.
ROLLUP_BY_ENGAGEMENT = {
    "calls": ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp"),
    "emails": ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp"),
    "meetings": (
        "notes_last_updated",
        "notes_last_contacted",
        "hs_last_sales_activity_timestamp",
        "notes_next_activity_date",
    ),
    "notes": ("notes_last_updated",),
    "tasks": ("notes_next_activity_date",),
}
NEXT_ACTIVITY = "notes_next_activity_date"


def object_type_of(raw: str) -> str:
    found = OBJECT_TYPE_ALIASES.get(raw)
    if found is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {raw}")
    return found


def body_of(req: SandboxRequest) -> Any:
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError):
        raise validation_error("Invalid input JSON: the request body is not valid JSON.") from None


def _props_param(req: SandboxRequest, object_type: str) -> list[str]:
    return multi_param(req, "properties") or list(default_properties(object_type))


def _assoc_param(req: SandboxRequest) -> list[str]:
    return [
        OBJECT_TYPE_ALIASES[a] for a in multi_param(req, "associations") if a in OBJECT_TYPE_ALIASES
    ]


def touch_contact(ctx: Ctx, contact: HsObject, engagement_type: str, at_ms: int) -> None:
    """An engagement logged against a contact updates its rollups and lastmodifieddate. A
    "last" rollup holds the latest such time (an older, backdated engagement leaves it); the
    next activity date holds the soonest upcoming one."""
    rollups: dict[str, str] = {}
    for name in ROLLUP_BY_ENGAGEMENT.get(engagement_type, ()):
        held = parse_ms(contact.properties.get(name))
        if name == NEXT_ACTIVITY:
            upcoming = held is not None and held >= ctx.now_ms
            if at_ms >= ctx.now_ms and (not upcoming or at_ms < (held or 0)):
                rollups[name] = iso_of_ms(at_ms)
        elif held is None or at_ms > held:
            rollups[name] = iso_of_ms(at_ms)
    ctx.store.apply(contact, rollups, ctx.now_ms)


def shown_properties(obj: HsObject) -> list[str]:
    """Properties a single create/update/merge answers with: what it holds plus system ones."""
    system = (
        ("createdate", "lastmodifieddate")
        if obj.object_type == "contacts"
        else (
            "hs_createdate",
            "hs_lastmodifieddate",
        )
    )
    return list(dict.fromkeys([*obj.properties, "hs_object_id", *system]))


def list_objects(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    try:
        limit = int(req.param("limit") or 10)
        after = int(req.param("after") or 0)
    except ValueError:
        raise validation_error(
            "limit must be a number and after a paging cursor from paging.next.after."
        ) from None
    with_history = multi_param(req, "propertiesWithHistory")
    # hubspot-api-client PROPERTY_HISTORY_MAX_SIZE: 50 a page when history is asked
    limit = max(1, min(limit, ctx.knobs.history_batch_max if with_history else ctx.knobs.list_max))
    archived = flag(req, "archived")
    props, assocs = _props_param(req, object_type), _assoc_param(req)
    order = ctx.store.order[object_type]
    objects = ctx.store.objects[object_type]
    page: list[HsObject] = []
    index = bisect.bisect_left(order, after)
    next_after: int | None = None
    while index < len(order):
        obj = objects[order[index]]
        index += 1
        if obj.archived != archived or obj.merged_into is not None:
            continue
        if len(page) == limit:
            next_after = obj.id
            break
        page.append(obj)
    payload: dict[str, Any] = {
        "results": [
            _with_history(ctx, o, render_object(ctx.store, o, props, assocs), with_history)
            for o in page
        ]
    }
    if next_after is not None:
        cursor = str(next_after)
        payload["paging"] = {"next": {"after": cursor, "link": f"?after={cursor}"}}
    return 200, payload


def get_object(ctx: Ctx, req: SandboxRequest, object_type: str, object_id: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    id_property = req.param("idProperty")
    archived = flag(req, "archived")
    obj = (
        ctx.store.find_by(object_type, id_property, object_id)
        if id_property
        else ctx.store.lookup(object_type, object_id, archived=archived)
    )
    if obj is None:
        raise not_found(object_type, object_id)
    shown = render_object(ctx.store, obj, _props_param(req, object_type), _assoc_param(req))
    return 200, _with_history(ctx, obj, shown, multi_param(req, "propertiesWithHistory"))


def _with_history(
    ctx: Ctx, obj: HsObject, shown: dict[str, Any], names: list[str]
) -> dict[str, Any]:
    """`propertiesWithHistory`: each asked property's versions, newest first (spec
    `SimplePublicObjectWithAssociations.propertiesWithHistory`, `ValueWithTimestamp`)."""
    if names:
        shown["propertiesWithHistory"] = {name: history_of(ctx.store, obj, name) for name in names}
    return shown


def checked_properties(ctx: Ctx, object_type: str, values: Any) -> dict[str, str]:
    if not isinstance(values, dict):
        raise validation_error("properties must be an object of property name -> string value.")
    try:
        return ctx.store.check(object_type, values)
    except PropertyErrors as exc:
        raise validation_error(
            property_problems_message(exc.problems), errors=property_problems(exc.problems)
        ) from None


def _associations(ctx: Ctx, object_type: str, raw: Any) -> list[tuple[str, int, int]]:
    """Validate `associations: [{to: {id}, types: [{associationCategory, associationTypeId}]}]`."""
    out: list[tuple[str, int, int]] = []
    for item in raw or []:
        try:
            to_id = str(item["to"]["id"])
            types = item["types"]
        except (KeyError, TypeError):
            raise validation_error("Each association needs to.id and types[].") from None
        for spec in types:
            try:
                type_id = int(spec.get("associationTypeId", 0))
            except (TypeError, ValueError, AttributeError):
                raise validation_error("associationTypeId must be a number, e.g. 204.") from None
            pair = PAIR_OF_TYPE_ID.get(type_id)
            if pair is None or pair[0] != object_type:
                raise validation_error(
                    f"associationTypeId {type_id} is not valid from {object_type} "
                    "(e.g. 204 links a task to a contact)."
                )
            target = ctx.store.lookup(pair[1], to_id)
            if target is None:
                raise validation_error(f"{pair[1]} {to_id} does not exist, cannot associate.")
            out.append((pair[1], target.id, type_id))
    return out


def create_one(ctx: Ctx, object_type: str, item: Any) -> HsObject:
    if not isinstance(item, dict):
        raise validation_error("Each input must be an object with properties.")
    values = checked_properties(ctx, object_type, item.get("properties") or {})
    if object_type in ENGAGEMENT_TYPES and not values.get("hs_timestamp"):
        raise validation_error(
            "Missing required property hs_timestamp: set it to the due/occurred time "
            "(epoch milliseconds or ISO-8601).",
            errors=[
                {"message": "hs_timestamp is required", "code": "REQUIRED", "in": "hs_timestamp"}
            ],
        )
    if object_type == "contacts" and values.get("email"):
        existing = ctx.store.find_by("contacts", "email", values["email"])
        if existing is not None:
            raise ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {existing.id}")
    links = _associations(ctx, object_type, item.get("associations"))
    obj = ctx.store.insert(object_type, values, ctx.now_ms)
    for to_type, to_id, type_id in links:
        ctx.store.link(object_type, obj.id, to_type, to_id, type_id)
        if to_type == "contacts" and object_type in ENGAGEMENT_TYPES:
            at = parse_ms(values.get("hs_timestamp")) or ctx.now_ms
            touch_contact(ctx, ctx.store.objects["contacts"][to_id], object_type, at)
    return obj


def create_object(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    obj = create_one(ctx, object_type, body_of(req))
    return 201, render_object(ctx.store, obj, shown_properties(obj))


def update_object(
    ctx: Ctx, req: SandboxRequest, object_type: str, object_id: str
) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    id_property = req.param("idProperty")
    obj = (
        ctx.store.find_by(object_type, id_property, object_id)
        if id_property
        else ctx.store.lookup(object_type, object_id)
    )
    if obj is None:
        raise not_found(object_type, object_id)
    body = body_of(req)
    values = checked_properties(
        ctx, object_type, (body or {}).get("properties") if isinstance(body, dict) else None
    )
    ctx.store.apply(obj, values, ctx.now_ms)
    return 200, render_object(ctx.store, obj, shown_properties(obj))


def archive_object(
    ctx: Ctx, req: SandboxRequest, object_type: str, object_id: str
) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    obj = ctx.store.lookup(object_type, object_id)
    if obj is not None:  # archiving an unknown id is a 204 too
        ctx.store.archive(obj, ctx.now_ms)
    return 204, None


def search_objects(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    visible_until = ctx.now_ms - int(ctx.knobs.search_lag_seconds * 1000)
    return 200, run_search(
        ctx.store,
        object_type,
        body_of(req),
        limits=ctx.knobs.search,
        visible_until_ms=visible_until,
    )


def merge_objects(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    body = body_of(req) or {}
    if not isinstance(body, dict):
        raise validation_error("The merge body is {primaryObjectId, objectIdToMerge}.")
    primary = ctx.store.lookup(object_type, str(body.get("primaryObjectId")))
    secondary = ctx.store.lookup(object_type, str(body.get("objectIdToMerge")))
    if primary is None or secondary is None:
        missing = body.get("primaryObjectId") if primary is None else body.get("objectIdToMerge")
        raise not_found(object_type, str(missing))
    if primary.id == secondary.id:
        raise validation_error("Cannot merge an object with itself.")
    survivor = ctx.store.merge(primary, secondary, ctx.now_ms)
    return 200, render_object(ctx.store, survivor, shown_properties(survivor))
