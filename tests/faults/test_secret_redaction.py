"""A CRM error that echoes the access token back: the token appears in no output, anywhere.

`handoff sync` runs as its own process against the sandbox; HubSpot answers 400 bodies quoting the
caller's token, bare (no `Bearer` or `token=` around it for a key-based masker to find). Then
stdout, stderr, every report file, every store table and the store's bytes on disk are searched.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fault_stack import ROOT, Drill, drill

AS_OF = "2026-11-20T15:00:00Z"


def _sync(d: Drill, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url}
    return subprocess.run(
        [sys.executable, "-m", "config.cli", "sync", "-c", str(d.config_path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _store_rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [repr(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]


def _echo_writes_then_pulls(d: Drill) -> list[subprocess.CompletedProcess[str]]:
    """Run 1: the pull works, every write is refused with the credential in the error body.
    Run 2: the pull itself fails on the echo (the run-error path, not the outbox's)."""
    hubspot, salesforce = d.sandbox.hubspot, d.sandbox.salesforce
    if hubspot is not None:
        hubspot.knobs.echo_token_on = {"contacts.batch_update", "tasks.batch_create"}
    if salesforce is not None:
        salesforce.echo_session_on = {"collections.update", "collections.create", "bulk"}
    first = _sync(d, "--as-of", AS_OF)
    if hubspot is not None:
        assert hubspot.log.total("contacts.batch_update", 400) > 0  # the fault did fire
        hubspot.knobs.echo_token_on = {"contacts.search", "contacts.list", "contacts.batch_read"}
    if salesforce is not None:
        assert salesforce.log.total(status=400) > 0
        salesforce.echo_session_on = {"query", "queryAll", "query_more"}
    second = _sync(d, "--full")
    assert second.returncode == 1, second.stderr
    return [first, second]


def _every_output(
    runs: list[subprocess.CompletedProcess[str]], tmp_path: Path, sqlite_url: str
) -> dict[str, str]:
    outputs = {
        "stdout": "".join(r.stdout for r in runs),
        "stderr": "".join(r.stderr for r in runs),
    }
    reports = sorted(p for p in (tmp_path / "reports").rglob("*") if p.is_file())
    assert {p.name for p in reports} >= {"report.md", "report.json", "report.html"}
    outputs |= {str(p): p.read_text(encoding="utf-8") for p in reports}
    db_path = Path(sqlite_url.removeprefix("sqlite:///"))
    outputs["store rows"] = "\n".join(_store_rows(db_path))
    for file in db_path.parent.glob(db_path.name + "*"):  # the database, its WAL
        outputs[str(file)] = file.read_bytes().decode("latin-1")
    return outputs


@pytest.mark.parametrize(
    ("crm", "secret", "echoed"),
    [
        ("hubspot", "HUBSPOT_TOKEN", "Invalid input JSON for ***"),
        ("salesforce", "SALESFORCE_SESSION_ID", "unexpected token: ***"),
    ],
)
def test_a_credential_echoed_by_the_crm_is_in_no_output_report_or_store_row(
    tmp_path: Path, sqlite_url: str, crm: str, secret: str, echoed: str
) -> None:
    with drill(tmp_path, sqlite_url, crm=crm, contacts=30) as d:
        credential = d.env[secret]
        runs = _echo_writes_then_pulls(d)
        outputs = _every_output(runs, tmp_path, sqlite_url)
        leaks = [name for name, text in outputs.items() if credential in text]
        assert leaks == []
        # The errors did reach every output, redacted: the test looked where the secret would be.
        assert echoed in outputs["stderr"]
        assert echoed in outputs["store rows"]
        assert any(echoed in t for n, t in outputs.items() if "report" in n)
        assert "Traceback" not in outputs["stderr"]
