"""A run's report rows made as its writes land, while the pull still runs.

After a full sync over 1,000,000 contacts the report has about 5,000,000 change rows; made at the
run's end, one at a time (a dict, its JSON text, its CSV line), they took two minutes after the
last write, with the worker's other core idle. Almost all of them are written changes whose
row is settled the moment the write's outcome is recorded: the change, what the CRM answered,
and who the record is (the decide stage names each record as it decides it). The run's ledger
hands each page of outcomes here (`RunLedger.early`); each row's JSON text (one line, as
`sync/report/rows.py` keeps it) and report.csv line go to scratch files, and the ledger's row
of the change keeps where (offsets, lengths) and the lifecycle move the report counts. At the
report, those
rows are read back in the report's order instead of made again; the others (planned and not
written, records the run did not decide) are made then, as before. The same `change_row`
makes both: the report is the same either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from sync.report.change_row import RecordLinks, change_row
from sync.report.row_file import RowFile
from sync.report.rows import redacted_texts

SPAN = 8 << 20  # bytes read at once for a page of rows near each other in the file
GAP = 64 << 10  # rows this far apart (bytes between them) are read apart

Span = tuple[int, int, int, int]  # where a made row is: text offset, length, CSV offset, length


def stage_move(row: dict[str, Any]) -> str | None:
    """A lifecycle row's move as the report counts it (`(none)->mql`); None for other fields."""
    if row["field"] != "lifecycle_stage":
        return None
    return f"{row['crm_value'] or '(none)'}->{row['handoff_value']}"


def _byte_lengths(text: str, lengths: list[int]) -> tuple[bytes, list[int]]:
    """`text` (pieces of these character lengths) as UTF-8, with each piece's byte length."""
    data = text.encode("utf-8")
    if len(data) == len(text):  # ASCII: a character a byte
        return data, lengths
    out, at = [], 0
    for n in lengths:
        out.append(len(text[at : at + n].encode("utf-8")))
        at += n
    return data, out


class EarlyRows:
    """Makes report rows into scratch files and reads them back (`read`), from any thread."""

    def __init__(
        self,
        directory: str | None,
        links: RecordLinks,
        csv_values: Callable[[dict[str, Any]], list[Any]],
    ) -> None:
        self.texts = RowFile(directory)
        self.lines = RowFile(directory)
        self.links = links
        self.csv_values = csv_values
        self.made = 0

    def __call__(self, changes: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Make these changes' rows (each the ledger's `_ROW` columns up to company): for each,
        its key, text offset and length, CSV offset and length, and lifecycle move."""
        rows = redacted_texts([change_row(change, self.links) for change in changes])
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        widths = [writer.writerow(self.csv_values(row)) for row, _ in rows]
        lines, line_lengths = _byte_lengths(buffer.getvalue(), widths)
        texts = [text for _, text in rows]  # ASCII: JSON escapes the rest; "\n" -> "\t" in place
        text_at, line_at = self.texts.size, self.lines.size
        made: list[tuple[Any, ...]] = []
        for change, (row, text), line_length in zip(changes, rows, line_lengths, strict=True):
            made.append((change[3], text_at, len(text), line_at, line_length, stage_move(row)))
            text_at += len(text)
            line_at += line_length
        self.texts.append_bytes("".join(texts).replace("\n", "\t").encode("ascii"))
        self.lines.append_bytes(lines)
        self.made += len(made)
        return made

    def read(self, spans: Sequence[Span]) -> list[tuple[str, str]]:
        """Made rows' JSON texts (their layout's line breaks as tabs) and report.csv lines."""
        texts = _pieces(self.texts, [(at, n) for at, n, _, _ in spans], "ascii")
        lines = _pieces(self.lines, [(at, n) for _, _, at, n in spans], "utf-8")
        return list(zip(texts, lines, strict=True))

    def close(self) -> None:
        self.texts.close()
        self.lines.close()


def _pieces(file: RowFile, spans: list[tuple[int, int]], encoding: str) -> list[str]:
    """The pieces of `file` at these spans, read a run of nearby spans at a time: a page of
    the report's rows (sorted by record id as text) is a few runs of rows written together
    (ids of one length sort together: 100100..100299 were written in one chunk, 1001000.. in
    another), not one run; read one by one they were 5,000,000 reads at 1,000,000 contacts."""
    if not spans:
        return []
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    out: list[str] = [""] * len(spans)
    start = 0
    while start < len(order):
        low, size = spans[order[start]]
        high = low + size
        end = start + 1
        while end < len(order):
            at, size = spans[order[end]]
            if at - high > GAP or at + size - low > SPAN:
                break
            high = max(high, at + size)
            end += 1
        block = file.read(low, high - low)
        for i in order[start:end]:
            at, size = spans[i]
            out[i] = block[at - low : at - low + size].decode(encoding)
        start = end
    return out
