"""Whether a rep can take a lead now, and if not, why (the "skipped: ..." part of a reason)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Literal

from config.routing import WEEKDAYS, Rep
from routing.directory import RepStatus

Lane = Literal["fast", "nurture"]


def local_day(rep: Rep, now: datetime) -> date:
    """The rep's calendar day: in their working-hours zone when set, UTC otherwise."""
    zone = rep.working_hours.zone if rep.working_hours is not None else UTC
    return now.astimezone(zone).date()


def day_start(rep: Rep, now: datetime) -> datetime:
    """Start of the rep's current day, as UTC (the window for the per-day capacity)."""
    zone = rep.working_hours.zone if rep.working_hours is not None else UTC
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)
    return midnight.astimezone(UTC)


def off_hours(rep: Rep, now: datetime) -> bool:
    hours = rep.working_hours
    if hours is None:
        return False
    local = now.astimezone(hours.zone)
    if WEEKDAYS[local.weekday()] not in hours.days:
        return True
    return not hours.start <= local.time() < hours.end


def out_of_office(rep: Rep, status: RepStatus | None, now: datetime) -> bool:
    if status is not None and status.out_of_office:
        return True
    today = local_day(rep, now)
    return any(r.covers(today) for r in rep.out_of_office)


def skip_reason(
    rep: Rep,
    status: RepStatus | None,
    now: datetime,
    lane: Lane,
    *,
    excluded: bool,
    assigned_today: Callable[[], int],
    open_leads: Callable[[], int],
) -> str | None:
    """None when the rep can take the lead, else a short reason. Counts are read lazily."""
    if excluded:
        return "previous owner"
    if status is None:
        return "not a CRM owner"
    if not status.active:
        return "inactive in the CRM"
    if out_of_office(rep, status, now):
        return "out of office"
    if lane == "fast" and off_hours(rep, now):
        return "outside working hours"
    per_day = rep.capacity.per_day
    if per_day is not None and assigned_today() >= per_day:
        return f"at capacity ({per_day} today)"
    max_open = rep.capacity.open_leads
    if max_open is not None and open_leads() >= max_open:
        return f"at capacity ({max_open} open leads)"
    return None
