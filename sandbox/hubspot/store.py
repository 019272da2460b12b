"""The portal's state as HubSpot holds it: CRM objects, associations, owners, properties, events.

Not thread-safe by itself; `HubSpotEmulator` serialises access with one lock.
Objects carry `id, properties, createdAt, updatedAt, archived` (spec `SimplePublicObject`);
`createdate`/`lastmodifieddate`/`hs_object_id` are derived from the record, so every write that
bumps `updated_ms` moves `lastmodifieddate` with it.
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter

from sandbox.hubspot.association_types import ASSOCIATION_TYPE_IDS, PRIMARY_CONTACT_TO_COMPANY
from sandbox.hubspot.schema import (
    BUILTIN,
    HANDOFF_CUSTOM,
    LIFECYCLE_STAGES,
    OBJECT_TYPES,
    InvalidValue,
    PropertyDef,
    iso_of_ms,
    normalise,
    parse_ms,
)

# Properties whose every written value the store keeps as a version (propertiesWithHistory), as
# HubSpot keeps every property's; analytics histories come from fixtures (forms_api.py).
WRITE_HISTORY = frozenset({"lifecyclestage"})


@dataclass(slots=True)
class HsObject:
    id: int
    object_type: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int = 0
    merged_into: int | None = None  # set on the contact merged away

    def ms(self, name: str) -> int | None:
        """A datetime property as epoch ms (what search compares and sorts on)."""
        if name in ("lastmodifieddate", "hs_lastmodifieddate"):
            return self.updated_ms
        if name == "hs_createdate" or (
            name == "createdate" and "createdate" not in self.properties
        ):
            return self.created_ms
        return parse_ms(self.properties.get(name))

    def value(self, name: str) -> str | None:
        """A property as the API shows it, derived ones included."""
        if name == "hs_object_id":
            return str(self.id)
        if name in ("lastmodifieddate", "hs_lastmodifieddate"):
            return iso_of_ms(self.updated_ms)
        if name in ("hs_createdate",) or (
            name == "createdate" and "createdate" not in self.properties
        ):
            return iso_of_ms(self.created_ms)
        if name == "hs_email_domain":
            email = self.properties.get("email", "")
            return email.rsplit("@", 1)[1].lower() if "@" in email else None
        value = self.properties.get(name)
        return value if value != "" else None


@dataclass(slots=True)
class OwnerRecord:
    id: str
    user_id: int
    email: str
    first_name: str
    last_name: str
    active: bool
    territory: str
    created_ms: int

    def to_json(self) -> dict[str, object]:
        stamp = iso_of_ms(self.created_ms)
        teams = [
            {
                "id": str(zlib.crc32(self.territory.encode()) % 10**6),
                "name": self.territory,
                "primary": True,
            }
        ]
        return {
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id if self.active else None,
            "userIdIncludingInactive": self.user_id,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": not self.active,
            "teams": teams if self.territory else [],
        }


@dataclass(slots=True)
class WebEvent:
    """One Events API instance (`ExternalUnifiedEvent`, spec Events v3)."""

    id: int
    contact_id: int
    event_type: str
    occurred_ms: int
    properties: dict[str, str]


event_key = attrgetter("occurred_ms", "id")  # events are ordered by (occurredAt, id)


@dataclass(slots=True)
class FormRecord:
    """A marketing form (`/marketing/v3/forms`, spec Marketing Forms v3 `HubSpotFormDefinition`)."""

    id: str  # the form's guid
    name: str
    created_ms: int
    updated_ms: int


@dataclass(slots=True)
class FormSubmission:
    """One submission (`/form-integrations/v1/submissions/forms/{form_guid}`)."""

    conversion_id: str
    submitted_ms: int
    values: list[dict[str, str]]  # [{name, value}], email included
    page_url: str


class PropertyErrors(Exception):
    def __init__(self, problems: list[InvalidValue]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class PortalStore:
    objects: dict[str, dict[int, HsObject]] = field(
        default_factory=lambda: {t: {} for t in OBJECT_TYPES}
    )
    order: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in OBJECT_TYPES})
    links: dict[tuple[str, str], dict[int, dict[int, int]]] = field(default_factory=dict)
    properties: dict[str, dict[str, PropertyDef]] = field(
        default_factory=lambda: {t: {p.name: p for p in BUILTIN[t]} for t in OBJECT_TYPES}
    )
    owners: dict[str, OwnerRecord] = field(default_factory=dict)
    events: list[WebEvent] = field(default_factory=list)
    events_by_contact: dict[int, list[WebEvent]] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)  # lower-cased email -> contact id
    forms: dict[str, FormRecord] = field(default_factory=dict)  # guid -> form, in creation order
    submissions: dict[str, list[FormSubmission]] = field(
        default_factory=dict
    )  # guid -> oldest first
    # (contact id, property) -> [(ms, value)], oldest first: propertiesWithHistory
    history: dict[tuple[int, str], list[tuple[int, str]]] = field(default_factory=dict)
    # (updated_ms, id) in order, per type: the search index for lastmodifieddate ranges.
    modified: dict[str, list[tuple[int, int]]] = field(
        default_factory=lambda: {t: [] for t in OBJECT_TYPES}
    )
    indexing: bool = True  # off during bulk loads; reindex() afterwards
    # (event kind, object, info) on contact changes: the app's webhooks (sandbox/hubspot/webhooks.py)
    observer: Callable[[str, HsObject, dict[str, str]], None] | None = None
    lifecycle_forward_only: bool = True
    _next_id: int = 1001
    _next_event_id: int = 1

    # -- ids and properties ---------------------------------------------------------------
    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def add_custom_properties(self, now_ms: int) -> None:
        for object_type, props in HANDOFF_CUSTOM.items():
            for name, kind in props:
                self.properties[object_type][name] = PropertyDef(
                    name,
                    name.replace("_", " ").title(),
                    kind,
                    "number" if kind == "number" else "textarea",
                    group_name="handoff",
                    hubspot_defined=False,
                    created_ms=now_ms,
                )

    def check(self, object_type: str, values: dict[str, object]) -> dict[str, str]:
        """Validate written properties; raise PropertyErrors naming every bad one."""
        defs = self.properties[object_type]
        clean: dict[str, str] = {}
        problems: list[InvalidValue] = []
        for name, raw in values.items():
            prop = defs.get(name)
            if prop is None:
                problems.append(
                    InvalidValue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if prop.read_only:
                problems.append(
                    InvalidValue(
                        name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property'
                    )
                )
                continue
            try:
                clean[name] = normalise(prop, raw, set(self.owners))
            except InvalidValue as exc:
                problems.append(exc)
        if problems:
            raise PropertyErrors(problems)
        return clean

    # -- objects ----------------------------------------------------------------------------
    def touch(self, obj: HsObject, now_ms: int) -> None:
        """Move lastmodifieddate forward (never back), keeping the modified index in order."""
        if now_ms <= obj.updated_ms:
            return
        if self.indexing:
            index = self.modified[obj.object_type]
            at = bisect.bisect_left(index, (obj.updated_ms, obj.id))
            if at < len(index) and index[at] == (obj.updated_ms, obj.id):
                del index[at]
            bisect.insort(index, (now_ms, obj.id))
        obj.updated_ms = now_ms

    def reindex(self) -> None:
        for object_type, objects in self.objects.items():
            self.modified[object_type] = sorted((o.updated_ms, o.id) for o in objects.values())
        self.indexing = True

    def insert(
        self, object_type: str, props: dict[str, str], now_ms: int, created_ms: int | None = None
    ) -> HsObject:
        obj = HsObject(self.new_id(), object_type, props, created_ms or now_ms, now_ms)
        self.objects[object_type][obj.id] = obj
        self.order[object_type].append(obj.id)
        if self.indexing:
            bisect.insort(self.modified[object_type], (obj.updated_ms, obj.id))
        if object_type == "contacts" and props.get("email"):
            self.emails[props["email"].lower()] = obj.id
        if self.observer is not None:
            self.observer("contact.creation", obj, dict(props))
        return obj

    def lookup(
        self, object_type: str, object_id: str | int, *, archived: bool = False
    ) -> HsObject | None:
        """By id; a merged-away contact resolves to its survivor (GET by a merged id)."""
        try:
            obj = self.objects[object_type].get(int(object_id))
        except (TypeError, ValueError):
            return None
        seen = 0
        while obj is not None and obj.merged_into is not None and seen < 20:
            obj = self.objects[object_type].get(obj.merged_into)
            seen += 1
        if obj is None or obj.archived != archived:
            return None
        return obj

    def find_by(self, object_type: str, prop: str, value: str) -> HsObject | None:
        if object_type == "contacts" and prop == "email":
            found = self.emails.get(value.lower())
            return self.lookup("contacts", found) if found is not None else None
        if prop in ("hs_object_id", "id"):
            return self.lookup(object_type, value)
        for obj in self.objects[object_type].values():
            if not obj.archived and obj.merged_into is None and obj.properties.get(prop) == value:
                return obj
        return None

    def apply(self, obj: HsObject, values: dict[str, str], now_ms: int) -> None:
        """Write validated values and bump lastmodifieddate (every write does)."""
        changed: dict[str, str] = {}
        for name, value in values.items():
            if name == "lifecyclestage" and self.lifecycle_forward_only:
                # Lifecycle stage cannot move backwards unless cleared to "" first
                # (legacy contacts v1 doc, crm-api-notes §3): accepted but ignored.
                current = obj.properties.get(name, "")
                if (
                    value
                    and current in LIFECYCLE_STAGES
                    and value in LIFECYCLE_STAGES
                    and LIFECYCLE_STAGES.index(value) < LIFECYCLE_STAGES.index(current)
                ):
                    continue
            if name == "email" and obj.object_type == "contacts":
                self.emails.pop(obj.properties.get("email", "").lower(), None)
                if value:
                    self.emails[value.lower()] = obj.id
            if obj.properties.get(name, "") != value:
                changed[name] = value
                if name in WRITE_HISTORY:
                    self._version(obj, name, value, now_ms)
            obj.properties[name] = value
        self.touch(obj, now_ms)
        if changed and self.observer is not None:
            self.observer("contact.propertyChange", obj, changed)

    def _version(self, obj: HsObject, name: str, value: str, now_ms: int) -> None:
        """A written value becomes a version of the property's history (its first, the value the
        object held until now)."""
        versions = self.history.get((obj.id, name))
        if versions is None:
            held = obj.properties.get(name, "")
            versions = self.history[(obj.id, name)] = [(obj.updated_ms, held)] if held else []
        versions.append((now_ms, value))

    def archive(self, obj: HsObject, now_ms: int) -> None:
        obj.archived = True
        obj.archived_ms = now_ms
        self.touch(obj, now_ms)
        if obj.object_type == "contacts":
            self.emails.pop(obj.properties.get("email", "").lower(), None)
        if self.observer is not None:
            self.observer("contact.deletion", obj, {})

    def merge(self, primary: HsObject, secondary: HsObject, now_ms: int) -> HsObject:
        """Contacts merge: the primary keeps its values, fills blanks from the secondary."""
        for name, value in secondary.properties.items():
            if value and not primary.properties.get(name):
                primary.properties[name] = value
        merged = [v for v in primary.properties.get("hs_merged_object_ids", "").split(";") if v]
        merged += [str(secondary.id)]
        merged += [v for v in secondary.properties.get("hs_merged_object_ids", "").split(";") if v]
        primary.properties["hs_merged_object_ids"] = ";".join(merged)
        secondary.merged_into = primary.id
        self.emails.pop(secondary.properties.get("email", "").lower(), None)
        for to_type in OBJECT_TYPES:
            for to_id, type_id in list(self.linked("contacts", secondary.id, to_type).items()):
                self.link("contacts", primary.id, to_type, to_id, type_id)
        for event in self.events_by_contact.pop(secondary.id, []):
            event.contact_id = primary.id
            bisect.insort(self.events_by_contact.setdefault(primary.id, []), event, key=event_key)
        self.touch(primary, now_ms)
        if self.observer is not None:
            self.observer("contact.merge", primary, {"mergedObjectIds": str(secondary.id)})
        return primary

    # -- associations ------------------------------------------------------------------------
    def link(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int | None = None
    ) -> None:
        forward = type_id or ASSOCIATION_TYPE_IDS.get((from_type, to_type), 0)
        backward = ASSOCIATION_TYPE_IDS.get((to_type, from_type), 0)
        if forward == PRIMARY_CONTACT_TO_COMPANY:
            backward = 2
        self.links.setdefault((from_type, to_type), {}).setdefault(from_id, {})[to_id] = forward
        self.links.setdefault((to_type, from_type), {}).setdefault(to_id, {})[from_id] = backward

    def linked(self, from_type: str, from_id: int, to_type: str) -> dict[int, int]:
        return self.links.get((from_type, to_type), {}).get(from_id, {})

    # -- events ------------------------------------------------------------------------------
    def add_event(
        self,
        contact_id: int,
        event_type: str,
        occurred_ms: int,
        props: dict[str, str],
        *,
        keep_sorted: bool = True,
    ) -> WebEvent:
        event = WebEvent(self._next_event_id, contact_id, event_type, occurred_ms, props)
        self._next_event_id += 1
        if not keep_sorted:  # bulk load: call sort_events() afterwards
            self.events.append(event)
            self.events_by_contact.setdefault(contact_id, []).append(event)
            return event
        if self.events and event_key(self.events[-1]) > event_key(event):
            bisect.insort(self.events, event, key=event_key)
        else:
            self.events.append(event)
        per_contact = self.events_by_contact.setdefault(contact_id, [])
        if per_contact and event_key(per_contact[-1]) > event_key(event):
            bisect.insort(per_contact, event, key=event_key)
        else:
            per_contact.append(event)
        return event

    def sort_events(self) -> None:
        """After a bulk load with appends in any order."""
        self.events.sort(key=event_key)
        for items in self.events_by_contact.values():
            items.sort(key=event_key)
