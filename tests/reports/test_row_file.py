"""A report's row texts in a scratch file (sync/report/row_file.py): read back whole and in
order, any number of times, whatever the block boundaries cut (a character of several bytes,
a line); the file leaves no name behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.report import row_file
from sync.report.row_file import RowFile


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 20])
def test_lines_and_pieces_read_back_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(row_file, "BLOCK", block)
    lines = [f'{{"name": "Zoë Müller {i}",\t"id": {i}}}' for i in range(50)]
    kept = RowFile(str(tmp_path))
    kept.append_lines(lines[:20])
    kept.append_lines([])
    kept.append_lines(lines[20:])
    assert list(kept.lines()) == lines
    assert list(kept.lines()) == lines  # again: reads never move a shared offset
    assert "".join(kept.pieces()) == "\n".join(lines) + "\n"
    assert os.listdir(tmp_path) == []  # unlinked once open
    kept.close()


def test_a_directory_that_cannot_take_it_is_one_clear_error(tmp_path: Path) -> None:
    from sync.ledger import LedgerUnwritable

    with pytest.raises(LedgerUnwritable, match="cannot be written"):
        RowFile(str(tmp_path / "missing"))


def _open_row_files() -> int:
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if "handoff-rows-" in _target(fd))


def _target(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_a_reports_row_files_close_when_the_report_is_dropped(tmp_path: Path) -> None:
    """A worker builds a report every run: its scratch files go with the report, not the
    process (`handoff run` would otherwise hold two more descriptors and their disk per run)."""
    from sync.report.rows import HEAD, built_rows

    before = _open_row_files()
    rows = ({"record": str(i), "status": "applied"} for i in range(HEAD + 10))
    kept = built_rows(str(tmp_path), rows, lambda row: [row["record"], row["status"]])
    assert len(list(kept.tail())) == 10 and "".join(kept.tail_csv() or []).count("\n") == 10
    assert _open_row_files() == before + 2
    del kept
    assert _open_row_files() == before


@pytest.mark.parametrize(("gap", "span"), [(0, 1 << 20), (64, 1 << 20), (1 << 16, 200), (1, 1)])
def test_made_rows_read_in_runs_are_each_their_own_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gap: int, span: int
) -> None:
    """A page of made rows asks for pieces scattered over the file, in any order (the report's
    order is not the order they were written in): read a run of nearby pieces at a time, each
    comes back as its own text, in the order asked, whatever the runs' limits cut."""
    import random

    from sync.report import early_rows

    monkeypatch.setattr(early_rows, "GAP", gap)
    monkeypatch.setattr(early_rows, "SPAN", span)
    kept = RowFile(str(tmp_path))
    spans: list[tuple[int, int]] = []
    texts: list[str] = []
    for i in range(300):
        text = f'{{"row": {i}, "name": "Zoë {i}"}}' + " " * (i % 7) * 40  # gaps of any size
        data = text.encode("utf-8")
        spans.append((kept.size, len(data)))
        texts.append(text)
        kept.append_bytes(data + b"-" * (i % 5) * 30000)  # some rows far from the next
    asked = [*random.Random(7).sample(range(300), 120), 5, 5]  # and one asked twice
    got = early_rows._pieces(kept, [spans[i] for i in asked], "utf-8")
    assert got == [texts[i] for i in asked]
    kept.close()
