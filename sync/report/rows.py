"""The report's change rows, streamed: the model holds the first rows (what a page shows), the
rest are read from where they live (the run's ledger, or the store's saved parts) each time the
JSON or CSV is written. A plain list works wherever these do (a report read from its file).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any, overload

from config.secrets import SECRETS, redact_deep

HEAD = 500  # rows held in the model: the HTML page's table (sync.report.page.HTML_ROWS)
PAGE = 1000  # rows per read and write of the ledger

Row = dict[str, Any]


_FLAT = frozenset({str, int, float, bool, type(None)})
_FLAT_SEPARATORS = (",\n  ", ": ")


def row_text(row: Row) -> str:
    """A row as `json.dumps(row, indent=2, sort_keys=True)` writes it. A flat row (every value
    a scalar: nearly all) by the C encoder, whose item separator carries the line break and
    indent (the indenting encoder is pure Python). Line breaks in the text are all layout:
    JSON escapes the ones inside strings, so the text indents deeper by one `replace`."""
    if not row:
        return "{}"
    if set(map(type, row.values())) <= _FLAT and all(type(k) is str for k in row):
        return "{\n  " + json.dumps(row, sort_keys=True, separators=_FLAT_SEPARATORS)[1:-1] + "\n}"
    return json.dumps(row, indent=2, sort_keys=True)


def redacted_texts(rows: list[Row]) -> list[tuple[Row, str]]:
    """Each row with its text (`row_text`), every configured secret value redacted. One
    search of the page's text finds whether any row holds a secret (JSON escapes a string
    character by character, and each secret is registered in its JSON-escaped spelling): only
    the rows that do are redacted and written again."""
    texts = [row_text(row) for row in rows]
    if not SECRETS.active or not SECRETS.found_in("\n".join(texts)):
        return list(zip(rows, texts, strict=True))
    out = []
    for row, text in zip(rows, texts, strict=True):
        if SECRETS.found_in(text):
            row = redact_deep(row)
            text = row_text(row)
        out.append((row, text))
    return out


class StreamedRows:
    """A sequence of report rows: `head` in memory, `tail()` read on demand (rows as built:
    redacted once, when they were made). `tail_texts`, when given, reads the same rows as
    `row_text` wrote them (report.json and the store's parts take them as they are)."""

    def __init__(
        self,
        head: list[Row],
        total: int,
        tail: Callable[[], Iterator[Row]],
        tail_texts: Callable[[], Iterator[str]] | None = None,
    ) -> None:
        self.head = head
        self.total = total
        self._tail = tail
        self._tail_texts = tail_texts

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def tail(self) -> Iterator[Row]:
        """The rows after the head."""
        return self._tail()

    def tail_texts(self) -> Iterator[str]:
        """The rows after the head as `row_text` writes them."""
        if self._tail_texts is not None:
            return self._tail_texts()
        return (row_text(row) for row in self._tail())

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
        return StreamedRows(
            copy.deepcopy(self.head, memo), self.total, self._tail, self._tail_texts
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StreamedRows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self.total} report rows, {len(self.head)} held>"


def built_rows(ledger: Any, name: str, rows: Iterator[Row]) -> StreamedRows:
    """Report rows made once (redacted), kept: the first HEAD in memory, every one after it in
    the ledger as its text (`row_text`, the `report_rows` table), read back a page at a time."""
    ledger.record("DELETE FROM report_rows WHERE list = ?", [(name,)])
    head: list[Row] = []
    total = 0
    page: list[Row] = []

    def keep(page: list[Row]) -> None:
        nonlocal total
        kept = []
        for row, text in redacted_texts(page):
            if total < HEAD:
                head.append(row)
            else:
                kept.append((name, total, text))
            total += 1
        if kept:
            ledger.record("INSERT INTO report_rows VALUES (?, ?, ?)", kept)

    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            keep(page)
            page = []
    keep(page)

    def texts() -> Iterator[str]:
        after = HEAD - 1
        while True:
            found = ledger.query(
                f"SELECT seq, row FROM report_rows WHERE list = ? AND seq > ? ORDER BY seq "
                f"LIMIT {PAGE}",
                (name, after),
            )
            for _, text in found:
                yield text
            if len(found) < PAGE:
                return
            after = found[-1][0]

    def tail() -> Iterator[Row]:
        return map(json.loads, texts())

    return StreamedRows(head, total, tail, texts)
