"""The report's change rows, streamed: the model holds the first rows (what a page shows), the
rest are read from where they live (the run's ledger, or the store's saved parts) each time the
JSON or CSV is written. A plain list works wherever these do (a report read from its file).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any, overload

from config.secrets import redact_deep

HEAD = 500  # rows held in the model: the HTML page's table (sync.report.page.HTML_ROWS)
PAGE = 1000  # rows per read and write of the ledger

Row = dict[str, Any]


class StreamedRows:
    """A sequence of report rows: `head` in memory, `tail()` read on demand (rows as built:
    redacted once, when they were made)."""

    def __init__(self, head: list[Row], total: int, tail: Callable[[], Iterator[Row]]) -> None:
        self.head = head
        self.total = total
        self._tail = tail

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def tail(self) -> Iterator[Row]:
        """The rows after the head."""
        return self._tail()

    def __iter__(self) -> Iterator[Row]:
        yield from self.head
        yield from self.tail()

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.total)
            if stop <= len(self.head) and step == 1:
                return self.head[start:stop]
            return list(self)[index]
        if 0 <= index < len(self.head):
            return self.head[index]
        return list(self)[index]

    def __deepcopy__(self, memo: dict[int, Any]) -> StreamedRows:
        return StreamedRows(copy.deepcopy(self.head, memo), self.total, self._tail)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StreamedRows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self.total} report rows, {len(self.head)} held>"


def built_rows(ledger: Any, name: str, rows: Iterator[Row]) -> StreamedRows:
    """Report rows made once (redacted), kept: the first HEAD in memory, every one after it in
    the ledger as compact JSON (the `report_rows` table), read back a page at a time."""
    ledger.record("DELETE FROM report_rows WHERE list = ?", [(name,)])
    head: list[Row] = []
    page: list[tuple[str, int, str]] = []
    total = 0
    for row in rows:
        row = redact_deep(row)
        if total < HEAD:
            head.append(row)
        else:
            page.append((name, total, json.dumps(row, sort_keys=True)))
            if len(page) >= PAGE:
                ledger.record("INSERT INTO report_rows VALUES (?, ?, ?)", page)
                page = []
        total += 1
    if page:
        ledger.record("INSERT INTO report_rows VALUES (?, ?, ?)", page)

    def tail() -> Iterator[Row]:
        after = HEAD - 1
        while True:
            found = ledger.query(
                f"SELECT seq, row FROM report_rows WHERE list = ? AND seq > ? ORDER BY seq "
                f"LIMIT {PAGE}",
                (name, after),
            )
            for _, text in found:
                yield json.loads(text)
            if len(found) < PAGE:
                return
            after = found[-1][0]

    return StreamedRows(head, total, tail)
