"""Property definitions per object type, and how written values are checked and normalised.

Follows the Properties API `Property` / `PropertyCreate` shapes (spec
`CRM/Properties/Rollouts/145899/v3/properties.json`, crm-api-notes §3): `type` one of bool, date,
datetime, enumeration, number, phone_number, string. All values travel as strings (spec example
`"property_number": "17"`); datetimes are returned as ISO-8601 with milliseconds and `Z`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sandbox.hubspot.other_objects import (
    OTHER_ALIASES,
    OTHER_DEFAULTS,
    OTHER_PROPERTIES,
    OTHER_TYPES,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Default lifecycle stages, in order (changelog "Upcoming: Customized lifecycle stages").
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
ENGAGEMENT_TYPES = ("calls", "emails", "meetings", "notes", "tasks")
OBJECT_TYPES = ("contacts", "companies", *ENGAGEMENT_TYPES, *OTHER_TYPES)
# Accepted spellings of object types in paths (plural, singular, objectTypeId).
OBJECT_TYPE_ALIASES = {
    **{name: name for name in OBJECT_TYPES},
    **{name[:-1]: name for name in OBJECT_TYPES if name != "companies"},
    "company": "companies",
    "0-1": "contacts",
    "0-2": "companies",
    "0-48": "calls",
    "0-49": "emails",
    "0-47": "meetings",
    "0-46": "notes",
    "0-27": "tasks",
    **OTHER_ALIASES,
}


_ONE_MS = timedelta(milliseconds=1)


def ms_of(moment: datetime) -> int:
    return (moment - EPOCH) // _ONE_MS


@lru_cache(maxsize=1 << 16)
def iso_of_ms(ms: int) -> str:
    """Epoch ms -> `2024-01-31T09:05:00.123Z` (what v3 returns for datetime properties)."""
    t = time.gmtime(ms // 1000)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (*t[:6], ms % 1000)  # noqa: UP031


@lru_cache(maxsize=1 << 16)
def parse_ms(value: str | None) -> int | None:
    """Epoch-ms string or ISO-8601 date/datetime -> epoch ms (search filters accept both)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if len(text) > 6 and text[-6] == " ":  # "+00:00" whose "+" was decoded as a space
        text = text[:-6] + "+" + text[-5:]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return ms_of(moment)


@dataclass(slots=True)
class PropertyDef:
    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = "contactinformation"
    options: tuple[str, ...] = ()
    hubspot_defined: bool = True
    read_only: bool = False
    description: str = ""
    created_ms: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        created = iso_of_ms(self.created_ms)
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [
                {
                    "label": o.replace("_", " ").title(),
                    "value": o,
                    "displayOrder": i,
                    "hidden": False,
                }
                for i, o in enumerate(self.options)
            ],
            "displayOrder": -1,
            "calculated": self.read_only,
            "externalOptions": False,
            "hasUniqueValue": False,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "formField": not self.read_only,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "createdAt": created,
            "updatedAt": created,
            "archived": False,
        }


class InvalidValue(ValueError):
    """One property value HubSpot would refuse; `code` is HubSpot's error code."""

    def __init__(self, name: str, code: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.code = code


def _p(name: str, kind: str = "string", *, options: tuple[str, ...] = (), ro: bool = False):
    field_type = {
        "string": "text",
        "number": "number",
        "datetime": "date",
        "date": "date",
        "enumeration": "select",
        "bool": "booleancheckbox",
    }[kind]
    return PropertyDef(
        name, name.replace("_", " ").capitalize(), kind, field_type, options=options, read_only=ro
    )


_ENGAGEMENT_COMMON = (
    _p("hs_timestamp", "datetime"),
    _p("hubspot_owner_id", "enumeration"),
    _p("hs_object_id", "number", ro=True),
    _p("hs_createdate", "datetime", ro=True),
    _p("hs_lastmodifieddate", "datetime", ro=True),
)

_RECORD_COMMON = (
    _p("hubspot_owner_id", "enumeration"),
    _p("hs_object_id", "number", ro=True),
    _p("createdate", "datetime"),
    _p("hs_createdate", "datetime", ro=True),
    _p("hs_lastmodifieddate", "datetime", ro=True),
)

BUILTIN: dict[str, tuple[PropertyDef, ...]] = {
    "contacts": (
        *(_p(n) for n in ("firstname", "lastname", "email", "jobtitle", "company", "phone")),
        *(_p(n) for n in ("website", "city", "state", "country", "industry", "annualrevenue")),
        _p(
            "numemployees",
            "enumeration",
            options=("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+"),
        ),
        _p("lifecyclestage", "enumeration", options=LIFECYCLE_STAGES),
        _p("hs_lead_status", "enumeration", options=LEAD_STATUSES),
        _p("hubspot_owner_id", "enumeration"),
        _p("hs_email_optout", "bool"),
        _p(
            "hs_analytics_source",
            "enumeration",
            options=(
                "ORGANIC_SEARCH",
                "PAID_SEARCH",
                "EMAIL_MARKETING",
                "SOCIAL_MEDIA",
                "REFERRALS",
                "OTHER_CAMPAIGNS",
                "DIRECT_TRAFFIC",
                "OFFLINE",
                "PAID_SOCIAL",
            ),
        ),
        _p("hs_object_id", "number", ro=True),
        _p("createdate", "datetime"),
        _p("lastmodifieddate", "datetime", ro=True),
        _p("hs_lastmodifieddate", "datetime", ro=True),
        _p("hs_merged_object_ids", ro=True),
        _p("hs_email_domain", ro=True),
        _p("hubspotscore", "number", ro=True),
        *(
            _p(n, "number", ro=True)
            for n in (
                "hs_analytics_num_page_views",
                "hs_analytics_num_visits",
                "num_conversion_events",
                "num_unique_conversion_events",
                "num_contacted_notes",
                "hs_email_open",
                "hs_email_click",
            )
        ),
        *(
            _p(n, "datetime", ro=True)
            for n in (
                "hs_analytics_first_visit_timestamp",
                "hs_analytics_last_visit_timestamp",
                "recent_conversion_date",
                "first_conversion_date",
                "notes_last_updated",
                "notes_last_contacted",
                "notes_next_activity_date",
                "hs_last_sales_activity_timestamp",
                "hs_email_last_open_date",
                "hs_email_last_click_date",
            )
        ),
        *(
            _p(n, ro=True)
            for n in (
                "recent_conversion_event_name",
                "first_conversion_event_name",
                "hs_analytics_last_url",
            )
        ),
        _p("hubspot_owner_assigneddate", "datetime", ro=True),
    ),
    "companies": (
        *(
            _p(n)
            for n in ("name", "domain", "industry", "country", "state", "city", "annualrevenue")
        ),
        _p("numberofemployees", "number"),
        _p("lifecyclestage", "enumeration", options=LIFECYCLE_STAGES),
        _p("hubspot_owner_id", "enumeration"),
        _p("hs_object_id", "number", ro=True),
        _p("createdate", "datetime"),
        _p("hs_lastmodifieddate", "datetime", ro=True),
    ),
    "tasks": (
        *_ENGAGEMENT_COMMON,
        _p("hs_task_subject"),
        _p("hs_task_body"),
        _p(
            "hs_task_status",
            "enumeration",
            options=("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        _p("hs_task_priority", "enumeration", options=("NONE", "LOW", "MEDIUM", "HIGH")),
        _p("hs_task_type", "enumeration", options=("EMAIL", "CALL", "TODO", "LINKED_IN")),
        _p("hs_task_reminders"),
        _p("hs_task_completion_date", "datetime"),
    ),
    "calls": (
        *_ENGAGEMENT_COMMON,
        _p("hs_call_title"),
        _p("hs_call_body"),
        _p("hs_call_duration", "number"),
        _p("hs_call_direction", "enumeration", options=("INBOUND", "OUTBOUND")),
        _p("hs_call_disposition"),
        _p("hs_call_status"),
    ),
    "emails": (
        *_ENGAGEMENT_COMMON,
        _p("hs_email_subject"),
        _p("hs_email_text"),
        _p(
            "hs_email_direction",
            "enumeration",
            options=("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
        ),
        _p("hs_email_status"),
    ),
    "meetings": (
        *_ENGAGEMENT_COMMON,
        _p("hs_meeting_title"),
        _p("hs_meeting_body"),
        _p("hs_meeting_start_time", "datetime"),
        _p("hs_meeting_end_time", "datetime"),
        _p("hs_meeting_outcome"),
    ),
    "notes": (*_ENGAGEMENT_COMMON, _p("hs_note_body")),
    **{
        name: (
            *(_ENGAGEMENT_COMMON if name == "communications" else _RECORD_COMMON),
            *(_p(n, kind, options=options) for n, kind, options in props),
        )
        for name, props in OTHER_PROPERTIES.items()
    },
}

# Handoff's own properties, pre-created when the emulator is built with custom_properties=True.
HANDOFF_CUSTOM: dict[str, tuple[tuple[str, str], ...]] = {
    "contacts": (
        ("handoff_score", "number"),
        ("handoff_score_fit", "number"),
        ("handoff_score_behaviour", "number"),
        ("handoff_score_reasons", "string"),
        ("handoff_score_breakdown", "string"),
    ),
    "tasks": (("handoff_task_key", "string"),),
}

# Guide "Search": default properties returned when a request names none.
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    **OTHER_DEFAULTS,
}
ENGAGEMENT_DEFAULT_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
# Guide "Search": default searchable text properties for `query`.
QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain", "website"),
    "tasks": ("hs_task_body", "hs_task_subject"),
}


def default_properties(object_type: str) -> tuple[str, ...]:
    return DEFAULT_PROPERTIES.get(object_type, ENGAGEMENT_DEFAULT_PROPERTIES)


def normalise(prop: PropertyDef, raw: object, owner_ids: set[str]) -> str:
    """Check one written value against its definition; return the stored string form."""
    value = "" if raw is None else raw if isinstance(raw, str) else str(raw)
    if isinstance(raw, bool):
        value = "true" if raw else "false"
    if value == "":
        return ""  # an empty string clears a value (doc "Update contacts")
    if prop.type == "number":
        try:
            float(value)
        except ValueError:
            raise InvalidValue(
                prop.name, "INVALID_FLOAT", f"{value!r} was not a valid number."
            ) from None
        return value
    if prop.type in ("datetime", "date"):
        ms = parse_ms(value)
        if ms is None:
            raise InvalidValue(
                prop.name,
                "INVALID_DATE",
                f"{value!r} is not a valid date: use epoch milliseconds or ISO-8601.",
            )
        return iso_of_ms(ms)
    if prop.type == "bool":
        if value.lower() not in ("true", "false"):
            raise InvalidValue(prop.name, "INVALID_BOOLEAN", f"{value!r} is not true or false.")
        return value.lower()
    if prop.name == "hubspot_owner_id":
        if value not in owner_ids:
            raise InvalidValue(prop.name, "INVALID_OWNER_ID", f"{value!r} is not a valid owner id.")
        return value
    if prop.type == "enumeration" and prop.options and value not in prop.options:
        raise InvalidValue(
            prop.name,
            "INVALID_OPTION",
            f"{value!r} was not one of the allowed options: {', '.join(prop.options)}",
        )
    return value
