"""Indexes that let the org answer the queries a sync connector sends without scanning every row.

Three shapes dominate: lookups by id (`WHERE Id IN (...)`), by lookup field (`WHERE WhoId IN
(...)`, `LeadId = x`: a person's activities and campaign responses) and incremental windows
(`WHERE SystemModstamp > <watermark> ORDER BY SystemModstamp LIMIT n`). Ids use the record dict
itself; lookup fields a value -> ids map, as Salesforce indexes its lookup fields, built on first
use, kept in step by inserts and dropped for an sObject whenever one of its records changes
(every change is stamped: `touch`); audit datetimes (SystemModstamp, LastModifiedDate,
CreatedDate) use a sorted `(value, id)` list rebuilt lazily after writes. Rows come out in index
order, so an ORDER BY on the indexed field needs no sort and a LIMIT can stop the scan early.
Results are the same as a scan: the query's own filter still runs on what an index gives.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sandbox.salesforce.predicates import Record, sort_key
from sandbox.salesforce.soql import Hint, SoqlQuery

INDEXED = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


class StampIndexes:
    """Sorted (value, id) lists per (sObject, audit field), built on first use and then kept in
    step by `moved`/`added`; anything unexpected drops the list so the next query rebuilds it."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        # (sObject, lookup field) -> the field's value (its sort key) -> ids holding it
        self._refs: dict[tuple[str, str], dict[Any, list[str]]] = {}

    def referring(
        self, sobject: str, name: str, rows: dict[str, Record], values: Iterable[Any]
    ) -> list[Record]:
        """The rows whose lookup field `name` holds one of `values`: for one value in the order
        a scan meets them, for several grouped by value."""
        index = self._refs.get((sobject, name))
        if index is None:
            index = {}
            for record_id, record in rows.items():
                index.setdefault(sort_key(record.get(name)), []).append(record_id)
            self._refs[(sobject, name)] = index
        keys = dict.fromkeys(sort_key(v) for v in values if v is not None)
        found = dict.fromkeys(i for key in keys for i in index.get(key, ()))
        return [rows[i] for i in found if i in rows]

    def changed(self, sobject: str) -> None:
        """A record of this sObject changed: its lookup indexes are rebuilt on next use."""
        for key in [k for k in self._refs if k[0] == sobject]:
            del self._refs[key]

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
        for (kind, name), index in self._refs.items():
            if kind == sobject:
                index.setdefault(sort_key(record.get(name)), []).append(record["Id"])

    def clear(self) -> None:
        self._lists.clear()
        self._refs.clear()


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
    for hint in query.hints:
        if hint.kind == "refs":
            found = indexes.referring(query.sobject, hint.field, rows, hint.values)
            if len(hint.values) > 1 and not query.order:  # several values: in a scan's order
                wanted = {id(r) for r in found}
                return [r for r in rows.values() if id(r) in wanted], True
            return found, not query.order
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
