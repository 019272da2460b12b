"""Behaviour rules: points for what the contact did, from its own activities (never rep touches).

`scoring.activities.ActivityClassifier` sorts a contact's activities into the slots of the
compiled filters, once per contact. Each behaviour rule then turns its filter's timestamps into
points: per occurrence (capped), or a one-off combo when enough fall inside a sliding window.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from operator import sub
from typing import Any

from config.scoring import BehaviourRule
from scoring.activities import ActivityClassifier
from scoring.score import ReasonItem, fill_label

_DAY = timedelta(days=1)
_ordinal = date.toordinal  # of a datetime: its own (UTC) calendar day

__all__ = ["ActivityClassifier", "CompiledBehaviourRule", "FastLaneCheck", "has_window"]


def has_window(stamps: list[datetime], count: int, window: timedelta, distinct_days: bool) -> bool:
    """Whether `count` stamps (or distinct UTC days) fall inside some window of that length."""
    if distinct_days:
        return _days_within(stamps, count, math.ceil(window / _DAY))
    return _stamps_within(stamps, count, window)


def _narrowest(ordered: list[Any], reach: int) -> Any:
    """The least gap between sorted values `reach` apart (needs more than `reach` values).
    C-level (map/min), no Python loop: this runs for most contacts."""
    return min(map(sub, ordered[reach:], ordered))


def _days_within(stamps: list[datetime], count: int, span: int) -> bool:
    """`count` distinct days of `stamps` less than `span` days apart (first to last)."""
    if len(stamps) < count:
        return False
    days = sorted(set(map(_ordinal, stamps)))
    return len(days) >= count and _narrowest(days, count - 1) < span


def _stamps_within(stamps: list[datetime], count: int, window: timedelta) -> bool:
    """`count` of `stamps` at most `window` apart (first to last)."""
    if len(stamps) < count:
        return False
    if max(stamps) - min(stamps) <= window:  # all of them fit: the common, cheap case
        return True
    return bool(_narrowest(sorted(stamps), count - 1) <= window)


class CompiledBehaviourRule:
    """One behaviour rule: call with its slot's timestamps and `now`.

    `items` holds the rule's reason per match count once seen, so a plain rule (no `within`,
    no combo) that has met a count before is one dict lookup: see `ScoringModel.score`."""

    __slots__ = (
        "_combo",
        "_distinct",
        "_min_count",
        "_span",
        "_window",
        "_within",
        "cap",
        "items",
        "label",
        "plain",
        "points",
        "rule_id",
        "slot",
    )

    def __init__(self, rule: BehaviourRule, slot: int) -> None:
        self.rule_id = rule.id
        self.label = rule.label
        self.points = rule.points
        self.cap = rule.cap
        self.slot = slot
        self._within = rule.within
        self._combo = rule.min_count is not None
        self._min_count = rule.min_count or 0
        self._window = rule.window or timedelta(0)
        self._distinct = rule.distinct_days
        self._span = math.ceil(self._window / _DAY)
        self.plain = self._within is None and not self._combo
        self.items: dict[int, ReasonItem] = {}

    def __call__(self, stamps: list[datetime], now: datetime) -> ReasonItem | None:
        if self._within is not None:
            since = now - self._within
            stamps = [s for s in stamps if s >= since]
        count = len(stamps)
        if not count:
            return None
        if self._combo:
            need = self._min_count
            if count < need:
                return None
            if self._distinct:  # `_days_within`, spelled out: the hottest combo
                days = sorted(set(map(_ordinal, stamps)))
                if len(days) < need or _narrowest(days, need - 1) >= self._span:
                    return None
            else:  # `_stamps_within`, spelled out
                window = self._window
                if (  # all of them fit (the common, cheap case), or some `need` of them do
                    max(stamps) - min(stamps) > window
                    and _narrowest(sorted(stamps), need - 1) > window
                ):
                    return None
        item = self.items.get(count)
        if item is None:
            item = self._item(count)
            if len(self.items) < 1000:
                self.items[count] = item
        return item

    def _item(self, count: int) -> ReasonItem:
        points = self.points
        if not self._combo:
            points *= count
            if self.cap is not None and points > self.cap:
                points = self.cap
        label = fill_label(self.label, count, ())
        return ReasonItem(self.rule_id, label, points, "behaviour")


class FastLaneCheck:
    """An activity-based fast-lane trigger: any matching activity within `within` of now."""

    __slots__ = ("label", "slot", "trigger_id", "within")

    def __init__(self, trigger_id: str, label: str, slot: int, within: timedelta) -> None:
        self.trigger_id = trigger_id
        self.label = label
        self.slot = slot
        self.within = within

    def fired(self, stamps: list[datetime], now: datetime) -> bool:
        """Whether any of the slot's stamps is recent enough."""
        return max(stamps) >= now - self.within if stamps else False
