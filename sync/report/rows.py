"""The report's change rows, streamed: the model holds the first rows (what a page shows), the
rest are read from where they live (the run's ledger, or the store's saved parts) each time the
JSON or CSV is written. A plain list works wherever these do (a report read from its file).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, overload

from config.secrets import redact_deep

HEAD = 500  # rows held in the model: the HTML page's table (sync.report.page.HTML_ROWS)

Row = dict[str, Any]


class StreamedRows:
    """A sequence of report rows: `head` in memory, `tail()` read on demand; every row is
    redacted as it is read."""

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
        for row in self._tail():
            yield redact_deep(row)

    def __iter__(self) -> Iterator[Row]:
        for row in self.head:
            yield redact_deep(row)
        yield from self.tail()

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.total)
            if stop <= len(self.head) and step == 1:
                return [redact_deep(r) for r in self.head[start:stop]]
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
