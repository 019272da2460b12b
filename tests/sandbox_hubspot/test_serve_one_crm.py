"""`handoff sandbox serve --crm hubspot`: the HubSpot portal alone (no Salesforce org is built),
used by the real client; an unknown --crm is refused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from hubspot import HubSpot

ROOT = Path(__file__).resolve().parents[2]


def test_serve_hubspot_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "config.cli", "sandbox", "serve", "--json"),
            *("--contacts", "30", "--crm", "hubspot", "--ca-dir", str(tmp_path)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["salesforce"]["instance_url"] is None
        assert info["salesforce"]["session_id"] is None
        client = HubSpot(
            access_token=info["hubspot"]["token"],
            host=info["hubspot"]["base_url"],
            ssl_ca_cert=info["ca_file"],
        )
        assert len(client.crm.contacts.basic_api.get_page(limit=100).results) == 30
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_serve_refuses_an_unknown_crm() -> None:
    from typer.testing import CliRunner

    from config.cli import app

    result = CliRunner().invoke(app, ["sandbox", "serve", "--crm", "pipedrive", "--contacts", "0"])
    assert result.exit_code == 2
    assert "hubspot, salesforce or both" in result.output
