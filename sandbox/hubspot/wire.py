"""JSON shapes on the wire: objects, error bodies, batch envelopes (spec `SimplePublicObject`,
`Error`, `StandardError`, `BatchResponseSimplePublicObject[WithErrors]`; crm-api-notes §1, §4)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from sandbox.hubspot.schema import InvalidValue, iso_of_ms
from sandbox.hubspot.store import HsObject, PortalStore

# Association type names as v3 `?associations=` shows them (`AssociatedId.type`).
_SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "notes": "note",
    "tasks": "task",
    "deals": "deal",
    "tickets": "ticket",
    "communications": "communication",
}


class ApiError(Exception):
    """Raised inside handlers; becomes the HubSpot error body with this status."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context
        self.sub_category = sub_category

    def body(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            payload["subCategory"] = self.sub_category
        if self.errors is not None:
            payload["errors"] = self.errors
        if self.context is not None:
            payload["context"] = self.context
        return payload


def not_found_body() -> dict[str, Any]:
    """The 404 HubSpot's gateway answers for a path no API serves: `status`, `message: "resource
    not found"`, `correlationId`, `requestId`, no `category` (body quoted in
    HGData/mk-node-hubspot#150, a GET sent to a POST-only path)."""
    return {
        "status": "error",
        "message": "resource not found",
        "correlationId": str(uuid.uuid4()),
        "requestId": uuid.uuid4().hex,
    }


def validation_error(message: str, **kwargs: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(object_type: str, object_id: str) -> ApiError:
    return ApiError(
        404,
        "OBJECT_NOT_FOUND",
        f"resource not found: {_SINGULAR.get(object_type, object_type)} {object_id}",
        context={"id": [str(object_id)]},
    )


def property_problems_message(problems: Iterable[InvalidValue]) -> str:
    """HubSpot's VALIDATION_ERROR text for bad property values (PROPERTY_DOESNT_EXIST etc.)."""
    parts = [
        {"isValid": False, "message": str(p), "error": p.code, "name": p.name} for p in problems
    ]
    return "Property values were not valid: " + json.dumps(parts, separators=(",", ":"))


def property_problems(problems: list[InvalidValue]) -> list[dict[str, Any]]:
    return [
        {"message": str(p), "code": p.code, "in": p.name, "context": {"propertyName": [p.name]}}
        for p in problems
    ]


def standard_error(
    category: str,
    message: str,
    ids: Iterable[str],
    *,
    errors: list[dict[str, Any]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """One `StandardError` in a 207 batch response (required keys all present)."""
    item: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "errors": errors or [],
        "context": {"ids": [str(i) for i in ids]},
        "links": {},
    }
    if sub_category:
        item["subCategory"] = sub_category
    return item


def render_object(
    store: PortalStore,
    obj: HsObject,
    properties: Iterable[str],
    associations: Iterable[str] = (),
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(obj.id),
        "properties": {name: obj.value(name) for name in properties},
        "createdAt": iso_of_ms(obj.created_ms),
        "updatedAt": iso_of_ms(obj.updated_ms),
        "archived": obj.archived,
    }
    if obj.archived:
        payload["archivedAt"] = iso_of_ms(obj.archived_ms)
    linked: dict[str, Any] = {}
    for to_type in associations:
        found = store.linked(obj.object_type, obj.id, to_type)
        if found:
            linked[to_type] = inline_associations(obj, to_type, found)
    if linked:
        payload["associations"] = linked
    return payload


# Primary contact<->company labels (type ids 1 and 2): v3 names the link twice, as the primary
# label and as the plain (unlabeled) association it also is.
_PRIMARY_TYPE_IDS = (1, 2)
INLINE_ASSOCIATIONS_MAX = 100  # v3 object reads page associations past 100 (changelog, 2021)


def inline_associations(obj: HsObject, to_type: str, found: dict[int, int]) -> dict[str, Any]:
    """`associations.{to_type}` of a v3 object read: `{results: [{id, type}]}`, at most 100
    rows; past that `paging.next` (`after`, `link`) points at the v4 associations list, from
    the first associated record not shown."""
    label = f"{_SINGULAR[obj.object_type]}_to_{_SINGULAR[to_type]}"
    plain_pair = (obj.object_type, to_type) in {
        ("contacts", "companies"),
        ("companies", "contacts"),
    }
    rows: list[dict[str, str]] = []
    for shown, (to_id, type_id) in enumerate(found.items()):
        if plain_pair:
            names = [label] if type_id in _PRIMARY_TYPE_IDS else []
            names.append(f"{label}_unlabeled")
        else:
            names = [label]
        if len(rows) + len(names) > INLINE_ASSOCIATIONS_MAX:
            after = str(shown)
            link = (
                f"/crm/v4/objects/{obj.object_type}/{obj.id}/associations/{to_type}?after={after}"
            )
            return {"results": rows, "paging": {"next": {"after": after, "link": link}}}
        rows.extend({"id": str(to_id), "type": name} for name in names)
    return {"results": rows}


def batch_envelope(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], now_ms: int
) -> tuple[int, dict[str, Any]]:
    """200 when every input worked, 207 with `errors`/`numErrors` when some failed."""
    stamp = iso_of_ms(now_ms)
    payload: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": stamp,
        "completedAt": stamp,
    }
    if errors:
        payload["numErrors"] = len(errors)
        payload["errors"] = errors
        return 207, payload
    return 200, payload
