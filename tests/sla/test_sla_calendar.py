"""Business-time arithmetic: hours, weekends, holidays, DST, 24x7, and its algebra."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.sla import CalendarConfig, HolidaySource
from routing.sla.calendar import BusinessCalendar

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def ny_calendar() -> BusinessCalendar:
    return BusinessCalendar.from_config(
        CalendarConfig(
            timezone="America/New_York",
            hours="09:00-17:00",
            holidays=HolidaySource(country="US", subdivision="NY"),
        )
    )


def test_friday_evening_lead_is_due_monday_morning() -> None:
    cal = ny_calendar()
    arrived = datetime(2026, 11, 20, 16, 55, tzinfo=NY)  # a Friday
    due = cal.add(arrived, timedelta(hours=1))
    assert due == datetime(2026, 11, 23, 9, 55, tzinfo=NY)
    assert due.tzinfo is UTC
    assert cal.between(arrived, due) == timedelta(hours=1)


def test_window_ending_exactly_at_close_stays_on_the_same_day() -> None:
    cal = ny_calendar()
    arrived = datetime(2026, 11, 20, 16, 55, tzinfo=NY)
    assert cal.add(arrived, timedelta(minutes=5)) == datetime(2026, 11, 20, 17, 0, tzinfo=NY)


def test_lead_arriving_overnight_starts_at_opening() -> None:
    cal = ny_calendar()
    arrived = datetime(2026, 11, 18, 2, 0, tzinfo=NY)  # Wednesday 02:00
    assert cal.add(arrived, timedelta(minutes=30)) == datetime(2026, 11, 18, 9, 30, tzinfo=NY)
    assert cal.between(arrived, datetime(2026, 11, 18, 8, 59, tzinfo=NY)) == timedelta(0)


def test_spring_forward_keeps_local_hours_and_counts_real_time() -> None:
    cal = ny_calendar()
    # DST starts Sunday 2026-03-08 in New York: Friday is EST (-5), Monday EDT (-4).
    arrived = datetime(2026, 3, 6, 16, 30, tzinfo=NY)
    due = cal.add(arrived, timedelta(hours=1))
    assert due == datetime(2026, 3, 9, 9, 30, tzinfo=NY)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)
    assert due - arrived == timedelta(hours=64)  # one wall hour fewer than 65


def test_fall_back_inside_working_hours_counts_the_extra_hour() -> None:
    # A 7-day, 00:00-24:00 calendar in Berlin: the fall-back Sunday (2026-10-25) has 25 hours.
    cal = BusinessCalendar(tz="Europe/Berlin", workdays=range(7), start=time(0), end=None)
    sunday = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    monday = datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN)
    assert cal.between(sunday, monday) == timedelta(hours=25)
    assert cal.add(sunday, timedelta(hours=24)) == datetime(2026, 10, 25, 23, 0, tzinfo=BERLIN)


def test_hours_swallowed_by_spring_forward_are_no_working_time() -> None:
    cal = BusinessCalendar(
        tz="Europe/Berlin", workdays=range(7), start=time(2, 30), end=time(3, 15)
    )
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)  # DST starts Sunday 2026-03-29
    assert cal.between(saturday, saturday + timedelta(days=2)) == timedelta(minutes=45)
    assert cal.add(saturday, timedelta(minutes=1)) == datetime(2026, 3, 30, 2, 31, tzinfo=BERLIN)


def test_holiday_is_skipped() -> None:
    cal = ny_calendar()
    # Thanksgiving 2026 is Thursday 2026-11-26.
    arrived = datetime(2026, 11, 25, 16, 0, tzinfo=NY)
    due = cal.add(arrived, timedelta(hours=2))
    assert due == datetime(2026, 11, 27, 10, 0, tzinfo=NY)
    assert not cal.is_open(datetime(2026, 11, 26, 11, 0, tzinfo=NY))
    assert cal.is_open(datetime(2026, 11, 27, 11, 0, tzinfo=NY))


def test_subdivision_holidays_differ() -> None:
    # Lincoln's Birthday (Feb 12) is a New York state holiday, not a federal one.
    federal = BusinessCalendar.from_config(
        CalendarConfig(timezone="America/New_York", holidays=HolidaySource(country="US"))
    )
    lincoln = datetime(2026, 2, 12, 10, 0, tzinfo=NY)
    assert federal.is_open(lincoln)
    assert not ny_calendar().is_open(lincoln)


def test_always_open_calendar_is_wall_time() -> None:
    cal = BusinessCalendar.from_config(CalendarConfig(always_open=True))
    start = datetime(2026, 11, 21, 23, 58, tzinfo=UTC)  # a Saturday night
    assert cal.add(start, timedelta(minutes=5)) == start + timedelta(minutes=5)
    assert cal.between(start, start + timedelta(days=2)) == timedelta(days=2)
    assert cal.business_day == timedelta(days=1)


def test_between_is_signed_and_refuses_naive_times() -> None:
    cal = ny_calendar()
    a = datetime(2026, 11, 18, 10, 0, tzinfo=NY)
    b = datetime(2026, 11, 19, 10, 0, tzinfo=NY)
    assert cal.between(a, b) == timedelta(hours=8)
    assert cal.between(b, a) == -timedelta(hours=8)
    with pytest.raises(ValueError, match="naive"):
        cal.add(datetime(2026, 11, 18, 10, 0), timedelta(hours=1))


def test_business_day_is_the_working_day_length() -> None:
    assert ny_calendar().business_day == timedelta(hours=8)


# -- properties ------------------------------------------------------------------------------

_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
_durations = st.integers(min_value=0, max_value=200 * 3600).map(lambda s: timedelta(seconds=s))
_CALENDARS = {
    "ny": ny_calendar(),
    "berlin_short": BusinessCalendar(
        tz="Europe/Berlin", workdays=(0, 2, 4), start=time(1, 30), end=time(3, 15)
    ),
    "berlin_dst_gap": BusinessCalendar(
        tz="Europe/Berlin", workdays=range(7), start=time(2, 30), end=time(3, 15)
    ),
    "sydney_week": BusinessCalendar(
        tz="Australia/Sydney", workdays=range(7), start=time(0), end=None
    ),
}
_calendars = st.sampled_from(sorted(_CALENDARS)).map(_CALENDARS.__getitem__)


@settings(max_examples=150, deadline=None)
@given(cal=_calendars, start=_instants, a=_durations, b=_durations)
def test_adding_is_associative(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    assert cal.add(start, a + b) == cal.add(cal.add(start, a), b)


@settings(max_examples=150, deadline=None)
@given(cal=_calendars, start=_instants, a=_durations, b=_durations)
def test_adding_is_monotonic(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert start <= cal.add(start, small) <= cal.add(start, large)


@settings(max_examples=150, deadline=None)
@given(cal=_calendars, start=_instants, d=_durations)
def test_between_inverts_add(cal: BusinessCalendar, start: datetime, d: timedelta) -> None:
    assert cal.between(start, cal.add(start, d)) == d


@settings(max_examples=100, deadline=None)
@given(cal=_calendars, a=_instants, b=_instants, c=_instants)
def test_between_adds_up_over_consecutive_spans(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.between(a, b) + cal.between(b, c) == cal.between(a, c)
    assert cal.between(a, b) >= timedelta(0)
