"""Business calendars: adding and measuring business time in a territory's or rep's hours.

Working hours are local wall-clock times (zoneinfo), so 09:00-17:00 stays 09:00-17:00 across
DST changes; business time is the real time elapsed inside those hours. Holidays come from the
`holidays` package by country/subdivision, cached per year.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from config.sla import WEEKDAYS, CalendarConfig, parse_hours

_MAX_DAYS_WITHOUT_WORK = 400  # a calendar with no working day in this span is misconfigured


@lru_cache(maxsize=256)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} {value!r} is naive: pass a tz-aware UTC datetime")
    return value.astimezone(UTC)


class BusinessCalendar:
    """Working days and hours in one time zone, minus holidays; or always open (24x7)."""

    def __init__(
        self,
        tz: str = "UTC",
        workdays: Collection[int] = (0, 1, 2, 3, 4),
        start: time = time(9, 0),
        end: time | None = time(17, 0),
        holidays: tuple[str, str | None] | None = None,
        always_open: bool = False,
        extra_closed: Collection[date] = (),
    ) -> None:
        """`workdays` are Monday=0 .. Sunday=6; `end=None` means midnight (hours up to 24:00);
        `holidays` is (country, subdivision) for the `holidays` package."""
        if not always_open:
            if not workdays:
                raise ValueError("a business calendar needs at least one working day")
            if end is not None and end <= start:
                raise ValueError(f"working hours {start}-{end} end before they start")
        self.tz = ZoneInfo(tz)
        self.workdays = frozenset(workdays)
        self.start = start
        self.end = end
        self.holidays = holidays
        self.always_open = always_open
        self.extra_closed = frozenset(extra_closed)

    @classmethod
    def from_config(cls, config: CalendarConfig) -> BusinessCalendar:
        start, end = parse_hours(config.hours)
        source = config.holidays
        return cls(
            tz=config.timezone,
            workdays=[WEEKDAYS.index(d) for d in config.days],
            start=start,
            end=end,
            holidays=(source.country, source.subdivision) if source else None,
            always_open=config.always_open,
        )

    @property
    def business_day(self) -> timedelta:
        """The nominal length of one working day (for '+1bd' ladder offsets)."""
        if self.always_open:
            return timedelta(days=1)
        end = timedelta(days=1) if self.end is None else _as_delta(self.end)
        return end - _as_delta(self.start)

    def is_working_day(self, day: date) -> bool:
        if self.always_open:
            return True
        if day.weekday() not in self.workdays or day in self.extra_closed:
            return False
        if self.holidays is None:
            return True
        country, subdivision = self.holidays
        return day not in _holiday_dates(country, subdivision, day.year)

    def _day_window(self, day: date) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.start, self.tz).astimezone(UTC)
        if self.end is None:
            closes_local = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        else:
            closes_local = datetime.combine(day, self.end, self.tz)
        return opens, closes_local.astimezone(UTC)

    def windows(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) that end after `since`, in order; endless."""
        since = _require_aware(since, "since")
        day = since.astimezone(self.tz).date() - timedelta(days=1)
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                opens, closes = self._day_window(day)
                # closes <= opens only when DST swallows the hours (e.g. 02:30-03:15 on a
                # spring-forward day): that day has no working time.
                if closes > since and closes > opens:
                    yield opens, closes
            else:
                idle += 1
                if idle > _MAX_DAYS_WITHOUT_WORK:
                    raise ValueError(
                        f"calendar has no working day for {idle} days after {day}: check days "
                        "and holidays"
                    )
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of business time after `start` (UTC)."""
        start = _require_aware(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"cannot add a negative business duration {duration}")
        if self.always_open or duration == timedelta(0):
            return start + duration
        remaining = duration
        for opens, closes in self.windows(start):
            begin = max(opens, start)
            available = closes - begin
            if available >= remaining:
                return begin + remaining
            remaining -= available
        raise AssertionError("windows() is endless")  # pragma: no cover

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from `a` to `b` (negative when `b` is before `a`)."""
        a = _require_aware(a, "a")
        b = _require_aware(b, "b")
        if b < a:
            return -self.between(b, a)
        if self.always_open:
            return b - a
        total = timedelta(0)
        for opens, closes in self.windows(a):
            if opens >= b:
                break
            total += min(closes, b) - max(opens, a)
        return total

    def is_open(self, at: datetime) -> bool:
        at = _require_aware(at, "at")
        if self.always_open:
            return True
        opens, _ = next(self.windows(at))
        return opens <= at

    def local(self, at: datetime) -> datetime:
        """`at` in the calendar's time zone (for messages to reps)."""
        return _require_aware(at, "at").astimezone(self.tz)


def _as_delta(value: time) -> timedelta:
    return timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
