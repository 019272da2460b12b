"""The `sla:` section: business calendars, per-lane policies and their escalation ladders.

```yaml
sla:
  calendars:
    ny: {timezone: America/New_York, days: [mon, tue, wed, thu, fri], hours: "09:00-17:00",
         holidays: {country: US, subdivision: NY}}
    always: {always_open: true}
  default_calendar: ny
  territory_calendars: {emea: london}     # per territory (optional)
  rep_calendars: {ana@example.com: london} # per rep (optional, wins over territory)
  policies:
    fast:
      lane: fast
      calendar: always                     # a policy calendar wins over rep/territory/default
      first_touch: 1h
      touch: {kinds: [call, email, meeting], by: owner}
      cadence: {touches: 3, channels: 2, within: 5bd}
      ladder:
        - {at: 80%, action: remind_owner}
        - {at: 100%, action: task_owner}
        - {at: +15m, action: reassign_backup, notify_manager: true, webhook: true}
  webhook_url: https://hooks.slack.com/services/...
```

`lane` is the routing lane (fast, nurture ...); `stages` optionally splits a lane by lifecycle
stage (the caller passes `stage=` when starting a clock). Policies over lanes Handoff never starts
clocks for simply never fire.

Ladder offsets (`+15m`, `+1bd`) and windows are business time in the clock's calendar;
`bd` is one business day (the calendar's working-day length; 24h for an always-open calendar).
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from config.base import Duration, StrictModel, parse_duration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WORKWEEK: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
TOUCH_KINDS = ("call", "email", "meeting", "note", "task")

_HOURS = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")
_RUNG_AT = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*%|\+\s*(\d+(?:\.\d+)?\s*(?:s|m|h|d|w|bd)))\s*$")
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|bd)\s*$")


def _span(text: str, business_day: timedelta) -> timedelta:
    match = _SPAN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a span: write e.g. 15m, 4h or 1bd")
    if match.group(2) == "bd":
        return business_day * float(match.group(1))
    return parse_duration(text)


def parse_hours(value: str) -> tuple[time, time | None]:
    """'09:00-17:00' -> (09:00, 17:00); an end of '24:00' is returned as None (midnight)."""
    match = _HOURS.match(value)
    if not match:
        raise ValueError(f"hours {value!r} is not a range: write e.g. '09:00-17:00'")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em != 0):
        raise ValueError(f"hours {value!r} has an invalid time: use HH:MM from 00:00 to 24:00")
    start = time(sh, sm)
    end = None if eh == 24 else time(eh, em)
    if end is not None and end <= start:
        raise ValueError(
            f"hours {value!r} ends before it starts: write the start first, e.g. '09:00-17:00' "
            "(overnight hours are not supported; use two calendars or always_open)"
        )
    return start, end


@cache
def _supported_holiday_countries() -> dict[str, list[str]]:
    import holidays

    return dict(holidays.list_supported_countries())


class HolidaySource(StrictModel):
    country: str = Field(description="ISO 3166-1 alpha-2 code known to the `holidays` package")
    subdivision: str | None = Field(None, description="state/province code, e.g. NY, CA, BY")

    @model_validator(mode="after")
    def _known(self) -> HolidaySource:
        supported = _supported_holiday_countries()
        if self.country not in supported:
            raise ValueError(
                f"holidays.country {self.country!r} is unknown to the holidays package: "
                "use an ISO country code such as US, GB, DE, FR"
            )
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            sample = ", ".join(supported[self.country][:8]) or "none"
            raise ValueError(
                f"holidays.subdivision {self.subdivision!r} is not a subdivision of "
                f"{self.country}: use one of {sample}{' ...' if len(supported[self.country]) > 8 else ''}"
            )
        return self


class CalendarConfig(StrictModel):
    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(_WORKWEEK))
    hours: str = "09:00-17:00"
    holidays: HolidaySource | None = None
    always_open: bool = Field(False, description="24x7: business time is wall time (fast lane)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {value!r} is unknown: use an IANA name such as America/New_York"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("days is empty: list working days, e.g. [mon, tue, wed, thu, fri]")
        return value


class TouchRule(StrictModel):
    """What counts as a touch: activity kinds (and channels), by the owner or by any rep."""

    kinds: list[str] = Field(default_factory=lambda: ["call", "email", "meeting"])
    channels: list[str] = Field(default_factory=list, description="empty: any channel")
    by: Literal["owner", "any_rep"] = "owner"

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        unknown = [k for k in value if k not in TOUCH_KINDS]
        if unknown or not value:
            raise ValueError(
                f"touch.kinds {unknown or value!r}: use rep activity kinds from {', '.join(TOUCH_KINDS)}"
            )
        return value


class CadenceRule(StrictModel):
    """Follow-up before a lead may be declared dead: e.g. 3 touches on 2 channels in 5bd."""

    touches: int = Field(3, ge=1)
    channels: int = Field(1, ge=1)
    within: str = Field("5bd", description="business time from assignment: 5bd, 40h, 3d ...")

    @field_validator("within", mode="before")
    @classmethod
    def _within(cls, value: object) -> str:
        text = str(value).strip()
        match = _SPAN.match(text)
        if not match or float(match.group(1)) <= 0:
            raise ValueError(
                f"cadence.within {text!r}: write a positive business span, e.g. 5bd or 40h"
            )
        return text

    def span(self, business_day: timedelta) -> timedelta:
        """The cadence window as business time (`bd` = one working day of the calendar)."""
        return _span(self.within, business_day)


RungAction = Literal["remind_owner", "task_owner", "reassign_backup", "notify_manager", "flag"]


class LadderRung(StrictModel):
    at: str = Field(description="'100%' of the window, or '+15m' / '+1bd' after the deadline")
    action: RungAction
    notify_manager: bool = False
    webhook: bool = Field(False, description="also post the manager notice to sla.webhook_url")

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: object) -> str:
        text = str(value)
        match = _RUNG_AT.match(text)
        if not match:
            raise ValueError(
                f"ladder at {text!r}: write a share of the window like '100%' or an offset "
                "after the deadline like '+15m' or '+1bd'"
            )
        if match.group(1) is not None and float(match.group(1)) <= 0:
            raise ValueError(f"ladder at {text!r}: a share must be above 0%, e.g. '80%'")
        if match.group(2) is not None and _span(match.group(2), timedelta(days=1)) <= timedelta(0):
            raise ValueError(f"ladder at {text!r}: an offset must be positive, e.g. '+15m'")
        return text.strip()

    @property
    def share(self) -> float | None:
        """The fraction of the window (1.0 for '100%'), or None for an offset rung."""
        match = _RUNG_AT.match(self.at)
        assert match is not None
        return float(match.group(1)) / 100 if match.group(1) is not None else None

    def offset(self, business_day: timedelta) -> timedelta | None:
        """The business time after the deadline, or None for a share rung."""
        match = _RUNG_AT.match(self.at)
        assert match is not None
        if match.group(2) is None:
            return None
        return _span(match.group(2), business_day)


class SlaPolicy(StrictModel):
    lane: str = Field(description="the routing lane this policy watches, e.g. fast, mql")
    stages: list[str] = Field(default_factory=list, description="empty: any stage in the lane")
    calendar: str | None = Field(None, description="fixed calendar; else rep/territory/default")
    first_touch: Duration
    touch: TouchRule = TouchRule()
    cadence: CadenceRule | None = Field(
        None, description="e.g. {touches: 3, channels: 2, within: 5bd}"
    )
    ladder: list[LadderRung] = Field(default_factory=list)


class SlaConfig(StrictModel):
    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    default_calendar: str | None = None
    territory_calendars: dict[str, str] = Field(default_factory=dict)
    rep_calendars: dict[str, str] = Field(default_factory=dict)
    policies: dict[str, SlaPolicy] = Field(default_factory=dict)
    webhook_url: str | None = Field(None, description="e.g. a Slack incoming webhook")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"webhook_url {value!r} must be an http(s) URL")
        return value

    @field_validator("rep_calendars")
    @classmethod
    def _rep_keys(cls, value: dict[str, str]) -> dict[str, str]:
        from config.routing import normalize_email

        return {normalize_email(email): name for email, name in value.items()}

    def calendar_for(self, policy: SlaPolicy, *, owner_email: str, territory: str | None) -> str:
        """The calendar name a clock uses: policy, then rep, then territory, then default."""
        if policy.calendar is not None:
            return policy.calendar
        rep = self.rep_calendars.get(owner_email.strip().lower())
        if rep is not None:
            return rep
        if territory is not None and territory in self.territory_calendars:
            return self.territory_calendars[territory]
        assert self.default_calendar is not None  # checked by config/references.py
        return self.default_calendar

    def policy_for(self, lane: str, stage: str | None = None) -> tuple[str, SlaPolicy] | None:
        """The policy watching `lane` (and `stage`, when policies split a lane by stage)."""
        fallback: tuple[str, SlaPolicy] | None = None
        for key, policy in self.policies.items():
            if policy.lane != lane:
                continue
            if stage is not None and stage in policy.stages:
                return key, policy
            if not policy.stages and fallback is None:
                fallback = key, policy
        return fallback
