"""Benchmarks are not tests; CI only runs the end-to-end one at a smoke size to keep it working."""

from __future__ import annotations

import json

from bench_process import ROOT, run_bench


def test_e2e_benchmark_runs_at_smoke_size() -> None:
    run_bench("e2e_sync.py", "--contacts", "150", "--smoke", "--crm", "both")
    runs = json.loads((ROOT / "bench" / "out" / "e2e_sync_150.json").read_text())
    assert {r["crm"] for r in runs} == {"hubspot", "salesforce"}
    for run in runs:
        stages = {s["stage"].split(" (")[0]: s for s in run["stages"]}
        assert stages["full sync"]["people_pulled"] >= 150
        assert stages["full sync"]["fields_written"] > 0
        # people per second in each stage of the full sync (routing: the few who need an owner)
        assert {"pull", "score", "route", "plan", "apply"} <= set(stages["full sync"]["per_second"])
        assert stages["no change"]["fields_written"] == 0  # nothing changed: nothing written
        assert all(s["throttled_429"] == 0 for s in stages.values())
        assert run["naive_baseline"]["api_calls"] == 300
