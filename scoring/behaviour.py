"""Behaviour rules: points for what the contact did, from its own activities (never rep touches).

Activity filters are compiled once and de-duplicated; `ActivityClassifier` maps each activity to
the filters it satisfies, memoised on (kind, the properties filters read), so a contact's
activities are classified in one pass. Each behaviour rule then turns its filter's timestamps into
points: per occurrence (capped), or a one-off combo when enough fall inside a sliding window.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.scoring import ActivityFilter, BehaviourRule
from connectors.records import Activity, ActivityKind, Actor
from scoring.score import ReasonItem

_MEMO_LIMIT = 100_000
_DAY = timedelta(days=1)

Predicate = Callable[[dict[str, str]], bool]


def _predicate(flt: ActivityFilter) -> tuple[frozenset[ActivityKind], Predicate]:
    """The filter as (kinds, test on the properties the filter reads)."""
    tests: list[Predicate] = []
    if flt.url_contains:
        needles = tuple(n.lower() for n in flt.url_contains)
        tests.append(lambda p: any(n in (p.get("url") or "").lower() for n in needles))
    if flt.url_regex:
        url_re = re.compile(flt.url_regex, re.IGNORECASE)
        tests.append(lambda p: url_re.search(p.get("url") or "") is not None)
    if flt.form_name_regex:
        form_re = re.compile(flt.form_name_regex, re.IGNORECASE)
        tests.append(lambda p: form_re.search(p.get("form_name") or "") is not None)
    if flt.asset_stages:
        stages = frozenset(flt.asset_stages)
        tests.append(lambda p: (p.get("asset_stage") or "").strip().lower() in stages)
    for name, expected in sorted(flt.properties.items()):
        tests.append(_property_equals(name, expected.strip().lower()))
    return frozenset(flt.kinds), lambda p: all(t(p) for t in tests)


def _property_equals(name: str, wanted: str) -> Predicate:
    return lambda p: (p.get(name) or "").strip().lower() == wanted


def _filter_key(flt: ActivityFilter) -> str:
    return flt.model_dump_json()


def _read_properties(flt: ActivityFilter) -> set[str]:
    names = set(flt.properties)
    if flt.url_contains or flt.url_regex:
        names.add("url")
    if flt.form_name_regex:
        names.add("form_name")
    if flt.asset_stages:
        names.add("asset_stage")
    return names


@dataclass(frozen=True, slots=True)
class _KindPlan:
    """How to classify one activity kind: a fixed slot group when no filter for the kind reads
    a property, otherwise the properties to read and a memo from their values to a group."""

    fixed: int | None
    props: tuple[str, ...]
    memo: dict[object, int]


class ActivityClassifier:
    """Registers filters (identical ones share a slot) and classifies activities into slots.

    An activity maps to a *group*: the set of slots it satisfies, numbered once. Collecting
    appends each activity's timestamp to its group only, then spreads groups over slots."""

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}
        self._tests: list[tuple[frozenset[ActivityKind], Predicate, set[str]]] = []
        self._plans: dict[ActivityKind, _KindPlan] = {}
        self._groups: list[tuple[int, ...]] = []
        self._group_ids: dict[tuple[int, ...], int] = {}

    def register(self, flt: ActivityFilter) -> int:
        key = _filter_key(flt)
        if key not in self._slots:
            self._slots[key] = len(self._tests)
            kinds, test = _predicate(flt)
            self._tests.append((kinds, test, _read_properties(flt)))
            self._groups.clear()
            self._group_ids.clear()
            self._plans = {kind: self._plan(kind) for kind in ActivityKind}
        return self._slots[key]

    def _plan(self, kind: ActivityKind) -> _KindPlan:
        props: set[str] = set()
        for kinds, _, read in self._tests:
            if kind in kinds:
                props |= read
        if props:
            return _KindPlan(None, tuple(sorted(props)), {})
        return _KindPlan(self._group(self._classify(kind, {})), (), {})

    def _group(self, slots: tuple[int, ...]) -> int:
        gid = self._group_ids.get(slots)
        if gid is None:
            gid = self._group_ids[slots] = len(self._groups)
            self._groups.append(slots)
        return gid

    @property
    def size(self) -> int:
        return len(self._tests)

    def collect(
        self, activities: Sequence[Activity], now: datetime, horizon: datetime
    ) -> tuple[dict[int, list[datetime]], datetime | None]:
        """Timestamps per slot for the contact's own activities in [horizon, now], and the
        latest such activity (any kind: the end of inactivity). Slot lists are read-only."""
        by_group: dict[int, list[datetime]] = {}
        group_get = by_group.get
        last: datetime | None = None
        plans = self._plans
        contact = Actor.CONTACT
        for activity in activities:
            if activity.actor is not contact:
                continue
            at = activity.occurred_at
            if at > now or at < horizon:
                continue
            if last is None or at > last:
                last = at
            plan = plans[activity.kind]
            gid = plan.fixed
            if gid is None:
                get = activity.properties.get
                props = plan.props
                # spelled out: far cheaper than tuple(map(...)) on this hot path
                if len(props) == 1:
                    key: object = get(props[0])
                elif len(props) == 2:
                    key = (get(props[0]), get(props[1]))
                elif len(props) == 3:
                    key = (get(props[0]), get(props[1]), get(props[2]))
                else:
                    key = tuple([get(p) for p in props])
                gid = plan.memo.get(key)
                if gid is None:
                    gid = self._group(self._classify(activity.kind, dict(activity.properties)))
                    if len(plan.memo) >= _MEMO_LIMIT:
                        plan.memo.clear()
                    plan.memo[key] = gid
            bucket = group_get(gid)
            if bucket is None:
                by_group[gid] = [at]
            else:
                bucket.append(at)
        hits: dict[int, list[datetime]] = {}
        groups = self._groups
        for gid, stamps in by_group.items():
            for slot in groups[gid]:
                have = hits.get(slot)
                hits[slot] = stamps if have is None else have + stamps
        return hits, last

    def _classify(self, kind: ActivityKind, values: dict[str, str]) -> tuple[int, ...]:
        return tuple(
            slot
            for slot, (kinds, test, _) in enumerate(self._tests)
            if kind in kinds and test(values)
        )


def has_window(stamps: list[datetime], count: int, window: timedelta, distinct_days: bool) -> bool:
    """Whether `count` stamps (or distinct UTC days) fall inside some window of that length."""
    if len(stamps) < count:
        return False
    if distinct_days:
        days = sorted({s.toordinal() for s in stamps})
        span = math.ceil(window / _DAY)
        reach = count - 1
        return any(days[i + reach] - days[i] < span for i in range(len(days) - reach))
    if max(stamps) - min(stamps) <= window:  # all of them fit: the common, cheap case
        return True
    ordered = sorted(stamps)
    reach = count - 1
    return any(ordered[i + reach] - ordered[i] <= window for i in range(len(ordered) - reach))


class CompiledBehaviourRule:
    """One behaviour rule: call with its slot's timestamps and `now`."""

    __slots__ = (
        "_combo",
        "_distinct",
        "_items",
        "_min_count",
        "_window",
        "_within",
        "cap",
        "label",
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
        self._items: dict[int, ReasonItem] = {}

    def __call__(self, stamps: list[datetime], now: datetime) -> ReasonItem | None:
        if self._within is not None:
            since = now - self._within
            stamps = [s for s in stamps if s >= since]
        count = len(stamps)
        if not count:
            return None
        if self._combo and (
            count < self._min_count
            or not has_window(stamps, self._min_count, self._window, self._distinct)
        ):
            return None
        item = self._items.get(count)
        if item is None:
            item = self._item(count)
            if len(self._items) < 1000:
                self._items[count] = item
        return item

    def _item(self, count: int) -> ReasonItem:
        points = self.points
        if not self._combo:
            points *= count
            if self.cap is not None and points > self.cap:
                points = self.cap
        label = self.label.format(count=count, value=count)
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
        since = now - self.within
        return any(s >= since for s in stamps)
