"""`handoff run`: jobs on schedule, a heartbeat, SIGTERM stops cleanly, one runner per SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment

ROOT = Path(__file__).resolve().parents[2]


def test_run_schedules_jobs_stops_on_sigterm_and_refuses_a_second_runner(tmp_path: Path) -> None:
    text = (
        example_config("hubspot")
        .read_text()
        .replace(
            'schedules: {sync_every: 5m, sla_every: 1m, decay_at: "02:00", report_at: "06:00"}',
            'schedules: {sync_every: 2s, sla_every: 3s, decay_at: "02:00", report_at: "06:00"}',
        )
    )
    config = tmp_path / "handoff.yaml"
    config.write_text(text)
    heartbeat = tmp_path / "heartbeat"
    portal = generate_portal(2, 40, datetime(2026, 11, 20, 15, 0, tzinfo=UTC))
    with (
        Sandbox(portal, salesforce=False, ca_directory=tmp_path / "ca") as sandbox,
        sandbox_environment(sandbox.info, tmp_path) as env,
    ):
        environ = {**os.environ, **env}
        cmd = [
            sys.executable,
            "-m",
            "config.cli",
            "run",
            "--confirm",  # write from the first run (a fresh store dry-runs first otherwise)
            "-c",
            str(config),
            "--heartbeat",
            str(heartbeat),
        ]
        worker = subprocess.Popen(
            cmd, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            deadline = time.monotonic() + 60
            reports = tmp_path / "reports"
            while time.monotonic() < deadline and len(list(reports.glob("*/report.json"))) < 2:
                time.sleep(0.5)
            assert len(list(reports.glob("*/report.json"))) >= 2, (
                "sync ran on its schedule, more than once"
            )
            assert heartbeat.exists()
            health = subprocess.run(
                [sys.executable, "-m", "config.cli", "health", "--heartbeat", str(heartbeat)],
                cwd=ROOT,
                env=environ,
                capture_output=True,
                text=True,
                check=False,
            )
            assert health.returncode == 0, health.stderr
            second = subprocess.run(
                cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=False
            )
            assert second.returncode == 2
            assert "is in use by `handoff run` (pid" in second.stderr
            assert "Traceback" not in second.stderr
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output[-2000:]
        assert "stopping: finishing the batch in flight" in output
