"""The report's change rows, streamed: the model holds the first rows (what a page shows), the
rest are read from where they live (a scratch file of the run, or the store's saved parts) each
time the JSON or CSV is written. A plain list works wherever these do (a report read from its file).
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Callable, Iterator
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, overload

from config.secrets import SECRETS, redact_deep
from sync.report.row_file import RowFile

HEAD = 500  # rows held in the model: the HTML page's table (sync.report.page.HTML_ROWS)
PAGE = 1000  # rows made, redacted and written at a time

Row = dict[str, Any]


_FLAT = frozenset({str, int, float, bool, type(None)})
_FLAT_SEPARATORS = (",\n  ", ": ")
# the C encoder json.dumps would make for these arguments, made once (it is per call there)
_flat_encoder = (
    c_make_encoder(
        None, None, encode_basestring_ascii, None, ": ", _FLAT_SEPARATORS[0], True, False, True
    )
    if c_make_encoder is not None
    else None
)


def _flat_text(row: Row) -> str:
    if _flat_encoder is not None:
        return "".join(_flat_encoder(row, 0))
    return json.dumps(row, sort_keys=True, separators=_FLAT_SEPARATORS)


def row_text(row: Row) -> str:
    """A row as `json.dumps(row, indent=2, sort_keys=True)` writes it. A flat row (every value
    a scalar: nearly all) by the C encoder, whose item separator carries the line break and
    indent (the indenting encoder is pure Python). Line breaks in the text are all layout:
    JSON escapes the ones inside strings, so the text indents deeper by one `replace`."""
    if not row:
        return "{}"
    if set(map(type, row.values())) <= _FLAT:  # keys of any type: both encoders make them text
        return "{\n  " + _flat_text(row)[1:-1] + "\n}"
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
    `row_text` wrote them, each line break of their layout as `newline` (report.json and the
    store's parts take them as they are); `tail_csv`, when given, their report.csv lines."""

    def __init__(
        self,
        head: list[Row],
        total: int,
        tail: Callable[[], Iterator[Row]],
        tail_texts: Callable[[str], Iterator[str]] | None = None,
        tail_csv: Callable[[], Iterator[str]] | None = None,
    ) -> None:
        self.head = head
        self.total = total
        self._tail = tail
        self._tail_texts = tail_texts
        self._tail_csv = tail_csv

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def tail(self) -> Iterator[Row]:
        """The rows after the head."""
        return self._tail()

    def tail_texts(self, newline: str = "\n") -> Iterator[str]:
        """The rows after the head as `row_text` writes them (its line breaks as `newline`)."""
        if self._tail_texts is not None:
            return self._tail_texts(newline)
        if newline == "\n":
            return (row_text(row) for row in self._tail())
        return (row_text(row).replace("\n", newline) for row in self._tail())

    def tail_csv(self) -> Iterator[str] | None:
        """The rows after the head as report.csv's lines, in pieces (None: not kept so)."""
        return self._tail_csv() if self._tail_csv is not None else None

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
            copy.deepcopy(self.head, memo),
            self.total,
            self._tail,
            self._tail_texts,
            self._tail_csv,
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StreamedRows | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{self.total} report rows, {len(self.head)} held>"


Made = tuple[str, str]  # a row made before (sync/report/early_rows.py): its line, its CSV line


def built_rows(
    directory: str | None,
    rows: Iterator[Row | Made],
    csv_values: Callable[[Row], list[Any]] | None = None,
) -> StreamedRows:
    """Report rows made once (redacted), kept: the first HEAD in memory, every one after it as
    its text (`row_text`, one line each: JSON text holds no tab, so its layout's line breaks are
    kept as tabs) in a scratch file in `directory`, and with `csv_values` its report.csv line
    in another (sync/report/row_file.py). A row made before comes as that line and CSV line."""
    texts = RowFile(directory)
    lines = RowFile(directory) if csv_values is not None else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    head: list[Row] = []
    total = 0

    def keep(page: list[Row | Made]) -> None:
        nonlocal total
        kept = []
        fresh = iter(redacted_texts([row for row in page if isinstance(row, dict)]))
        for item in page:
            row: Row | None
            if isinstance(item, dict):
                row, text = next(fresh)
                line, csv_line = text.replace("\n", "\t"), None
            else:
                line, csv_line = item
                row = json.loads(line) if total < HEAD else None
            if row is not None and total < HEAD:
                head.append(row)
            else:
                kept.append(line)
                if csv_values is not None:
                    if csv_line is not None:
                        buffer.write(csv_line)
                    elif row is not None:
                        writer.writerow(csv_values(row))
            total += 1
        texts.append_lines(kept)
        if lines is not None and buffer.tell():
            lines.append(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()

    page: list[Row | Made] = []
    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            keep(page)
            page = []
    keep(page)

    def tail_texts(newline: str) -> Iterator[str]:
        return (line.replace("\t", newline) for line in texts.lines())

    def tail() -> Iterator[Row]:
        return (json.loads(line) for line in texts.lines())  # tabs are JSON whitespace

    return StreamedRows(head, total, tail, tail_texts, lines.pieces if lines else None)
