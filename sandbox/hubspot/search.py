"""CRM search (`POST /crm/v3/objects/{type}/search`), following the official search guide
(crm-api-notes §1): filters AND inside a group, groups OR; one sort; `after` is an integer
offset string; 10,000 results per query at most (paging past it is a 400); 5 groups x 6 filters,
18 in all; `associations.{type}` pseudo-properties; archived records never appear; records
changed in the last `lag` seconds are not yet indexed ("a few moments" of eventual consistency).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from sandbox.hubspot.schema import (
    OBJECT_TYPE_ALIASES,
    QUERY_PROPERTIES,
    default_properties,
    parse_ms,
)
from sandbox.hubspot.store import HsObject, PortalStore
from sandbox.hubspot.wire import render_object, validation_error

OPERATORS = {
    "EQ",
    "NEQ",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
_TOKEN = re.compile(r"[^\W_]+|[^\s]+@[^\s]+", re.UNICODE)


@dataclass
class SearchLimits:
    max_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18
    max_limit: int = 200
    result_cap: int = 10_000
    max_query_chars: int = 3000


Predicate = Callable[[HsObject], bool]


def _comparable(kind: str, raw: str | None) -> Any:
    if raw is None:
        return None
    if kind in ("datetime", "date"):
        return parse_ms(raw)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return None
    return raw.lower()


def _compile_filter(store: PortalStore, object_type: str, flt: dict[str, Any]) -> Predicate:
    if not isinstance(flt, dict):
        raise validation_error("Each filter must be an object with propertyName and operator.")
    name = flt.get("propertyName")
    operator = flt.get("operator", "EQ")
    if not isinstance(name, str) or not name:
        raise validation_error("A filter is missing propertyName.")
    if operator not in OPERATORS:
        raise validation_error(
            f"Invalid operator {operator!r}: use one of {', '.join(sorted(OPERATORS))}."
        )
    value = flt.get("value")
    values = [str(v) for v in flt.get("values") or []]
    if name.startswith("associations."):
        target = OBJECT_TYPE_ALIASES.get(name.split(".", 1)[1])
        if target is None:
            raise validation_error(f"Cannot search on association {name!r}.")
        wanted = {str(value)} if value is not None else set(values)

        def linked(obj: HsObject) -> bool:
            ids = {str(i) for i in store.linked(object_type, obj.id, target or "")}
            if operator in ("EQ", "IN"):
                return bool(ids & wanted)
            if operator in ("NEQ", "NOT_IN"):
                return not ids & wanted
            if operator == "HAS_PROPERTY":
                return bool(ids)
            if operator == "NOT_HAS_PROPERTY":
                return not ids
            raise validation_error(f"Operator {operator} is not supported on {name}.")

        return linked
    prop = store.properties[object_type].get(name)
    if prop is None:
        raise validation_error(
            f"Property {name!r} does not exist on {object_type}: check the name in the Properties API."
        )
    kind = prop.type
    case_sensitive = kind == "enumeration"  # guide: enumeration values are case-sensitive

    def get(obj: HsObject) -> str | None:
        return obj.value(name)

    def mine_of(obj: HsObject) -> Any:
        if kind in ("datetime", "date"):
            return obj.ms(name)
        raw = obj.value(name)
        return raw if (case_sensitive and raw is not None) else _comparable(kind, raw)

    if operator == "HAS_PROPERTY":
        return lambda obj: get(obj) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda obj: get(obj) is None
    if operator in ("IN", "NOT_IN"):
        # Guide: IN/NOT_IN values on strings must be lowercase; enumerations match exactly.
        pool = set(values)

        def member(obj: HsObject) -> bool:
            raw = get(obj)
            if raw is None:
                return operator == "NOT_IN"
            if kind in ("number", "datetime", "date"):
                hit = _comparable(kind, raw) in {_comparable(kind, v) for v in pool}
            else:
                hit = (raw if case_sensitive else raw.lower()) in pool
            return hit if operator == "IN" else not hit

        return member
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(value or "").lower()

        def contains(obj: HsObject) -> bool:
            raw = (get(obj) or "").lower()
            if "*" in pattern:
                hit = fnmatchcase(raw, pattern) or any(
                    fnmatchcase(t, pattern) for t in _TOKEN.findall(raw)
                )
            else:
                hit = pattern in _TOKEN.findall(raw) or raw == pattern
            return hit if operator == "CONTAINS_TOKEN" else not hit

        return contains
    if value is None:
        raise validation_error(f"Operator {operator} on {name!r} needs a value.")
    target_value: Any = str(value) if case_sensitive else _comparable(kind, str(value))
    if kind in ("datetime", "date", "number") and target_value is None:
        raise validation_error(
            f"{value!r} is not a valid value for {name!r}: dates are epoch milliseconds."
        )
    high: Any = _comparable(kind, str(flt.get("highValue"))) if operator == "BETWEEN" else None
    if operator == "BETWEEN" and high is None:
        raise validation_error(f"BETWEEN on {name!r} needs highValue.")

    def compare(obj: HsObject) -> bool:
        mine = mine_of(obj)
        if operator == "EQ":
            return mine is not None and mine == target_value
        if operator == "NEQ":
            return mine != target_value
        if mine is None:
            return False
        if operator == "GT":
            return bool(mine > target_value)
        if operator == "GTE":
            return bool(mine >= target_value)
        if operator == "LT":
            return bool(mine < target_value)
        if operator == "LTE":
            return bool(mine <= target_value)
        return bool(target_value <= mine <= high)  # BETWEEN

    return compare


def _compile(
    store: PortalStore, object_type: str, body: dict[str, Any], limits: SearchLimits
) -> Predicate | None:
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be a list.")
    if len(groups) > limits.max_groups:
        raise validation_error(
            f"Too many filter groups ({len(groups)}); at most {limits.max_groups}."
        )
    total = 0
    compiled: list[list[Predicate]] = []
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("filters") or [], list):
            raise validation_error('Each filter group must be {"filters": [...]}.')
        filters = group.get("filters") or []
        if len(filters) > limits.max_filters_per_group:
            raise validation_error(
                f"Too many filters in a group ({len(filters)}); at most {limits.max_filters_per_group}."
            )
        total += len(filters)
        compiled.append([_compile_filter(store, object_type, f) for f in filters])
    if total > limits.max_filters_total:
        raise validation_error(
            f"Too many filters ({total}); at most {limits.max_filters_total} in all."
        )
    if not compiled:
        return None
    return lambda obj: any(all(p(obj) for p in group) for group in compiled)


def _sort_rule(body: dict[str, Any]) -> tuple[str, bool] | None:
    sorts = body.get("sorts") or []
    if len(sorts) > 1:
        raise validation_error("Only one sort is allowed per search.")
    if not sorts:
        return None
    rule = sorts[0]
    if isinstance(rule, str):  # the spec types sorts as strings; "-name" sorts descending
        return (rule[1:], True) if rule.startswith("-") else (rule, False)
    if isinstance(rule, dict) and rule.get("propertyName"):
        direction = str(rule.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error("sort direction must be ASCENDING or DESCENDING.")
        return str(rule["propertyName"]), direction == "DESCENDING"
    raise validation_error("A sort needs propertyName (and direction).")


_MODIFIED = ("lastmodifieddate", "hs_lastmodifieddate")
_RANGE_OPERATORS = ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN")


def _modified_range(groups: list[Any]) -> tuple[int, int] | None:
    """The lastmodifieddate window a single filter group pins down, if any (query planning)."""
    if len(groups) != 1:
        return None
    low, high, seen = -(1 << 62), 1 << 62, False
    for flt in (groups[0] or {}).get("filters") or []:
        if flt.get("propertyName") not in _MODIFIED:
            continue
        value = parse_ms(str(flt.get("value"))) if flt.get("value") is not None else None
        operator = flt.get("operator")
        if value is None or operator not in _RANGE_OPERATORS:
            continue
        seen = True
        if operator in ("EQ", "GTE", "BETWEEN"):
            low = max(low, value)
        if operator == "GT":
            low = max(low, value + 1)
        if operator in ("EQ", "LTE"):
            high = min(high, value)
        if operator == "LT":
            high = min(high, value - 1)
        if operator == "BETWEEN":
            top = parse_ms(str(flt.get("highValue")))
            high = min(high, top) if top is not None else high
    return (low, high) if seen else None


def _candidates(store: PortalStore, object_type: str, groups: list[Any]) -> Iterable[HsObject]:
    window = _modified_range(groups) if isinstance(groups, list) else None
    objects = store.objects[object_type]
    if window is None or not store.indexing:
        return objects.values()
    index = store.modified[object_type]
    start = bisect.bisect_left(index, (window[0], -1))
    stop = bisect.bisect_right(index, (window[1], 1 << 62))
    return [objects[ident] for _, ident in index[start:stop]]


def run_search(
    store: PortalStore,
    object_type: str,
    body: Any,
    *,
    limits: SearchLimits,
    visible_until_ms: int,
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise validation_error("The search body must be a JSON object (PublicObjectSearchRequest).")
    query = body.get("query")
    if query is not None and len(str(query)) > limits.max_query_chars:
        raise validation_error(f"query is longer than {limits.max_query_chars} characters.")
    try:
        limit = int(body.get("limit") or 10)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise validation_error("limit must be a number and after an integer string.") from None
    if limit < 1 or limit > limits.max_limit:
        raise validation_error(f"limit must be between 1 and {limits.max_limit}.")
    if offset >= limits.result_cap:
        raise validation_error(
            f"Search results are capped at {limits.result_cap}: narrow the filters "
            "(e.g. by lastmodifieddate) instead of paging further."
        )
    predicate = _compile(store, object_type, body, limits)
    groups = body.get("filterGroups") or []
    if _modified_range(groups) is not None and all(
        f.get("propertyName") in _MODIFIED and f.get("operator") in _RANGE_OPERATORS
        for f in groups[0].get("filters") or []
    ):
        predicate = None  # the index window already is exactly this filter group
    sort = _sort_rule(body)
    tokens = _TOKEN.findall(str(query).lower()) if query else []
    text_props = QUERY_PROPERTIES.get(object_type, ())
    matches: list[HsObject] = []
    for obj in _candidates(store, object_type, groups):
        if obj.archived or obj.merged_into is not None or obj.updated_ms > visible_until_ms:
            continue
        if predicate is not None and not predicate(obj):
            continue
        if tokens:
            text = " ".join((obj.properties.get(p) or "") for p in text_props).lower()
            if not all(t in text for t in tokens):
                continue
        matches.append(obj)
    in_index_order = (
        sort is not None
        and sort[0] in _MODIFIED
        and store.indexing
        and _modified_range(groups) is not None
    )
    if sort is not None and in_index_order and sort[1]:
        matches.reverse()  # the index window, newest first
    elif sort is not None and not in_index_order:  # (the index window is already in order)
        name, descending = sort
        prop = store.properties[object_type].get(name)
        kind = prop.type if prop else "string"
        if kind in ("datetime", "date"):
            present = [(o, o.ms(name)) for o in matches]
        else:
            present = [(o, _comparable(kind, o.value(name))) for o in matches]
        valued = [(o, v) for o, v in present if v is not None]
        valued.sort(key=lambda pair: (pair[1], pair[0].id), reverse=descending)
        matches = [o for o, _ in valued] + [o for o, v in present if v is None]
    total = len(matches)
    page = matches[offset : offset + limit]
    props = body.get("properties") or default_properties(object_type)
    payload: dict[str, Any] = {
        "total": total,
        "results": [render_object(store, o, props) for o in page],
    }
    if offset + limit < total:
        payload["paging"] = {"next": {"after": str(offset + limit)}}
    return payload
