"""Custom fields: any CRM property, mapped under a name the admin chooses, with a type.

    connections:
      - name: hubspot
        custom_fields:
          contact:
            employee_band: {property: acme_employee_band, type: enum, values: [small, mid, large]}
            seats: {property: acme_seats, type: number}

Canonical fields (`objects:`) are what the pipeline itself reads and writes; custom fields are
read-only facts about the person that fit rules (`scoring.fit[].field`), fast-lane triggers and
territory matches (`routing.territories[].match.fields`) name, and that reasons, reports and
`handoff explain` show. Their values are coerced from the CRM by type (a number from a HubSpot
string, dates, booleans); an enum value not listed under `values:` is flagged in the run's
problems and left out, never guessed.

`field_problems(config)` is the cross-check run at config load: every field a rule names must be
canonical, derived (email_domain, account_name ...) or a custom field, with the closest match
offered otherwise, and every value a rule expects of an enum custom field must be one it lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from config.base import StrictModel

if TYPE_CHECKING:
    from config.connections import FieldMapping
    from config.model import HandoffConfig

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
TYPES = ("string", "number", "integer", "boolean", "date", "datetime", "enum")
# Fields the pipeline derives for every person: rules may name them as well.
DERIVED_FIELDS: dict[str, str] = {
    "email_domain": "the domain of the person's email",
    "account_id": "the CRM id of the person's company/account",
    "account_name": "the name of the person's company/account",
    "account_owner_id": "the CRM owner id of the person's company/account",
    "account_source": "where the account came from (HubSpot company, Salesforce account ...)",
}
NUMERIC = frozenset({"number", "integer"})

Location = tuple[str | int, ...]


class CustomField(StrictModel):
    """One CRM property under an admin-chosen name: read, typed, and usable in rules."""

    property: str = Field(min_length=1, description="the CRM property / field API name")
    type: str = Field(
        "string",
        json_schema_extra={"enum": list(TYPES)},
        description="string | number | integer | boolean | date | datetime | enum: how the "
        "CRM value is read (a number from a text property, true/yes/1, ISO dates)",
    )
    values: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="enum only: the allowed values, e.g. [small, mid, large], or name -> CRM "
        "value, e.g. {large: '1000+'}; a CRM value not listed is flagged in the run's problems",
    )
    label: str | None = Field(
        None,
        min_length=1,
        description="how reasons, reports and explain name it (default: the name, e.g. "
        "employee_band -> Employee band)",
    )

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in TYPES:
            close = get_close_matches(value, TYPES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"type {value!r} is not a field type: {hint}use {', '.join(TYPES)}")
        return value

    @model_validator(mode="after")
    def _enum_values(self) -> CustomField:
        if self.type == "enum" and not self.values:
            raise ValueError(
                f"type enum needs values: list them, e.g. values: [small, mid, large] "
                f"(or use type: string for free text in {self.property!r})"
            )
        if self.type != "enum" and self.values:
            raise ValueError(f"values: only an enum has values (this field's type is {self.type})")
        names = list(self.values)
        if len(set(names)) != len(names):
            raise ValueError(f"values: {sorted({n for n in names if names.count(n) > 1})} repeated")
        return self

    def crm_values(self) -> dict[str, str]:
        """name -> CRM value (a plain list maps each value to itself)."""
        if isinstance(self.values, dict):
            return dict(self.values)
        return {v: v for v in self.values}

    def mapping(self) -> FieldMapping:
        """The field as a read-only mapping the connectors' codecs understand."""
        from config.connections import FieldMapping, FieldType

        return FieldMapping(
            property=self.property, type=FieldType(self.type), values=self.crm_values()
        )

    def title(self, name: str) -> str:
        return self.label or field_title(name)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def field_title(name: str) -> str:
    """employee_band -> "Employee band"."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def check_names(fields: Mapping[str, Any], where: str) -> None:
    """Custom field names: lower_snake_case, not a canonical or derived field."""
    import re

    from config.connections import CANONICAL_FIELDS

    for name in fields:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(
                f"{where}.{name}: name custom fields in lower_snake_case, e.g. employee_band"
            )
        if name in CANONICAL_FIELDS:
            raise ValueError(
                f"{where}.{name}: '{name}' is a canonical field: map it under objects instead "
                f"(custom fields are for the portal's own properties)"
            )
        if name in DERIVED_FIELDS or name == "account_filled":
            raise ValueError(f"{where}.{name}: '{name}' is derived by Handoff: choose another name")


# --- the cross-check at config load ---------------------------------------------------------
# It reads the plain data the YAML gave (like config/references.py), so a rule naming an unknown
# field is reported together with every other problem of the file, whatever else is wrong.


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class _Defined:
    """A custom field as the file defines it: its type and enum values (lower-case -> as
    written)."""

    type: str
    values: dict[str, str]


def _defined(raw: Any) -> _Defined:
    spec = _map(raw)
    kind = spec.get("type", "string")
    values = spec.get("values") or []
    names = list(values) if isinstance(values, dict | list) else []
    return _Defined(
        str(kind) if isinstance(kind, str) else "string",
        {str(v).lower(): str(v) for v in names if isinstance(v, str | int | float | bool)},
    )


def _definitions(data: Mapping[str, Any]) -> Iterator[tuple[Location, str, _Defined]]:
    for i, conn in enumerate(_seq(data.get("connections"))):
        conn = _map(conn)
        for obj, fields in _map(conn.get("custom_fields")).items():
            for name, spec in _map(fields).items():
                yield (
                    ("connections", i, "custom_fields", str(obj), str(name)),
                    str(name),
                    _defined(spec),
                )
        for name, spec in _map(_map(conn.get("accounts")).get("custom_fields")).items():
            yield (
                ("connections", i, "accounts", "custom_fields", str(name)),
                str(name),
                _defined(spec),
            )


def custom_fields(config: HandoffConfig) -> dict[str, CustomField]:
    """Every custom field of every connection (persons and accounts), first definition wins."""
    found: dict[str, CustomField] = {}
    for connection in config.connections:
        for fields in connection.custom_fields.values():
            for name, field in fields.items():
                found.setdefault(name, field)
        for name, field in connection.accounts.custom_fields.items():
            found.setdefault(name, field)
    return found


def _unknown(name: str, known: set[str]) -> str:
    close = get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown field {name!r}: {hint}name a canonical field, email_domain, or a custom field "
        "defined under connections[].custom_fields"
    )


def _values_problem(name: str, field: _Defined, wanted: list[Any]) -> str | None:
    if field.type != "enum" or not field.values:
        return None
    for value in wanted:
        if str(value).strip().lower() not in field.values:
            close = get_close_matches(str(value), list(field.values.values()), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            return (
                f"{value!r} is not a value of {name}: {hint}its values are "
                f"{', '.join(field.values.values())}"
            )
    return None


def field_problems(data: Mapping[str, Any]) -> list[tuple[Location, str]]:
    """Every rule that names an unknown field or an impossible value, with its location; and
    a custom field given two types on two connections."""
    from config.connections import CANONICAL_FIELDS

    problems: list[tuple[Location, str]] = []
    custom: dict[str, _Defined] = {}
    first: dict[str, str] = {}
    for loc, name, field in _definitions(data):
        seen = custom.setdefault(name, field)
        where = first.setdefault(name, format_place(loc))
        if seen.type != field.type:
            problems.append(
                (
                    (*loc, "type"),
                    f"{name} is {field.type} here but {seen.type} at {where}: give one type "
                    "(rules read one kind of value)",
                )
            )
    known = set(CANONICAL_FIELDS) | set(DERIVED_FIELDS) | set(custom)
    scoring = _map(data.get("scoring"))
    for i, rule in enumerate(_seq(scoring.get("fit"))):
        problems += _fit_rule(("scoring", "fit", i), _map(rule), known, custom)
    for i, trigger in enumerate(_seq(_map(scoring.get("fast_lane")).get("triggers"))):
        trigger = _map(trigger)
        named = trigger.get("field")
        if not isinstance(named, str):
            continue
        at: Location = ("scoring", "fast_lane", "triggers", i)
        if named not in known:
            problems.append(((*at, "field"), _unknown(named, known)))
        elif named in custom and (
            problem := _values_problem(named, custom[named], _seq(trigger.get("values")))
        ):
            problems.append(((*at, "values"), problem))
    for i, territory in enumerate(_seq(_map(data.get("routing")).get("territories"))):
        fields = _map(_map(_map(territory).get("match")).get("fields"))
        for name, condition in fields.items():
            loc = ("routing", "territories", i, "match", "fields", str(name))
            if name not in known:
                problems.append((loc, _unknown(str(name), known)))
            elif name in custom and isinstance(condition, list):
                if problem := _values_problem(name, custom[name], condition):
                    problems.append((loc, problem))
            elif name in custom and custom[name].type not in NUMERIC:
                kind = custom[name].type
                problems.append((loc, f"{name} is {_a(kind)} field: list its values, e.g. [a, b]"))
    return problems


def _fit_rule(
    loc: Location, rule: dict[Any, Any], known: set[str], custom: dict[str, _Defined]
) -> list[tuple[Location, str]]:
    name = rule.get("field")
    if not isinstance(name, str):
        return []
    if name not in known:
        return [((*loc, "field"), _unknown(name, known))]
    field = custom.get(name)
    if field is None:
        return []
    for key in ("at_least", "below"):
        if rule.get(key) is not None and field.type not in NUMERIC:
            return [
                (
                    (*loc, key),
                    f"{name} is {_a(field.type)} field: a range needs type number or integer "
                    "(use in: or equals: for its values)",
                )
            ]
    for key in ("in", "equals"):
        wanted = rule.get(key)
        if wanted is None:
            continue
        problem = _values_problem(name, field, wanted if isinstance(wanted, list) else [wanted])
        if problem:
            return [((*loc, key), problem)]
    return []


def format_place(loc: Location) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_token(value: Any) -> str | None:
    """A field value as territory matching compares it: lower-case text, true/false, 3 not 3.0."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip().lower()
    return text or None
