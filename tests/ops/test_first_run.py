"""First-run safety through `handoff run` as a process: a fresh store gets a dry run and no CRM
write until --confirm; then the confirmed worker writes, and its /metrics say what HubSpot got."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from faults.fault_stack import ROOT, drill
from ops_support import WritesReceived, metric, scrape

WRITE_LABEL = re.compile(r"(update|create|archive|upsert|merge|associations\.(put|create))")


def crm_writes(log_counts: dict[str, int]) -> int:
    return sum(n for label, n in log_counts.items() if WRITE_LABEL.search(label))


def test_first_run_is_a_dry_run_until_confirmed(tmp_path: Path, sqlite_url: str) -> None:
    with drill(tmp_path, sqlite_url, contacts=40) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        received = WritesReceived(d.sandbox)
        config = d.directory / "handoff.yaml"
        config.write_text(
            d.config_path.read_text().replace(
                "sync_every: 5m, sla_every: 1m", "sync_every: 1h, sla_every: 1h"
            )
        )  # one sync while the test watches
        env = {
            **os.environ,
            **d.env,
            "HANDOFF_STATE_URL": d.store_url,
            "PYTHONUNBUFFERED": "1",
        }
        cmd = [sys.executable, "-m", "config.cli", "run", "-c", str(config), "--heartbeat",
               str(tmp_path / "heartbeat")]  # fmt: skip
        first = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert first.returncode == 0, first.stderr[-2000:]
        assert "first run on this store: this was a dry run" in first.stdout
        report = re.search(r"read what it would write: (\S+report\.md)", first.stdout)
        assert report and Path(report.group(1)).exists()
        assert f"handoff run --confirm -c {config}" in first.stdout
        assert hubspot.log.total() > 0  # it pulled and decided
        assert crm_writes(hubspot.log.by_endpoint()) == 0 and received.requests == 0

        again = subprocess.run(  # still nothing applied: dry run again, still no write
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert "this was a dry run" in again.stdout
        assert crm_writes(hubspot.log.by_endpoint()) == 0

        worker = subprocess.Popen(
            [*cmd, "--confirm", "--listen", "127.0.0.1:0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            address = None
            assert worker.stdout is not None
            for line in worker.stdout:
                found = re.search(r"metrics and health on http://(\S+)/metrics", line)
                if found:
                    address = found.group(1)
                    break
            assert address, "the worker said where its metrics are"
            deadline = time.monotonic() + 120
            samples = scrape(address)
            while time.monotonic() < deadline and not metric(
                samples, "handoff_runs_total", status="ok", mode="live"
            ):
                time.sleep(0.5)
                samples = scrape(address)
            assert metric(samples, "handoff_runs_total", status="ok", mode="live") >= 1
            assert metric(samples, "handoff_runs_total", status="ok", mode="dry_run") == 2
            assert received.values["accepted"] > 0
            assert (
                metric(samples, "handoff_writes_total", outcome="applied")
                == received.values["accepted"]
            )
            status = subprocess.run(  # beside the running worker: reads, takes no lock
                [sys.executable, "-m", "config.cli", "status", "--json", "-c", str(config),
                 "--heartbeat", str(tmp_path / "heartbeat")],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert status.returncode == 0, status.stderr
            found = json.loads(status.stdout)
            assert found["next_jobs"]["source"] == "the worker"
            assert {"sync", "sla", "decay", "report"} <= set(found["next_jobs"])
            assert found["heartbeat"]["age_seconds"] is not None
            assert [r["dry_run"] for r in found["runs"]][-2:] == [True, True]
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output[-2000:]


def test_first_run_live_by_config_and_metrics_beside_the_webhooks_on_one_port(
    tmp_path: Path, sqlite_url: str
) -> None:
    """sync.first_run: live writes at once; monitoring.listen equal to http.listen serves
    /metrics, /healthz and /readyz on the webhook endpoint's port (one server)."""
    with drill(tmp_path, sqlite_url, contacts=30) as d:
        received = WritesReceived(d.sandbox)
        text = d.config_path.read_text().replace(
            "sync_every: 5m, sla_every: 1m", "sync_every: 1h, sla_every: 1h"
        )
        assert "max_attempts: 5" in text
        text = text.replace("max_attempts: 5", "max_attempts: 5\n  first_run: live")
        text += "\nhttp: {listen: '127.0.0.1:0'}\nmonitoring: {listen: '127.0.0.1:0'}\n"
        config = d.directory / "handoff.yaml"
        config.write_text(text)
        env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url, "PYTHONUNBUFFERED": "1"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "-c", str(config), "--heartbeat",
             str(tmp_path / "heartbeat")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert worker.stdout is not None
            lines = []
            address = None
            for line in worker.stdout:
                lines.append(line)
                found = re.search(r"metrics and health on http://(\S+)/metrics", line)
                if found:
                    address = found.group(1)
                    break
            assert address and not address.endswith(":0"), "".join(lines)[-2000:]
            deadline = time.monotonic() + 120
            samples = scrape(address)
            while time.monotonic() < deadline and not metric(
                samples, "handoff_runs_total", status="ok", mode="live"
            ):
                time.sleep(0.5)
                samples = scrape(address)
            assert metric(samples, "handoff_runs_total", status="ok", mode="live") == 1
            assert metric(samples, "handoff_runs_total", status="ok", mode="dry_run") == 0
            assert (
                metric(samples, "handoff_writes_total", outcome="applied")
                == received.values["accepted"]
                > 0
            )
            ready = requests.get(f"http://{address}/readyz", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            assert requests.get(f"http://{address}/healthz", timeout=10).status_code == 200
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output[-2000:]


def test_replicas_on_a_store_that_never_ran_live_wait_for_confirm(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=10) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url}
        refused = subprocess.run(
            [sys.executable, "-m", "config.cli", "run", "--replicas", "-c", str(d.config_path),
             "--heartbeat", str(tmp_path / "heartbeat")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "this store never ran live" in refused.stderr and "--confirm" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert crm_writes(hubspot.log.by_endpoint()) == 0
