"""Comparing values as the CRM holds them: what Handoff wrote against what a pull reads back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.connections import Connection


def same_in_crm(mapping: Any, a: Any, b: Any) -> bool:
    """Equal once written: canonical values that share one CRM value (HubSpot has no SAL stage:
    sal and mql are both `marketingqualifiedlead`) are the same value there, not drift."""
    values = getattr(mapping, "values", None) or {}
    if values:
        a = values.get(str(a), a) if a is not None else a
        b = values.get(str(b), b) if b is not None else b
    return same_value(a, b)


def as_read_back(connections: Mapping[str, Connection], item: Any) -> Any:
    """The canonical value the next pull reads for what `item` wrote: where several canonical
    values share one CRM value (HubSpot `other` for recycled and disqualified), the first
    listed."""
    connection = connections.get(item.connection)
    mapping = connection.objects.get(item.object_type, {}).get(item.field) if connection else None
    if mapping is None or not mapping.values or item.value is None:
        return item.value
    crm = mapping.values.get(str(item.value))
    return next((k for k, v in mapping.values.items() if v == crm), item.value)


def same_value(a: Any, b: Any) -> bool:
    """CRM values come back as strings or typed values: compare them as a person would."""
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a).strip() == str(b).strip()
