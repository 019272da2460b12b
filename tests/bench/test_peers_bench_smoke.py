"""bench/peers.py at smoke size with Handoff's pull alone (the third-party peers are installed
only by the benchmark itself): the harness starts the sandbox with a request log, runs the full,
incremental and no-change pulls in processes of their own and reads their calls from the log."""

from __future__ import annotations

import json

from bench_process import ROOT, run_bench


def test_peers_benchmark_runs_handoff_at_smoke_size() -> None:
    result = run_bench("peers.py", "--smoke", "--peers", "handoff", "--no-limits")
    out = json.loads((ROOT / "bench" / "out" / "peers_200.json").read_text())
    runs = {r["run"].split(" (")[0]: r for r in out["peers"]["handoff"]["runs"]}
    assert set(runs) == {"full pull", "incremental", "no change"}
    full = runs["full pull"]
    assert set(full["streams"]) == {"contacts", "activities", "owners", "companies"}
    assert all(verdict.startswith("ok") for verdict in full["streams"].values()), full["streams"]
    assert full["records"]["contacts"] == 200
    assert full["records"]["companies"] > 0  # the contacts' primary companies, read once each
    # the calls come from the sandbox's request log, grouped by route
    assert full["calls"] == sum(full["calls_by_endpoint"].values()) > 0
    assert "GET /crm/v3/objects/contacts" in full["calls_by_endpoint"]
    assert full["throttled_429"] == 0 and full["refused"] == {}
    assert full["peak_rss_mb"] > 0 and full["api_seconds"] <= full["wall_seconds"]
    # the state store carries over: the incremental run reads fewer contacts than the full one
    assert runs["incremental"]["records"]["contacts"] < 200
    assert "| handoff | full pull | 4/4 |" in result.stdout


def test_peers_benchmark_runs_handoff_on_salesforce_at_smoke_size() -> None:
    """`--crm salesforce`: the Salesforce sandbox with its login host's certificate and Handoff's
    Salesforce pull; the request log's Salesforce lines are the run's calls."""
    run_bench("peers.py", "--smoke", "--crm", "salesforce", "--peers", "handoff")
    out = json.loads((ROOT / "bench" / "out" / "peers_200_salesforce.json").read_text())
    assert out["crm"] == "salesforce"
    runs = {r["run"].split(" (")[0]: r for r in out["peers"]["handoff"]["runs"]}
    full = runs["full pull"]
    assert all(verdict.startswith("ok") for verdict in full["streams"].values()), full["streams"]
    assert full["records"]["contacts"] == 200 and full["records"]["activities"] > 0
    assert any("/services/data/" in e for e in full["calls_by_endpoint"])
    assert runs["incremental"]["records"]["contacts"] < 200
