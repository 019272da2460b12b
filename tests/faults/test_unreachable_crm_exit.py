"""A CRM that cannot be read at all (nothing listens at its address) ends `handoff sync`, dry or
live, with exit 1, as docs/reliability.md's exit codes say of a partial run: one warning names the
connection and what failed, no traceback, and the run's report says `partial` with the error.
Operators' cron jobs and CI steps see the failure; nothing is decided from a pull that did not
happen."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A local port nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _handoff(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", "sync", "--config", str(config), *args],
        cwd=config.parent,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
def test_an_unreachable_crm_exits_1_dry_and_live(crm: str, tmp_path: Path) -> None:
    address = f"https://127.0.0.1:{_closed_port()}"
    env = {
        "HANDOFF_STATE_URL": f"sqlite:///{tmp_path / 'handoff.db'}",
        "HANDOFF_REPORTS_DIR": str(tmp_path / "reports"),
        "HANDOFF_CA_FILE": "",
        "HUBSPOT_BASE_URL": address,
        "HUBSPOT_TOKEN": "pat-na1-unreachable",
        "SALESFORCE_INSTANCE_URL": address,
        "SALESFORCE_SESSION_ID": "00D000000000001!unreachable",
        "PARDOT_BASE_URL": address,
        "PARDOT_BUSINESS_UNIT_ID": "",
    }
    config = tmp_path / "handoff.yaml"
    config.write_text((ROOT / "config" / "examples" / f"{crm}.yaml").read_text("utf-8"), "utf-8")
    for args in (["--dry-run"], []):
        done = _handoff(config, env, *args)
        said = done.stdout + done.stderr
        assert done.returncode == 1, (args, done.returncode, said[-2000:])
        assert f"warning: {crm}: pull stopped: [{crm}]" in said, said[-2000:]
        assert "Traceback" not in said
        reports = tmp_path / "reports"
        run_id = json.loads((reports / "latest.json").read_text("utf-8"))["run_id"]
        run = json.loads((reports / run_id / "report.json").read_text("utf-8"))["run"]
        assert run["status"] == "partial" and run["dry_run"] == bool(args), run
        assert any(e.startswith(f"{crm}: pull stopped") for e in run["errors"]), run["errors"]
