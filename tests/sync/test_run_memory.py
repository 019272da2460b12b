"""A run keeps no row per change in memory: its planned changes and write outcomes go to its
ledger on disk as they happen, and the report streams its change rows from there.

Two sandbox syncs (the real HubSpot client against the emulator over HTTPS), one of N contacts and
one of 4N: the run object retains as many bytes at 4N as at N, though it planned and wrote four
times as many changes (measured by walking what the RunResult references, not by timing)."""

from __future__ import annotations

import gc
import math
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from sync.ledger import LedgerView, RunLedger
from sync.pipeline import RunResult
from sync.report import files
from sync.report.build import build_report
from sync.report.render import to_csv, to_json
from sync.report.rows import HEAD, StreamedRows
from sync.store.tables import RunReportRows
from tests.faults.fault_stack import drill

SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, RunLedger)


def retained_bytes(root: object, *, leave_out: tuple[str, ...] = ()) -> int:
    """Bytes of every object reachable from `root` (not types, modules, functions, the ledger)."""
    seen: set[int] = set()
    stack: list[Any] = [getattr(root, "__dict__", {})]
    seen.add(id(root))
    for name in leave_out:
        seen.add(id(getattr(root, name)))
    total = sys.getsizeof(root)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _sync(tmp_path: Path, store_url: str, contacts: int) -> tuple[RunResult, int, int]:
    with drill(tmp_path, store_url, contacts=contacts) as d:
        pipeline = d.pipeline()
        result = pipeline.run()
        assert not result.errors, result.errors
        with Session(pipeline.engine) as session:
            report = build_report(result, session, pipeline.config, pipeline.sla)
        rows = report["reconciliation"]
        assert isinstance(rows, StreamedRows) and len(rows.head) == min(HEAD, len(rows))
        csv_rows = len(to_csv(report).splitlines()) - 1
        return result, len(rows), csv_rows


def test_the_run_retains_nothing_per_change(tmp_path: Path) -> None:
    small, small_rows, small_csv = _sync(tmp_path / "n", f"sqlite:///{tmp_path / 'n.db'}", 100)
    large, large_rows, large_csv = _sync(tmp_path / "4n", f"sqlite:///{tmp_path / '4n.db'}", 400)
    for result, rows, csv_rows in ((small, small_rows, small_csv), (large, large_rows, large_csv)):
        assert isinstance(result.planned, LedgerView)
        assert isinstance(result.writes.items, LedgerView)
        assert csv_rows == rows >= len(result.writes.items) > 0  # every row, read from disk
    assert len(large.writes.items) >= 3 * len(small.writes.items)  # four times the work ...
    # The pull's key sets (who changed) are left out: person keys only, a known remaining cost.
    # What may grow is bounded by the domain, not N: score counts (0-100), stages, reps. A row
    # kept per change would add over 100 KB here (1,200 more changes), one per person 15 KB.
    sizes = [retained_bytes(r, leave_out=("pulls",)) for r in (small, large)]
    assert sizes[1] - sizes[0] < 10_000, sizes  # ... the same memory


def test_a_saved_report_reads_back_whole_a_part_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than the model holds: the store keeps the rest in parts, and the report read
    back from it renders to the same JSON and CSV as the run's own."""
    monkeypatch.setattr(files, "PART_ROWS", 40)
    with drill(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", contacts=200) as d:
        pipeline = d.pipeline()
        result = pipeline.run()
        with Session(pipeline.engine) as session:
            report = build_report(result, session, pipeline.config, pipeline.sla)
        assert len(report["reconciliation"]) > HEAD
        files.save_report(pipeline.engine, report)
        with Session(pipeline.engine) as session:
            parts = session.exec(
                select(RunReportRows.part).where(RunReportRows.list == "reconciliation")
            ).all()
        assert len(parts) == math.ceil((len(report["reconciliation"]) - HEAD) / 40)
        saved = files.stored_report(pipeline.engine, result.run_id)
        assert saved is not None
        assert to_json(saved) == to_json(report)
        assert to_csv(saved) == to_csv(report)
