"""Canonical <-> CRM value conversion, driven by the field mappings in config.

`FieldCodec(mappings)` is built once per connection and object type from
`connection.objects[object_type]` (canonical field -> `FieldMapping(property, type, values)`).

- `decode(raw, record_id)` turns a CRM record's raw properties (HubSpot: all strings; Salesforce:
  JSON-typed) into canonical typed values: str, float, int, bool, tz-aware UTC datetime, date,
  or an enum's canonical value (`values` is canonical -> CRM and is inverted on read; a CRM value
  with no canonical counterpart passes through unchanged). Empty values decode to None.
- `encode(field, value)` turns a canonical value into what the CRM accepts. `wire="string"`
  (HubSpot) renders everything as strings ("true", "42", ISO-8601 UTC with milliseconds, "" to
  clear); `wire="json"` (Salesforce) keeps JSON types (bool, number, ISO string, None to clear).
- `same(field, value, raw)` says whether the CRM already holds `value` (so it need not be sent).

A malformed value raises `SkippableError` naming the field, the CRM property and the record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from config.connections import FieldMapping, FieldType
from connectors.errors import SkippableError

_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def parse_timestamp(raw: Any) -> datetime:
    """A CRM timestamp (ISO-8601, epoch milliseconds, datetime) as a tz-aware UTC datetime."""
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=UTC) if raw.tzinfo is None else raw.astimezone(UTC)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw / 1000.0, tz=UTC)
    text = str(raw).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, the form both CRMs accept."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must be tz-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FieldCodec:
    """Converts one object type's fields between canonical values and CRM values."""

    def __init__(
        self,
        mappings: Mapping[str, FieldMapping],
        *,
        wire: Literal["string", "json"] = "string",
        connection: str = "",
        closed: frozenset[str] = frozenset(),
    ) -> None:
        """`closed`: enum fields (custom fields) whose `values` are the only ones allowed: a CRM
        value not listed is a problem, not passed through."""
        self.mappings = dict(mappings)
        self.closed = closed
        self.wire = wire
        self.connection = connection
        self._by_property = {m.property: name for name, m in self.mappings.items()}
        # Several canonical values may share a CRM value (HubSpot has no SAL stage); reading
        # it back gives the first one listed.
        self._inverse = {
            name: {crm: canonical for canonical, crm in reversed(list(m.values.items()))}
            for name, m in self.mappings.items()
        }

    # --- names -------------------------------------------------------------------------------

    @property
    def properties(self) -> list[str]:
        """Every mapped CRM property, in mapping order (what a pull asks for)."""
        return [m.property for m in self.mappings.values()]

    def property_for(self, field: str) -> str:
        try:
            return self.mappings[field].property
        except KeyError:
            raise SkippableError(
                f"canonical field '{field}' is not mapped for this object: add it under "
                f"connections[].objects in the config",
                connection=self.connection,
            ) from None

    def field_for(self, crm_property: str) -> str | None:
        return self._by_property.get(crm_property)

    def managed(self) -> list[str]:
        return [name for name, m in self.mappings.items() if m.managed]

    # --- read --------------------------------------------------------------------------------

    def decode(self, raw: Mapping[str, Any], record_id: str = "") -> dict[str, Any]:
        """Canonical typed values for every mapped field present in `raw`."""
        out: dict[str, Any] = {}
        for name, mapping in self.mappings.items():
            if mapping.property in raw:
                out[name] = self.decode_value(name, raw[mapping.property], record_id)
        return out

    def decode_value(self, field: str, raw: Any, record_id: str = "") -> Any:
        mapping = self.mappings[field]
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return None
        try:
            return self._decode(field, mapping, raw)
        except (ValueError, TypeError, InvalidOperation, OverflowError) as exc:
            raise SkippableError(
                f"record {record_id or '?'}: property '{mapping.property}' (field '{field}', "
                f"type {mapping.type.value}) holds {str(raw)[:80]!r}: {exc}",
                connection=self.connection,
                record_id=record_id,
            ) from None

    def _decode(self, field: str, mapping: FieldMapping, raw: Any) -> Any:
        kind = mapping.type
        if kind is FieldType.STRING:
            return str(raw)
        if kind is FieldType.ENUM:
            text = str(raw)
            if field in self.closed:
                return self._closed_value(field, mapping, text)
            return self._inverse[field].get(text, text)
        if kind is FieldType.BOOLEAN:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError("not a boolean (true/false)")
        if kind is FieldType.NUMBER:
            if isinstance(raw, bool):
                raise ValueError("not a number")
            return float(Decimal(str(raw).strip()))
        if kind is FieldType.INTEGER:
            if isinstance(raw, bool):
                raise ValueError("not an integer")
            number = Decimal(str(raw).strip())
            if number != number.to_integral_value():
                raise ValueError("not a whole number")
            return int(number)
        if kind is FieldType.DATETIME:
            return parse_timestamp(raw)
        if kind is FieldType.DATE:
            if isinstance(raw, datetime):
                return raw.date()
            if isinstance(raw, date):
                return raw
            text = str(raw).strip()
            if text.isdigit():
                return parse_timestamp(text).date()
            return date.fromisoformat(text[:10])
        raise ValueError(f"unknown type {kind}")  # pragma: no cover - FieldType is closed

    def _closed_value(self, field: str, mapping: FieldMapping, text: str) -> str:
        inverse = self._inverse[field]
        if text in inverse:
            return inverse[text]
        folded = {crm.strip().casefold(): name for crm, name in inverse.items()}
        if (name := folded.get(text.strip().casefold())) is not None:
            return name
        raise ValueError(
            f"not one of its values ({', '.join(dict.fromkeys(mapping.values.values()))}): "
            "add it under values: in the config, or correct the record"
        )

    # --- write -------------------------------------------------------------------------------

    def encode(self, field: str, value: Any, record_id: str = "") -> Any:
        """The CRM value for canonical `value`; None clears ("" on the string wire)."""
        mapping = self.mappings.get(field)
        if mapping is None:
            self.property_for(field)  # raises the "not mapped" SkippableError
            raise AssertionError  # pragma: no cover
        if value is None or value == "":
            return "" if self.wire == "string" else None
        try:
            typed = self._encode(field, mapping, value)
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise SkippableError(
                f"record {record_id or '?'}: cannot write {str(value)[:80]!r} to '{mapping.property}' "
                f"(field '{field}', type {mapping.type.value}): {exc}",
                connection=self.connection,
                record_id=record_id,
            ) from None
        if self.wire == "json":
            return typed
        if isinstance(typed, bool):
            return "true" if typed else "false"
        return str(typed)

    def _encode(self, field: str, mapping: FieldMapping, value: Any) -> Any:
        kind = mapping.type
        if kind is FieldType.ENUM:
            text = str(value)
            if mapping.values and text not in mapping.values:
                if text in self._inverse[field]:
                    return text  # already a CRM value
                raise ValueError(f"no CRM value configured for '{text}' under values:")
            return mapping.values.get(text, text)
        if kind is FieldType.STRING:
            if isinstance(value, Sequence) and not isinstance(value, str):
                return "; ".join(str(v) for v in value)
            return str(value)
        if kind is FieldType.BOOLEAN:
            if isinstance(value, bool):
                return value
            return self._decode(field, mapping, value)
        if kind is FieldType.NUMBER:
            number = self._decode(field, mapping, value)
            return int(number) if float(number).is_integer() else number
        if kind is FieldType.INTEGER:
            return self._decode(field, mapping, value)
        if kind is FieldType.DATETIME:
            return format_timestamp(parse_timestamp(value))
        if kind is FieldType.DATE:
            return self._decode(field, mapping, value).isoformat()
        raise ValueError(f"unknown type {kind}")  # pragma: no cover

    def same(self, field: str, value: Any, raw: Any) -> bool:
        """True when the CRM's raw value already equals canonical `value`."""
        try:
            held = self.decode_value(field, raw)
            wanted = self.decode_value(field, self.encode(field, value))
        except SkippableError:
            return False
        return bool(held == wanted)
