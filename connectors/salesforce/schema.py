"""Which custom fields the config needs that the org lacks, with the exact metadata to add.

Salesforce cannot create fields through the REST data API, so Handoff reports them: each
`MissingField` carries a Metadata API `CustomField` definition (what Setup > Object Manager >
Fields & Relationships asks for, or what `sf project deploy` takes). `describe` is called once
per object involved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce

from config.connections import FieldMapping, FieldType
from connectors.salesforce.pull import SOBJECTS
from connectors.salesforce.tasks import TASK_KEY_FIELD


@dataclass(frozen=True, slots=True)
class MissingField:
    sobject: str
    field: str
    canonical: str
    metadata: Mapping[str, Any]

    def __str__(self) -> str:
        kind = self.metadata.get("type", "?")
        return f"{self.sobject}.{self.field} ({kind}) for '{self.canonical}' is missing"


def custom_field_metadata(sobject: str, name: str, mapping: FieldMapping | None) -> dict[str, Any]:
    """A Metadata API CustomField for `sobject.name` shaped after the mapping's type."""
    label = name.removesuffix("__c").replace("_", " ")
    meta: dict[str, Any] = {"fullName": f"{sobject}.{name}", "label": label}
    kind = mapping.type if mapping else FieldType.STRING
    if mapping is None:  # the task key
        meta.update(type="Text", length=255, externalId=True, unique=True, caseSensitive=True)
    elif kind is FieldType.NUMBER:
        meta.update(type="Number", precision=18, scale=2)
    elif kind is FieldType.INTEGER:
        meta.update(type="Number", precision=18, scale=0)
    elif kind is FieldType.BOOLEAN:
        meta.update(type="Checkbox", defaultValue="false")
    elif kind is FieldType.DATETIME:
        meta.update(type="DateTime")
    elif kind is FieldType.DATE:
        meta.update(type="Date")
    elif kind is FieldType.ENUM and mapping and mapping.values:
        meta.update(
            type="Picklist",
            valueSet={
                "restricted": False,
                "valueSetDefinition": {
                    "value": [
                        {"fullName": v, "label": v} for v in dict.fromkeys(mapping.values.values())
                    ]
                },
            },
        )
    elif mapping and mapping.property.lower().endswith(("reasons__c", "breakdown__c")):
        meta.update(type="LongTextArea", length=32768, visibleLines=5)
    else:
        meta.update(type="Text", length=255)
    return meta


def missing_fields(
    sf: Salesforce, objects: Mapping[str, Mapping[str, FieldMapping]], *, with_tasks: bool = True
) -> Sequence[MissingField]:
    wanted: dict[str, list[tuple[str, FieldMapping | None, str]]] = {}
    for object_type, mappings in objects.items():
        sobject = SOBJECTS[object_type]
        for canonical, mapped in mappings.items():
            wanted.setdefault(sobject, []).append((mapped.property, mapped, canonical))
    if with_tasks:
        wanted.setdefault("Task", []).append((TASK_KEY_FIELD, None, "task_key"))
    missing: list[MissingField] = []
    for sobject, fields in wanted.items():
        described = getattr(sf, sobject).describe()
        present = {str(f["name"]).lower() for f in described.get("fields", [])}
        for name, mapping, canonical in fields:
            if name.lower() in present:
                continue
            missing.append(
                MissingField(
                    sobject, name, canonical, custom_field_metadata(sobject, name, mapping)
                )
            )
    return missing
