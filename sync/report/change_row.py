"""One change of a run as a report row: the CRM record, who it is, the field, both values and
what became of the write; and the link to the record in its CRM.

Made at the run's end for the report (`sync/report/build.py`), or as the write's outcome lands
(`sync/report/early_rows.py`): the same function either way, so the rows are the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from config.model import HandoffConfig

CHANGE = {"task": "create task", "webhook": "notify"}
SF_OBJECTS = {"lead": "Lead", "contact": "Contact"}


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


SCALARS = frozenset({str, int, bool, type(None)})  # as they are in a report


def plain(value: Any) -> Any:
    if type(value) in SCALARS:
        return value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 1)
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in sorted(value.__dataclass_fields__)}
    return value


class RecordLinks:
    """The URL of a record in its CRM: HubSpot needs the portal id, Salesforce the instance."""

    def __init__(self, config: HandoffConfig) -> None:
        self.hubspot: dict[str, int] = {}
        self.salesforce: dict[str, str] = {}
        for c in config.connections:
            if c.kind == "hubspot" and c.hubspot is not None and c.hubspot.portal_id:
                self.hubspot[c.name] = c.hubspot.portal_id
            if c.kind == "salesforce" and c.salesforce is not None and c.salesforce.instance_url:
                self.salesforce[c.name] = c.salesforce.instance_url.rstrip("/")

    def url(self, connection: str, object_type: str, record_id: str) -> str | None:
        if connection in self.hubspot and object_type == "contact":
            return f"https://app.hubspot.com/contacts/{self.hubspot[connection]}/record/0-1/{record_id}"
        if connection in self.salesforce and object_type in SF_OBJECTS:
            base = self.salesforce[connection]
            return f"{base}/lightning/r/{SF_OBJECTS[object_type]}/{record_id}/view"
        return None


def change_row(change: tuple[Any, ...], links: RecordLinks) -> dict[str, Any]:
    """One change of the run's ledger as a report row, with who its record is."""
    connection, record_id, field, _key, object_type, kind, value, previous, reason = change[:9]
    status, error, person, name, email, company = change[9:]
    return {
        "person": person,
        "name": (name or None) if person else None,
        "email": (email or None) if person else None,
        "company": (company or None) if person else None,
        "connection": connection,
        "object": object_type,
        "record": record_id,
        "link": links.url(connection, object_type, record_id),
        "field": field,
        "crm_value": plain(previous),
        "handoff_value": plain(value),
        "change": CHANGE.get(kind, "update"),
        "reason": reason,
        "status": status,
        "error": error,
    }
