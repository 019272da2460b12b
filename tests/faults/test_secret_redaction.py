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


def test_a_token_echoed_by_the_crm_is_in_no_output_report_or_store_row(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=30) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        token = d.env["HUBSPOT_TOKEN"]
        # 1: the pull works, every write is refused with the token in the error body.
        hubspot.knobs.echo_token_on = {"contacts.batch_update", "tasks.batch_create"}
        first = _sync(d, "--as-of", AS_OF)
        assert hubspot.log.total("contacts.batch_update", 400) > 0  # the fault did fire
        # 2: the pull itself fails on the echo (the run error path, not the outbox's).
        hubspot.knobs.echo_token_on = {"contacts.search", "contacts.list", "contacts.batch_read"}
        second = _sync(d, "--full")
        assert second.returncode == 1, second.stderr

        outputs = {
            "stdout": first.stdout + second.stdout,
            "stderr": first.stderr + second.stderr,
        }
        reports = sorted(p for p in (tmp_path / "reports").rglob("*") if p.is_file())
        assert {p.name for p in reports} >= {"report.md", "report.json", "report.html"}
        outputs |= {str(p): p.read_text(encoding="utf-8") for p in reports}
        db_path = Path(sqlite_url.removeprefix("sqlite:///"))
        rows = _store_rows(db_path)
        outputs["store rows"] = "\n".join(rows)
        leaks = [name for name, text in outputs.items() if token in text]
        assert leaks == []
        for file in db_path.parent.glob(db_path.name + "*"):  # the database, its WAL
            assert token.encode() not in file.read_bytes(), file
        # The errors did reach every output, redacted: the test looked where the token would be.
        assert "***" in outputs["stderr"] and "Invalid input JSON" in outputs["stderr"]
        assert any("Invalid input JSON for ***" in r for r in rows)
        assert any("Invalid input JSON for ***" in t for n, t in outputs.items() if "report" in n)
        assert "Traceback" not in outputs["stderr"]
