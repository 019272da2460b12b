"""bench/speed_to_lead_salesforce.py at a smoke size, to keep it working (not timed): demo requests
made while the first full sync runs, the worker killed (SIGKILL) and started again after the
second; every Lead ends with an owner and exactly one task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_process import run_bench

pytestmark = pytest.mark.slow


def test_salesforce_speed_benchmark_runs_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    result = run_bench(
        "speed_to_lead_salesforce.py", "--contacts", "300",
         "--submissions", "4", "--spacing", "1", "--restart-at", "2", "--kill", "--down", "1",
         "--json", str(out),
    )  # fmt: skip
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 4
    assert all(r["tasks"] == 1 and r["owner_s"] <= r["task_s"] for r in rows), rows
    assert "owner+task p95 s" in result.stdout
