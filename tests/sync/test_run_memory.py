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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from sync.feed import PullFeed
from sync.ledger import LedgerView, RunLedger
from sync.passes import DecisionPasses
from sync.pipeline import RunResult
from sync.report import files
from sync.report.build import build_report
from sync.report.render import to_csv, to_json
from sync.report.rows import HEAD, StreamedRows
from sync.store.tables import RunReportRows
from tests.faults.fault_stack import drill

SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, RunLedger)
# hubspot-api-client keeps each API's last response: one page, as large at 4N as at N once
# pages are full (their sizes are the endpoints' maxima, not N); connection pools and worker
# threads vary with timing (how many sockets were open at once), not with N
SKIP_NAMES = frozenset(
    {"RESTResponse", "HTTPResponse", "HTTPSConnectionPool", "PoolManager", "ThreadPoolExecutor"}
)


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
        if id(obj) in seen or isinstance(obj, SKIP) or type(obj).__name__ in SKIP_NAMES:
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
    # What may grow is bounded by the domain, not N: score counts (0-100), stages, reps. A row
    # kept per change would add over 100 KB here (1,200 more changes), one per person 15 KB.
    sizes = [retained_bytes(r) for r in (small, large)]
    assert sizes[1] - sizes[0] < 10_000, sizes  # ... the same memory


def _held_by_the_run(
    tmp_path: Path, store_url: str, contacts: int, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """Bytes the run's working objects hold once the pull is over (before the routing pass:
    the most they hold): its decide stage, who it handed on and deferred, its pull feed and
    the connector with its per-run caches."""
    sizes: dict[str, int] = {}
    after_pull = DecisionPasses.after_pull
    ready = PullFeed.ready

    def measured_ready(feed: PullFeed, size: int, *args: Any, **kwargs: Any) -> Iterator[list[str]]:
        yield from ready(feed, size, *args, **kwargs)
        sizes["feed"] = retained_bytes(feed, leave_out=("engine", "connectors", "stopping"))

    def measured(passes: DecisionPasses, *args: Any, **kwargs: Any) -> None:
        shared = ("session", "config", "mode", "result", "progress", "engines")
        sizes["stage"] = retained_bytes(passes.stage, leave_out=("session", "config", "engines"))
        sizes["passes"] = retained_bytes(passes, leave_out=(*shared, "stage", "planner"))
        after_pull(passes, *args, **kwargs)

    monkeypatch.setattr(DecisionPasses, "after_pull", measured)
    monkeypatch.setattr(PullFeed, "ready", measured_ready)
    with drill(tmp_path, store_url, contacts=contacts) as d:
        pipeline = d.pipeline()
        result = pipeline.run()
        assert not result.errors, result.errors
        (connector,) = pipeline.connectors.values()
        sizes["connector"] = retained_bytes(connector)
        sizes["deferred"] = result.tally.routed.total()
    return sizes


def test_the_runs_working_objects_hold_nothing_per_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who was handed on, who waits for routing with their score and touches, the portal's
    companies and form submissions: on disk, so the decide stage, the pull feed and the
    connector hold as much after a pull of 4N contacts as after one of N."""
    small = _held_by_the_run(tmp_path / "n", f"sqlite:///{tmp_path / 'n.db'}", 100, monkeypatch)
    large = _held_by_the_run(tmp_path / "4n", f"sqlite:///{tmp_path / '4n.db'}", 400, monkeypatch)
    assert large["deferred"] > small["deferred"] > 0  # people waited for the routing pass
    # one row kept per person would add over 30 KB here (300 more people), per company 20 KB
    for part in ("stage", "passes", "feed", "connector"):
        assert large[part] - small[part] < 15_000, (part, small, large)


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
