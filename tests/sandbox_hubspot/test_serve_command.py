"""`handoff sandbox serve --json` from the command line, used by a real client, stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

ROOT = Path(__file__).resolve().parents[2]


def test_serve_prints_json_and_both_clients_work(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "config.cli",
            "sandbox",
            "serve",
            "--json",
            "--contacts",
            "25",
            "--tier",
            "enterprise",
            "--ca-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"hubspot", "salesforce", "ca_file"}
        client = HubSpot(
            access_token=info["hubspot"]["token"],
            host=info["hubspot"]["base_url"],
            ssl_ca_cert=info["ca_file"],
        )
        page = client.crm.contacts.basic_api.get_page(limit=100)
        assert len(page.results) == 25
        events = client.events.events_api.get_page(
            object_type="contact", object_id=int(page.results[0].id), _preload_content=False
        )
        assert events.status == 200  # an enterprise portal: the Events API answers
        session = requests.Session()
        session.trust_env = False  # the environment's CA bundle must not replace ours
        session.verify = info["ca_file"]
        sf = Salesforce(
            instance_url=info["salesforce"]["instance_url"],
            session_id=info["salesforce"]["session_id"],
            session=session,
        )
        people = (
            sf.query("SELECT Id FROM Lead")["totalSize"]
            + sf.query("SELECT Id FROM Contact")["totalSize"]
        )
        assert people == 25
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_serve_refuses_an_unknown_tier() -> None:
    from typer.testing import CliRunner

    from config.cli import app

    result = CliRunner().invoke(app, ["sandbox", "serve", "--tier", "gold", "--contacts", "0"])
    assert result.exit_code == 2
    assert "starter, professional or enterprise" in result.output
