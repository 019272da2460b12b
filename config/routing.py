"""The routing section: territories, reps with weights and capacity, out of office, fallback.

Reps are named by e-mail (CRM-agnostic); the pipeline maps e-mails to each CRM's owner id.
Every rule problem is raised as a one-line ValueError so `config validate` can print it with
its location. Names that span territories (unique names, one weight per rep, backups and
fallbacks that are people the rules know, no tied territories) are checked with the rest of the
file's cross-references in config/references.py.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.base import StrictModel

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def normalize_email(value: str) -> str:
    """Lower-cased, trimmed e-mail; a clear error when it does not look like one."""
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(
            f"{value!r} is not an e-mail address: reps are named by e-mail, e.g. bob@x.com"
        )
    return email


def normalize_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("www.").rstrip(".")
    if not domain or "." not in domain or "@" in domain or "/" in domain:
        raise ValueError(f"{value!r} is not a company domain: write e.g. acme.com")
    return domain


class DateRange(StrictModel):
    """Inclusive range of whole days (in the rep's working-hours time zone, UTC otherwise)."""

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(
                f"out_of_office range ends ({self.end}) before it starts ({self.start}): "
                "swap start and end"
            )
        return self

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


class WorkingHours(StrictModel):
    """When a rep takes fast-lane leads (nurture leads ignore working hours)."""

    timezone: str = "UTC"
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(
                f"working_hours end ({self.end:%H:%M}) must be after start ({self.start:%H:%M})"
            )
        if not self.days:
            raise ValueError("working_hours.days is empty: list at least one day, e.g. [mon, tue]")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RepCapacity(StrictModel):
    per_day: int | None = Field(None, ge=1, description="max new assignments per day")
    open_leads: int | None = Field(None, ge=1, description="max open, unworked leads")


class Rep(StrictModel):
    email: str
    weight: int = Field(1, ge=1, description="share of the territory's round robin")
    capacity: RepCapacity = RepCapacity()
    out_of_office: list[DateRange] = Field(default_factory=list)
    working_hours: WorkingHours | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class SizeBand(StrictModel):
    """Company size (employees), both ends inclusive; an open end is unbounded."""

    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> SizeBand:
        if self.min is None and self.max is None:
            raise ValueError("company_size needs min, max or both, e.g. {min: 50, max: 500}")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"company_size max ({self.max}) is below min ({self.min})")
        return self

    def contains(self, size: int) -> bool:
        return (self.min is None or size >= self.min) and (self.max is None or size <= self.max)

    def overlaps(self, other: SizeBand) -> bool:
        low = max(self.min or 0, other.min or 0)
        highs = [b for b in (self.max, other.max) if b is not None]
        return not highs or low <= min(highs)


class FieldRange(StrictModel):
    """A number or integer field's range, both ends inclusive; an open end is unbounded."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> FieldRange:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both, e.g. {min: 100}")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max:g}) is below min ({self.min:g})")
        return self

    def contains(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def overlaps(self, other: FieldRange) -> bool:
        low = max(x for x in (self.min, other.min, float("-inf")) if x is not None)
        high = min(x for x in (self.max, other.max, float("inf")) if x is not None)
        return low <= high


FieldCondition = list[str | bool | int | float] | FieldRange


def _lower_all(values: list[str]) -> list[str]:
    return [v.strip().lower() for v in values if v.strip()]


class TerritoryMatch(StrictModel):
    """What a lead must have to fall in the territory; an empty list means "any"."""

    countries: list[str] = Field(default_factory=list)
    states: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    industries: list[str] = Field(default_factory=list)
    company_size: SizeBand | None = None
    domains: list[str] = Field(default_factory=list, description="named accounts")
    fields: dict[str, FieldCondition] = Field(
        default_factory=dict,
        description="any field by name (a custom field such as employee_band, or a canonical "
        "one): a list of values, any of which matches (case-insensitive), or for a number a "
        "range {min, max}; e.g. {employee_band: [large]}",
    )

    @field_validator("fields")
    @classmethod
    def _field_values(cls, value: dict[str, FieldCondition]) -> dict[str, FieldCondition]:
        from config.custom_fields import field_token

        out: dict[str, FieldCondition] = {}
        for name, condition in value.items():
            if isinstance(condition, list):
                tokens = [t for t in (field_token(v) for v in condition) if t is not None]
                if not tokens:
                    raise ValueError(f"fields.{name}: list at least one value, e.g. [large]")
                out[name] = list[str | bool | int | float](tokens)
            else:
                out[name] = condition
        return out

    @field_validator("countries", "states", "regions", "industries")
    @classmethod
    def _lists(cls, values: list[str]) -> list[str]:
        return _lower_all(values)

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return [normalize_domain(v) for v in values]


class Territory(StrictModel):
    name: str = Field(min_length=1)
    match: TerritoryMatch = TerritoryMatch()
    reps: list[Rep] = Field(default_factory=list)
    manager: str | None = None
    backup: str | None = Field(None, description="takes escalations before the manager")
    fallback: str | None = Field(None, description="gets leads nobody here can take")

    @field_validator("manager", "backup", "fallback")
    @classmethod
    def _emails(cls, value: str | None) -> str | None:
        return None if value is None else normalize_email(value)

    @model_validator(mode="after")
    def _unique_reps(self) -> Territory:
        emails = [r.email for r in self.reps]
        dupes = sorted({e for e in emails if emails.count(e) > 1})
        if dupes:
            raise ValueError(f"territory {self.name!r} lists {', '.join(dupes)} more than once")
        return self

    def rep(self, email: str) -> Rep | None:
        return next((r for r in self.reps if r.email == email), None)


class FallbackConfig(StrictModel):
    owner: str = Field(description="queue owner for leads no territory or rep can take")

    @field_validator("owner")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalize_email(value)


class RoutingConfig(StrictModel):
    keep_existing_owner: bool = Field(True, description="an active existing owner keeps the lead")
    account_owner_first: bool = Field(True, description="the account's owner gets its contacts")
    account_owner_from_contacts: bool = Field(
        False,
        description="opt-in fallback when the CRM names no account owner: the active owner "
        "most of the domain's people have",
    )
    fallback: FallbackConfig | None = None
    territories: list[Territory] = Field(default_factory=list)
    make_up_skipped: bool = Field(
        False, description="reps skipped (out of office, at capacity) catch up when they return"
    )

    def territory(self, name: str) -> Territory:
        for territory in self.territories:
            if territory.name == name:
                return territory
        raise KeyError(name)

    def all_emails(self) -> set[str]:
        """Every person the rules may assign to: reps, managers, backups and fallbacks."""
        emails = {r.email for t in self.territories for r in t.reps}
        for t in self.territories:
            emails.update(e for e in (t.manager, t.backup, t.fallback) if e)
        if self.fallback is not None:
            emails.add(self.fallback.owner)
        return emails
