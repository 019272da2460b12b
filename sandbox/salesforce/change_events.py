"""The org's Change Data Capture event bus: what the Pub/Sub API emulator serves.

Salesforce publishes a change event for each create, update, delete and undelete of a record of
an entity selected for Change Data Capture ("Change Event Messages" and "Change Event Header
Fields", Change Data Capture Developer Guide). Each event carries `ChangeEventHeader` (entityName,
recordIds, changeType, changeOrigin, transactionKey, sequenceNumber, commitTimestamp,
commitNumber, commitUser, nulledFields, diffFields, changedFields) and the record's fields: all
non-null ones on CREATE, the changed ones on UPDATE, none on DELETE. `changedFields` is a list of
hex bitmaps over the schema's field positions (Pub/Sub API "Event Deserialization
Considerations": "bitmap fields"); this bus writes the first (top-level) bitmap only.

Events are kept for a retention window (72 hours on Salesforce, "Event Message Durability";
`retention` here so a test can expire them) and get replay ids that increase with each event
(8 bytes, big-endian; opaque to subscribers, who must not compute with them). The record's
compound Name is flattened to FirstName/LastName, the fields the org's schema has; IsDeleted and
SystemModstamp are not in change events (object reference, "StandardObjectNameChangeEvent").
CampaignMember is selected too: a form fill on Salesforce is a campaign response.

The bus is fed by the org (`SalesforceOrg.change_bus`) while a request holds the org's lock; a
request the writer rolls back (allOrNone) retracts what it published.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import io
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import fastavro

from sandbox.salesforce.org import SalesforceOrg
from sandbox.salesforce.predicates import Record

CDC_ENTITIES = ("Lead", "Contact", "CampaignMember")  # selected for Change Data Capture here
NOT_IN_EVENTS = frozenset({"Id", "IsDeleted", "SystemModstamp"})  # "Change Event Fields"
ALL_CHANGES = "/data/ChangeEvents"  # the standard channel: every selected entity
RETENTION = timedelta(hours=72)
CHANGE_TYPES = [
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
]
_AVRO_TYPES = {
    "boolean": "boolean",
    "int": "int",
    "double": "double",
    "currency": "double",
    "percent": "double",
    "datetime": "long",  # epoch milliseconds
    "date": "int",  # days since the epoch
}


def topic_entities(topic: str) -> tuple[str, ...] | None:
    """The entities a CDC topic carries: /data/<Entity>ChangeEvent or /data/ChangeEvents."""
    if topic == ALL_CHANGES:
        return CDC_ENTITIES
    name = topic.removeprefix("/data/")
    if topic.startswith("/data/") and name.endswith("ChangeEvent"):
        entity = name.removesuffix("ChangeEvent")
        return (entity,) if entity in CDC_ENTITIES else None
    return None


def replay_bytes(sequence: int) -> bytes:
    return sequence.to_bytes(8, "big")


def replay_sequence(replay_id: bytes) -> int | None:
    return int.from_bytes(replay_id, "big") if len(replay_id) == 8 else None


@dataclass(frozen=True, slots=True)
class Schema:
    schema_id: str
    schema_json: str
    parsed: Any


@dataclass(frozen=True, slots=True)
class BusEvent:
    sequence: int
    entity: str
    published_at: datetime
    event_id: str
    schema_id: str
    payload: bytes  # Avro binary


def _header_schema() -> dict[str, Any]:
    strings = {"type": "array", "items": "string"}
    return {
        "type": "record",
        "name": "ChangeEventHeader",
        "fields": [
            {"name": "entityName", "type": "string"},
            {"name": "recordIds", "type": strings},
            {
                "name": "changeType",
                "type": {"type": "enum", "name": "ChangeType", "symbols": CHANGE_TYPES},
            },
            {"name": "changeOrigin", "type": "string"},
            {"name": "transactionKey", "type": "string"},
            {"name": "sequenceNumber", "type": "int"},
            {"name": "commitTimestamp", "type": "long"},
            {"name": "commitNumber", "type": "long"},
            {"name": "commitUser", "type": "string"},
            {"name": "nulledFields", "type": strings},
            {"name": "diffFields", "type": strings},
            {"name": "changedFields", "type": strings},
        ],
    }


def _avro_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, date):
        return (value - date(1970, 1, 1)).days
    return value


class ChangeEventBus:
    """The retained change events of one org, in publication order."""

    def __init__(self, org: SalesforceOrg, *, retention: timedelta = RETENTION) -> None:
        self.org = org
        self.retention = retention
        self.changed = threading.Condition()  # notified on each publication
        self._events: list[BusEvent] = []
        self._sequence = 0
        self._purged_to = 0  # the newest sequence purged: replay ids before it are gone
        self._schemas: dict[str, Schema] = {}
        self._by_entity: dict[str, tuple[int, Schema]] = {}  # entity -> (schema version, schema)
        self._clock: Callable[[], datetime] = org.now
        org.change_bus = self

    # -- publishing (the org calls this while a request holds its lock) -------------------------
    def schema_for(self, entity: str) -> Schema:
        fields = [f for f in self.org.schema[entity].fields.values() if f.name not in NOT_IN_EVENTS]
        version = hash(tuple((f.name, f.type) for f in fields))
        cached = self._by_entity.get(entity)
        if cached is not None and cached[0] == version:
            return cached[1]
        body = {
            "type": "record",
            "name": f"{entity}ChangeEvent",
            "namespace": "com.sforce.eventbus",
            "fields": [
                {"name": "ChangeEventHeader", "type": _header_schema()},
                *(
                    {
                        "name": f.name,
                        "type": ["null", _AVRO_TYPES.get(f.type, "string")],
                        "default": None,
                    }
                    for f in fields
                ),
            ],
        }
        text = json.dumps(body, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).digest()
        schema_id = base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")
        schema = Schema(schema_id, text, fastavro.parse_schema(body))
        self._schemas[schema_id] = schema
        self._by_entity[entity] = (version, schema)
        return schema

    def schema(self, schema_id: str) -> Schema | None:
        return self._schemas.get(schema_id)

    def publish(self, entity: str, change_type: str, record: Record, changed: list[str]) -> None:
        if entity not in CDC_ENTITIES:
            return
        schema = self.schema_for(entity)
        names = [f["name"] for f in json.loads(schema.schema_json)["fields"]]
        now = self._clock()
        body: dict[str, Any] = {name: None for name in names[1:]}
        if change_type != "DELETE":
            for name in changed:
                if name in body:
                    body[name] = _avro_value(record.get(name))
        bitmap = sum(1 << names.index(n) for n in changed if n in names)
        nulled = [n for n in changed if n in body and record.get(n) is None]
        body["ChangeEventHeader"] = {
            "entityName": entity,
            "recordIds": [record["Id"]],
            "changeType": change_type,
            "changeOrigin": "com/salesforce/api/rest/59.0",
            "transactionKey": secrets.token_hex(16),
            "sequenceNumber": 1,
            "commitTimestamp": int(now.timestamp() * 1000),
            "commitNumber": self._sequence + 1,
            "commitUser": self.org.api_user_id,
            "nulledFields": nulled if change_type == "UPDATE" else [],
            "diffFields": [],
            "changedFields": [hex(bitmap)] if change_type == "UPDATE" else [],
        }
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema.parsed, body)
        with self.changed:
            self._sequence += 1
            self._events.append(
                BusEvent(
                    self._sequence,
                    entity,
                    now,
                    secrets.token_hex(8),
                    schema.schema_id,
                    out.getvalue(),
                )
            )
            self.changed.notify_all()

    def mark(self) -> int:
        return self._sequence

    def retract(self, mark: int) -> None:
        """Drop what was published after `mark` (a rolled-back request)."""
        with self.changed:
            self._events = [e for e in self._events if e.sequence <= mark]

    # -- reading (the Pub/Sub emulator) ---------------------------------------------------------
    def expire(self, before: datetime | None = None) -> None:
        """Purge events published before `before` (default: outside the retention window)."""
        cutoff = before or (self._clock() - self.retention)
        with self.changed:
            gone = [e for e in self._events if e.published_at < cutoff]
            if gone:
                self._purged_to = max(self._purged_to, gone[-1].sequence)
                self._events = self._events[len(gone) :]

    def expire_all(self) -> None:
        """Every retained event is purged (as 72 hours later): stored replay ids are void."""
        with self.changed:
            if self._events:
                self._purged_to = self._events[-1].sequence
            self._purged_to = max(self._purged_to, self._sequence)
            self._events = []

    def tip(self) -> int:
        return self._sequence

    def earliest(self) -> int:
        """The position before the oldest retained event."""
        self.expire()
        return self._purged_to

    def valid_position(self, sequence: int) -> bool:
        """A subscriber can resume after `sequence`: nothing after it was purged."""
        self.expire()
        return self._purged_to <= sequence <= self._sequence

    def after(self, sequence: int, entities: tuple[str, ...], limit: int) -> list[BusEvent]:
        """Up to `limit` events of these entities published after `sequence`; the caller holds
        `changed`."""
        out: list[BusEvent] = []
        start = bisect.bisect_right(self._events, sequence, key=lambda e: e.sequence)
        for event in self._events[start:]:
            if event.entity in entities:
                out.append(event)
                if len(out) >= limit:
                    break
        return out
