"""A run's report rows made as its writes land, while the pull still runs.

After a full sync over 1,000,000 contacts the report has about 5,000,000 change rows; made at the
run's end, one at a time (a dict, its JSON text, its CSV line), they took two minutes after the
last write, with the worker's other core idle. Almost all of them are written changes whose
row is settled the moment the write's outcome is recorded: the change, what the CRM answered,
and who the record is (the decide stage names each record as it decides it). The run's ledger
hands each page of outcomes here (`RunLedger.early`); each row's JSON text (one line, as
`sync/report/rows.py` keeps it) and report.csv line go to a scratch file, and the ledger keeps
where (`made`: offset, lengths, and the lifecycle move the report counts). At the report, those
rows are read back in the report's order instead of made again; the others (planned and not
written, records the run did not decide) are made then, as before. The same `change_row`
makes both: the report is the same either way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from sync.report.change_row import RecordLinks, change_row
from sync.report.row_file import RowFile
from sync.report.rows import redacted_texts

Made = tuple[int, int, int]  # where a made row is: offset, text bytes, CSV line bytes


def stage_move(row: dict[str, Any]) -> str | None:
    """A lifecycle row's move as the report counts it (`(none)->mql`); None for other fields."""
    if row["field"] != "lifecycle_stage":
        return None
    return f"{row['crm_value'] or '(none)'}->{row['handoff_value']}"


class EarlyRows:
    """Makes report rows into a scratch file and reads them back (`read`), from any thread."""

    def __init__(
        self,
        directory: str | None,
        links: RecordLinks,
        csv_values: Callable[[dict[str, Any]], list[Any]],
    ) -> None:
        self.file = RowFile(directory)
        self.links = links
        self.csv_values = csv_values
        self.made = 0

    def __call__(self, changes: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Make these changes' rows (each the ledger's `_ROW` columns up to company): the
        ledger's `made` rows (key, offset, text bytes, CSV bytes, move) for them."""
        rows = [change_row(change, self.links) for change in changes]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        pieces: list[bytes] = []
        made: list[tuple[Any, ...]] = []
        at = self.file.size
        for change, (row, text) in zip(changes, redacted_texts(rows), strict=True):
            writer.writerow(self.csv_values(row))
            line = buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            data = text.replace("\n", "\t").encode("ascii")  # JSON text escapes all non-ASCII
            pieces += (data, line)
            made.append((change[3], at, len(data), len(line), stage_move(row)))
            at += len(data) + len(line)
        self.file.append_bytes(b"".join(pieces))
        self.made += len(made)
        return made

    def read(self, at: int, text_len: int, csv_len: int) -> tuple[str, str]:
        """A made row's JSON text (its layout's line breaks as tabs) and its report.csv line."""
        data = self.file.read(at, text_len + csv_len)
        return data[:text_len].decode("ascii"), data[text_len:].decode("utf-8")

    def close(self) -> None:
        self.file.close()
