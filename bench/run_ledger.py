"""The run ledger's cost: what recording a run's changes and its report rows takes, per change.

A full sync records every planned change, every write outcome and one report row per change in
its scratch file (sync/ledger.py); at 1,000,000 contacts that is about 5,000,000 of each. This
records N changes the way a run does (plans in decide chunks, outcomes a page at a time from
the writer, then the report's rows: read back sorted, kept as their JSON text) and prints the
CPU seconds of each step (user + system: the ledger's cost is mostly system calls).

    .venv/bin/python bench/run_ledger.py [--changes 200000] [--rounds 3]

Best of the rounds, CPU time of this single-threaded process (other load skews it less).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.ledger import RunLedger
from sync.planned_change import PlannedChange
from sync.report.rows import built_rows

FIELDS = ("lifecycle_stage", "handoff_score", "handoff_reasons", "hubspot_owner_id", "lead_status")
CHUNK = 500  # changes a decide chunk plans at once


def cpu() -> float:
    times = os.times()
    return times.user + times.system


def changes(n: int, *, vary_previous: bool = False) -> list[PlannedChange]:
    """N field changes of N / 5 contacts, as a decide stage plans them (with `vary_previous`,
    a third of them replace a CRM value)."""
    return [
        PlannedChange(
            key=f"hubspot:contact:{i // 5}:{FIELDS[i % 5]}",
            connection="hubspot",
            object_type="contact",
            record_id=str(100000 + i // 5),
            kind="set",
            field=FIELDS[i % 5],
            value=f"value {i}" if i % 5 != 1 else i % 100,
            previous="lead" if vary_previous and i % 3 == 0 else None,
            reason="fit 40 (VP title, 450 employees) + intent 35 (demo request)",
            status="planned",
        )
        for i in range(n)
    ]


def _round(changes: list[PlannedChange]) -> dict[str, float]:
    ledger = RunLedger()
    spent: dict[str, float] = {}

    def step(name: str, work: Callable[[], object]) -> None:
        start = cpu()
        work()
        spent[name] = round(cpu() - start, 3)

    def plan() -> None:
        for at in range(0, len(changes), CHUNK):
            ledger.plan(changes[at : at + CHUNK])

    def write() -> None:
        for change in changes:
            ledger.write([change])

    def report() -> None:
        rows = ({"record": row[1], "field": row[2], "value": str(row[6])} for row in ledger.rows())
        kept = built_rows(ledger.directory, rows)
        assert kept.total == len(changes)

    step("plan", plan)
    step("write", write)
    step("report_rows", report)
    ledger.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    planned = changes(args.changes)
    rounds = [_round(planned) for _ in range(args.rounds)]
    best = {name: min(r[name] for r in rounds) for name in rounds[0]}
    per = {name: round(1e6 * value / args.changes, 2) for name, value in best.items()}
    print(json.dumps({"changes": args.changes, "cpu_seconds": best, "us_per_change": per}))


if __name__ == "__main__":
    main()
