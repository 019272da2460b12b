"""The full sync's report tail: what turning a run's changes into its report takes, per change.

After a full sync over 1,000,000 contacts the run's ledger holds about 5,000,000 changes; the
report makes one row of each (sorted, with who the record is), keeps them in the store's parts
and writes report.json and report.csv. This records N changes in a ledger the way a run does,
names their records, then runs the real steps (sync/report: rows, the store's copy, the files)
and prints each step's wall and CPU seconds (user + system of this process, its threads too).
With `--early`, the rows of written changes are made as their outcomes are recorded (as a run
makes them, sync/report/early_rows.py): that step's seconds are spent during the run, and the
report's total is the steps after it.

    .venv/bin/python bench/report_tail.py [--changes 500000] [--rounds 1] [--early]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run_ledger import changes as planned_changes
from run_ledger import cpu

from sync.ledger import RunLedger
from sync.planned_change import PlannedChange
from sync.report.build import SCHEMA, RecordLinks, _rows
from sync.report.early_rows import EarlyRows
from sync.report.files import save_report, stored_report
from sync.report.render import csv_values, write_reports
from sync.store.engine import make_engine
from sync.store.schema import upgrade

CHUNK = 500  # changes a decide chunk plans at once


class _Result:
    """What `_rows` reads of a run's result: its ledger."""

    def __init__(self, ledger: RunLedger) -> None:
        self.ledger = ledger


class _Links(RecordLinks):
    def __init__(self) -> None:
        self.hubspot = {"hubspot": 4242}
        self.salesforce = {}


def _round(
    changes: list[PlannedChange], directory: Path, early: bool
) -> dict[str, dict[str, float]]:
    """One round; with `early` the rows of written changes are made as their outcomes are
    recorded (the records named first, as the decide stage names them), as a run makes them."""
    ledger = RunLedger()
    spent: dict[str, dict[str, float]] = {}
    report: dict[str, Any] = {}

    def step(name: str, work: Callable[[], object]) -> None:
        wall, spent_cpu = time.perf_counter(), cpu()
        work()
        spent[name] = {
            "wall": round(time.perf_counter() - wall, 2),
            "cpu": round(cpu() - spent_cpu, 2),
        }

    ids = sorted({c.record_id for c in changes})
    ledger.name([("hubspot", i, f"p{i}", f"Person {i}", f"p{i}@example.com", "Acme") for i in ids])
    for at in range(0, len(changes), CHUNK):
        ledger.plan(changes[at : at + CHUNK])
    if early:
        ledger.early = EarlyRows(None, _Links(), csv_values)

    def write() -> None:
        for change in changes:
            ledger.write([dataclasses.replace(change, status="written")])
        ledger.query("SELECT 1")  # the last page recorded

    step("written (during the run)", write)
    engine = make_engine(f"sqlite:///{directory / 'handoff.db'}")
    upgrade(engine)

    def rows() -> None:
        made, counts = _rows(_Result(ledger), _Links())  # type: ignore[arg-type]
        report.update(schema=SCHEMA, run={"id": "bench"}, reconciliation=made)
        assert counts.rows == len(changes)

    step("rows", rows)  # the report's tail from here
    step("store", lambda: save_report(engine, report))
    step("files", lambda: write_reports(report, directory / "bench", ["csv", "json"]))
    saved = stored_report(engine, "bench")
    assert saved is not None and len(saved["reconciliation"]) == len(changes)
    ledger.close()
    engine.dispose()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the last round here")
    parser.add_argument(
        "--early", action="store_true", help="rows of written changes made as they are written"
    )
    args = parser.parse_args()
    changes = planned_changes(args.changes, vary_previous=True)
    rounds = []
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            if args.profile and n == args.rounds - 1:
                profile = cProfile.Profile()
                rounds.append(profile.runcall(_round, changes, Path(tmp), args.early))
                profile.dump_stats(args.profile)
            else:
                rounds.append(_round(changes, Path(tmp), args.early))
    best = {
        name: {k: min(r[name][k] for r in rounds) for k in ("wall", "cpu")} for name in rounds[0]
    }
    tail = [name for name in best if not name.startswith("written")]
    total = {k: round(sum(best[s][k] for s in tail), 2) for k in ("wall", "cpu")}
    per = round(1e6 * total["wall"] / args.changes, 2)
    print(
        json.dumps(
            {
                "changes": args.changes,
                "early": args.early,
                "steps": best,
                "report_total": total,
                "report_us_per_change": per,
            }
        )
    )


if __name__ == "__main__":
    main()
