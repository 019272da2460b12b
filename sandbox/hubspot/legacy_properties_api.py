"""Legacy Properties v2: `GET /properties/v2/{objectType}/properties` (contacts, companies,
deals), still read by Airbyte's HubSpot source to type its streams.

The answer is a bare JSON array of property definitions, not the v3 `{results: [...]}` envelope
(HubSpot's legacy "Properties API" reference, "Get all properties for an object": the response
is a list of property objects with `name, label, description, groupName, type, fieldType,
options[], displayOrder, readOnlyValue, readOnlyDefinition, hidden, calculated,
externalOptions, hubspotDefined, formField, deleted, ...`). Paths take the singular and plural
type names (`contact`, `contacts`) as the legacy API did; every object type the sandbox serves
answers (Airbyte asks for `deal_split` too). `form` (HubSpot's forms object, 0-28, for which no
contract is published) answers the form's id, name and type definitions: Airbyte's forms stream
types its records from this list and fails on an empty one.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.schema import OBJECT_TYPE_ALIASES, PropertyDef
from sandbox.hubspot.wire import ApiError
from sandbox.server import SandboxRequest

FORM_PROPERTIES = (
    PropertyDef("hs_form_id", "Form ID", group_name="forminformation", read_only=True),
    PropertyDef("hs_name", "Name", group_name="forminformation"),
    PropertyDef(
        "hs_form_type",
        "Form type",
        "enumeration",
        "select",
        group_name="forminformation",
        options=("hubspot", "captured", "flow"),
    ),
)


def legacy_property(prop: PropertyDef) -> dict[str, Any]:
    """One v2 definition: the v3 fields that exist in v2, epoch-ms stamps, v2's flags."""
    created = prop.created_ms or 0
    return {
        "name": prop.name,
        "label": prop.label,
        "description": prop.description,
        "groupName": prop.group_name,
        "type": prop.type,
        "fieldType": prop.field_type,
        "options": [
            {"label": o.replace("_", " ").title(), "value": o, "displayOrder": i, "hidden": False}
            for i, o in enumerate(prop.options)
        ],
        "displayOrder": -1,
        "readOnlyValue": prop.read_only,
        "readOnlyDefinition": prop.hubspot_defined,
        "hidden": False,
        "mutableDefinitionNotDeletable": prop.hubspot_defined,
        "favorited": False,
        "favoritedOrder": -1,
        "calculated": prop.read_only,
        "externalOptions": False,
        "displayMode": "current_value",
        "showCurrencySymbol": False,
        "hubspotDefined": prop.hubspot_defined,
        "formField": not prop.read_only,
        "hasUniqueValue": False,
        "deleted": False,
        "createdAt": created,
        "updatedAt": created,
        "createdUserId": None,
    }


def list_legacy_properties(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    if object_type in ("form", "forms", "0-28"):
        return 200, [legacy_property(p) for p in FORM_PROPERTIES]
    found = OBJECT_TYPE_ALIASES.get(object_type)
    if found is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {object_type}")
    return 200, [legacy_property(p) for p in ctx.store.properties[found].values()]
