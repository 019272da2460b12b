"""Activity classification: which compiled activity filters each of a contact's activities meets.

Filters are compiled once and de-duplicated into *slots*. An activity maps to a *group*: the set
of slots it satisfies, numbered once. The group is memoised on (kind, the values of the
properties the kind's filters read), so classifying a contact's activities is one pass of dict
lookups: no filter is re-tested per rule, no regex runs twice on the same URL or form name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from config.scoring import ActivityFilter
from connectors.records import Activity, ActivityKind, Actor

_MEMO_LIMIT = 4_096  # entries per memo: bounded, full within the first 10,000 people

# Properties most activities lack (e.g. only funnel assets have a stage): a kind whose filters
# read one of these and one other property is memoised on the other alone while it is absent.
_OFTEN_ABSENT = ("asset_stage",)

Predicate = Callable[[dict[str, str]], bool]

# How one kind is classified: (fixed group, main property, optional property, memo on the main
# value (optional absent), memo on the (main, optional) pair). A kind no filter reads a property
# of has a fixed group. A kind whose filters read three or more properties gets the never-filled
# `_NO_MEMO` twice, so its activities take the fully keyed path in `ActivityClassifier._resolve`.
# (The optional property is None for a one-property kind: `None in properties` is false.)
_KindPlan = tuple[int | None, str, Any, dict[object, int], dict[object, int]]
_NO_MEMO: dict[object, int] = {}


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


class ActivityClassifier:
    """Registers filters (identical ones share a slot) and classifies activities into slots.

    Collecting appends each activity's timestamp to its group only, then spreads the groups over
    their slots. Filters test property values only through `.get` (a missing property and a None
    one are alike), so a memo key of those values decides the group."""

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}
        self._tests: list[tuple[frozenset[ActivityKind], Predicate, set[str]]] = []
        self._plans: dict[ActivityKind, _KindPlan] = {}
        self._props: dict[ActivityKind, tuple[str, ...]] = {}
        self._wide_memo: dict[tuple[ActivityKind, tuple[object, ...]], int] = {}
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
            self._wide_memo.clear()
            self._props = {kind: self._read_by(kind) for kind in ActivityKind}
            self._plans = {kind: self._plan(kind) for kind in ActivityKind}
        return self._slots[key]

    def _read_by(self, kind: ActivityKind) -> tuple[str, ...]:
        props: set[str] = set()
        for kinds, _, read in self._tests:
            if kind in kinds:
                props |= read
        return tuple(sorted(props))

    def _plan(self, kind: ActivityKind) -> _KindPlan:
        props = self._props[kind]
        if not props:
            return (self._group(self._classify(kind, {})), "", None, _NO_MEMO, _NO_MEMO)
        if len(props) == 1:
            return (None, props[0], None, {}, _NO_MEMO)
        if len(props) == 2:
            main, optional = sorted(props, key=lambda name: name in _OFTEN_ABSENT)
            return (None, main, optional, {}, {})
        return (None, props[0], props[1], _NO_MEMO, _NO_MEMO)

    def _group(self, slots: tuple[int, ...]) -> int:
        gid = self._group_ids.get(slots)
        if gid is None:
            gid = self._group_ids[slots] = len(self._groups)
            self._groups.append(slots)
        return gid

    def matches(self, slot: int, activity: Activity) -> bool:
        """Whether one activity meets the filter of `slot` (any actor, any time: the caller
        checks those). For wording reasons, off the hot path."""
        kinds, test, _ = self._tests[slot]
        return activity.kind in kinds and test(dict(activity.properties))

    @property
    def size(self) -> int:
        return len(self._tests)

    def collect(
        self, activities: Sequence[Activity], now: datetime, horizon: datetime
    ) -> tuple[dict[int, list[datetime]], datetime | None]:
        """Timestamps per slot for the contact's own activities in [horizon, now], and the
        latest such activity (any kind: the end of inactivity). Slot lists are read-only.

        The hot loop only sorts the contact's activities into groups; the time range is then
        checked once with C-level min/max, which is almost always all inside."""
        by_group: dict[int, list[datetime]] = {}
        group_get = by_group.get
        every: list[datetime] = []  # all of them, in order: the latest is the first maximum
        keep = every.append
        plans = self._plans
        contact = Actor.CONTACT
        for activity in activities:
            if activity.actor is not contact:
                continue
            try:
                gid, main, optional, memo, pairs = plans[activity.kind]
                if gid is None:
                    props = activity.properties
                    if optional in props:
                        gid = pairs.get((props.get(main), props.get(optional)))
                    else:
                        gid = memo.get(props.get(main))
            except (KeyError, TypeError):  # an unknown kind, an unhashable property value
                gid = None
            if gid is None:
                gid = self._resolve(activity, now, horizon)
                if gid is None:
                    continue
            at = activity.occurred_at
            keep(at)
            bucket = group_get(gid)
            if bucket is None:
                by_group[gid] = [at]
            else:
                bucket.append(at)
        if not every:
            return {}, None
        last = max(every)
        if last > now or min(every) < horizon:  # rare: some out of range, drop them
            every = [s for s in every if horizon <= s <= now]
            if not every:
                return {}, None
            last = max(every)
            by_group = {
                gid: kept
                for gid, stamps in by_group.items()
                if (kept := [s for s in stamps if horizon <= s <= now])
            }
        hits: dict[int, list[datetime]] = {}
        groups = self._groups
        for gid, stamps in by_group.items():
            for slot in groups[gid]:
                have = hits.get(slot)
                hits[slot] = stamps if have is None else have + stamps
        return hits, last

    def _resolve(self, activity: Activity, now: datetime, horizon: datetime) -> int | None:
        """The group of an activity the memo has not seen (None when it is out of range)."""
        at = activity.occurred_at
        if at > now or at < horizon:
            return None
        kind = activity.kind
        _, main, optional, memo, pairs = self._plans[kind]
        props = activity.properties
        key: object
        if memo is _NO_MEMO:
            key = (kind, tuple([props.get(p) for p in self._props[kind]]))
            memo = self._wide_memo  # type: ignore[assignment]
        elif optional in props:
            key = (props.get(main), props.get(optional))
            memo = pairs
        else:
            key = props.get(main)
        gid = memo.get(key)
        if gid is None:
            gid = self._group(self._classify(kind, dict(props)))
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = gid
        return gid

    def _classify(self, kind: ActivityKind, values: dict[str, str]) -> tuple[int, ...]:
        return tuple(
            slot
            for slot, (kinds, test, _) in enumerate(self._tests)
            if kind in kinds and test(values)
        )
