"""Indexes that let the org answer the queries a sync connector sends without scanning every row.

Two shapes dominate: lookups by id (`WHERE Id IN (...)`) and incremental windows
(`WHERE SystemModstamp > <watermark> ORDER BY SystemModstamp LIMIT n`). Ids use the record dict
itself; audit datetimes (SystemModstamp, LastModifiedDate, CreatedDate) use a sorted
`(value, id)` list rebuilt lazily after writes. Rows come out in index order, so an ORDER BY on the
indexed field needs no sort and a LIMIT can stop the scan early. Results are the same as a scan.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sandbox.salesforce.predicates import Record
from sandbox.salesforce.soql import Hint, SoqlQuery

INDEXED = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


class StampIndexes:
    """Sorted (value, id) lists per (sObject, audit field), built on first use and then kept in
    step by `moved`/`added`; anything unexpected drops the list so the next query rebuilds it."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, str], list[tuple[datetime, str]]] = {}

    def sorted_keys(
        self, sobject: str, name: str, rows: dict[str, Record]
    ) -> list[tuple[datetime, str]]:
        keys = self._lists.get((sobject, name))
        if keys is None:
            keys = sorted((r[name], r["Id"]) for r in rows.values())
            self._lists[(sobject, name)] = keys
        return keys

    def moved(self, sobject: str, name: str, record_id: str, old: Any, new: Any) -> None:
        keys = self._lists.get((sobject, name))
        if keys is None or old == new:
            return
        position = bisect.bisect_left(keys, (old, record_id)) if old is not None else -1
        if 0 <= position < len(keys) and keys[position] == (old, record_id):
            del keys[position]
            bisect.insort(keys, (new, record_id))
        else:
            del self._lists[(sobject, name)]

    def added(self, sobject: str, record: Record) -> None:
        for (kind, name), keys in list(self._lists.items()):
            if kind == sobject:
                bisect.insort(keys, (record[name], record["Id"]))

    def clear(self) -> None:
        self._lists.clear()


def _range(keys: list[tuple[datetime, str]], hint: Hint) -> tuple[int, int]:
    value = hint.values[0]
    low, high = 0, len(keys)
    lo_probe, hi_probe = (value, ""), (value, "\uffff")
    if hint.op == ">":
        low = bisect.bisect_right(keys, hi_probe)
    elif hint.op == ">=":
        low = bisect.bisect_left(keys, lo_probe)
    elif hint.op == "<":
        high = bisect.bisect_left(keys, lo_probe)
    elif hint.op == "<=":
        high = bisect.bisect_right(keys, hi_probe)
    else:  # "="
        low, high = bisect.bisect_left(keys, lo_probe), bisect.bisect_right(keys, hi_probe)
    return low, high


def candidates(
    query: SoqlQuery, rows: dict[str, Record], indexes: StampIndexes
) -> tuple[Iterable[Record], bool]:
    """(rows that may match, whether they already come in the query's ORDER BY order)."""
    for hint in query.hints:
        if hint.kind == "ids":
            picked = {str(v): rows[v] for v in hint.values if isinstance(v, str) and v in rows}
            return list(picked.values()), not query.order
    order_field = _index_order(query.order)
    descending = bool(query.order and query.order[0][1])
    ranged = [h for h in query.hints if h.kind == "range" and h.field in INDEXED]
    field = ranged[0].field if ranged else order_field if order_field in INDEXED else None
    if field is None:
        return rows.values(), not query.order
    keys = indexes.sorted_keys(query.sobject, field, rows)
    low, high = 0, len(keys)
    for hint in ranged:
        if hint.field == field:
            h_low, h_high = _range(keys, hint)
            low, high = max(low, h_low), min(high, h_high)
    in_order = order_field == field or not query.order
    window = range(high - 1, low - 1, -1) if in_order and descending else range(low, high)
    return _records(keys, window, rows), in_order


def _index_order(order: list[tuple[str, bool, bool]]) -> str | None:
    """The field whose (value, Id) index order equals this ORDER BY, if any."""
    if len(order) == 1:
        return order[0][0]
    if len(order) == 2 and order[1][0] == "Id" and order[1][1] == order[0][1]:
        return order[0][0]
    return None


def _records(
    keys: list[tuple[datetime, str]], window: range, rows: dict[str, Record]
) -> Iterator[Record]:
    for position in window:
        yield rows[keys[position][1]]
