"""Compiled SOQL conditions and ORDER BY: how a parsed query tests and sorts records.

Semantics follow the SOQL and SOSL Reference ("Comparison Operators", "ORDER BY", "Date Formats
and Date Literals"): text comparisons are case-insensitive, `!=` matches nulls, range operators never
match nulls, LIKE uses % and _ with backslash escapes, relative date literals cover whole UTC days,
ascending order puts nulls first and descending puts them last.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def like_regex(literal: str) -> re.Pattern[str]:
    """LIKE pattern -> regex: % any run, _ one character, \\% and \\_ literal; case-insensitive."""
    body, parts, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            parts.append(re.escape(ESCAPES.get(body[i + 1], body[i + 1])))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class DayRange:
    """A relative date literal: [start, end) in days, UTC."""

    start: date
    end: date


def sort_key(value: Any) -> Any:
    """Comparison key: SOQL string comparisons are case-insensitive; dates/datetimes compare."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    return value


def _day(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def compare(name: str, op: str, literal: Any) -> Predicate:
    if isinstance(literal, DayRange):
        start, end = literal.start, literal.end
        ops: dict[str, Callable[[date], bool]] = {
            "=": lambda d: start <= d < end,
            "!=": lambda d: not start <= d < end,
            "<>": lambda d: not start <= d < end,
            "<": lambda d: d < start,
            "<=": lambda d: d < end,
            ">": lambda d: d >= end,
            ">=": lambda d: d >= start,
        }
        test = ops[op]
        return lambda r: r.get(name) is not None and test(_day(r[name]))
    if literal is None:
        if op == "=":
            return lambda r: r.get(name) is None
        if op in ("!=", "<>"):
            return lambda r: r.get(name) is not None
        return lambda r: False
    key = sort_key(literal)
    if op == "=":
        return lambda r: sort_key(r.get(name)) == key
    if op in ("!=", "<>"):
        return lambda r: sort_key(r.get(name)) != key
    cmp: Callable[[Any], bool] = {
        "<": lambda v: v < key,
        "<=": lambda v: v <= key,
        ">": lambda v: v > key,
        ">=": lambda v: v >= key,
    }[op]
    return lambda r: (v := r.get(name)) is not None and cmp(sort_key(v))


def _sort_key_of(name: str, exact: bool) -> Callable[[Record], Any]:
    if exact:
        return lambda r: r[name]
    return lambda r: sort_key(r[name])


def order_records(
    records: list[Record],
    order: list[tuple[str, bool, bool]],
    exact: frozenset[str] = frozenset(),
) -> list[Record]:
    """ORDER BY: stable multi-key sort; nulls first ascending, last descending unless told.
    Text sorts case-insensitively; ids (in `exact`) by their case-sensitive value."""
    out = list(records)
    for name, descending, nulls_last in reversed(order):
        present = [r for r in out if r.get(name) is not None]
        missing = [r for r in out if r.get(name) is None]
        present.sort(key=_sort_key_of(name, name in exact), reverse=descending)
        out = present + missing if nulls_last else missing + present
    return out
