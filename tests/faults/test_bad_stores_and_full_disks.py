"""A damaged or foreign SQLite store, a full disk under the store and one under the reports:
`handoff sync` (its own process, against the sandbox) ends with one clear message naming the file
and what to do, its documented exit code, and never a traceback."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_stack import ROOT, Drill, drill
from sqlmodel import Session, select

from sync.failures import EXIT_BAD_INPUT, EXIT_REPORT_NOT_WRITTEN
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, RunRecord

AS_OF = "2026-11-20T15:00:00Z"
RUN_ID = "20261120T150000Z-live-hubspot-1"  # the first live run as of AS_OF


def handoff(
    d: Drill, *args: str, preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args, "-c", str(d.config_path)],
        cwd=ROOT,
        env={**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url},
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=preexec,
    )


def store_path(d: Drill) -> Path:
    return Path(d.store_url.removeprefix("sqlite:///"))


def assert_clear_failure(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_a_file_that_is_not_a_database_is_named_with_what_to_do(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=10) as d:
        path = store_path(d)
        path.write_text("connections:\n  - name: hubspot\n" * 40, encoding="utf-8")
        result = handoff(d, "sync")
        assert_clear_failure(result, EXIT_BAD_INPUT, str(path), "not an SQLite database")
        assert "move" in result.stderr and "state.url" in result.stderr
        assert d.sandbox.hubspot is not None and d.sandbox.hubspot.log.total() == 0


@pytest.mark.parametrize("cut", ["whole pages", "mid-page", "inside the header"])
def test_a_truncated_store_is_named_with_what_to_do(
    tmp_path: Path, sqlite_url: str, cut: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=20) as d:
        pipeline = d.pipeline()
        pipeline.run()
        pipeline.engine.dispose()
        path = store_path(d)
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        keep = {
            "whole pages": size - 3 * 4096,
            "mid-page": size // 2 + 100,
            "inside the header": 60,
        }
        with path.open("r+b") as file:
            file.truncate(keep[cut])
        calls = d.sandbox.hubspot.log.total() if d.sandbox.hubspot else 0
        result = handoff(d, "sync")
        assert_clear_failure(result, EXIT_BAD_INPUT, str(path), "truncated", "restore")
        assert d.sandbox.hubspot is not None and d.sandbox.hubspot.log.total() == calls


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child, before exec: writes past `limit` bytes fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_under_the_store_stops_before_any_write(
    tmp_path: Path, sqlite_url: str
) -> None:
    """RLIMIT_FSIZE of 1 KiB on the worker: the store reads, but its first write fails as on a
    full disk (SQLITE_FULL / EFBIG). Non-root, no loop device; the sandbox is in this process."""
    with drill(tmp_path, sqlite_url, contacts=20) as d:
        d.engine().dispose()
        path = store_path(d)
        keeper = sqlite3.connect(path)  # keeps the store's WAL index open, as a live store has
        try:
            keeper.execute("SELECT count(*) FROM runs").fetchone()
            result = handoff(d, "sync", preexec=_file_size_limit(1024))
        finally:
            keeper.close()
        assert_clear_failure(result, EXIT_BAD_INPUT, str(path), "cannot be written", "Free space")
        hubspot = d.sandbox.hubspot
        assert hubspot is not None and hubspot.log.total() == 0  # no CRM request at all
        with Session(make_engine(d.store_url)) as session:
            assert session.exec(select(RunRecord)).all() == []


def test_a_full_disk_under_the_reports_keeps_the_run_and_handoff_report_writes_it_again(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Each report file of the run is a symlink to /dev/full (every write: ENOSPC)."""
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (Linux)")
    with drill(tmp_path, sqlite_url, contacts=40) as d:
        folder = tmp_path / "reports" / RUN_ID
        folder.mkdir(parents=True)
        for name in ("report.md", "report.json", "report.html", "report.csv"):
            (folder / name).symlink_to("/dev/full")
        result = handoff(d, "sync", "--as-of", AS_OF)
        assert_clear_failure(
            result,
            EXIT_REPORT_NOT_WRITTEN,
            f"run {RUN_ID}",
            "applied and recorded",
            "No space left on device",
            f"handoff report --run {RUN_ID}",
        )
        # The CRM writes happened and are recorded, nothing left open.
        with Session(make_engine(d.store_url)) as session:
            items = session.exec(select(OutboxItem)).all()
            run = session.get_one(RunRecord, RUN_ID)
        assert run.status == "ok" and run.finished_at is not None
        assert items and {i.status for i in items} <= {"applied", "unchanged"}
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        scored = [i for i in items if i.field == "score" and i.status == "applied"]
        assert scored and hubspot.contact(scored[0].record_id)["handoff_score"] is not None
        # Still full: `handoff report` says so, with the same exit code.
        again = handoff(d, "report", "--run", RUN_ID)
        assert_clear_failure(again, EXIT_REPORT_NOT_WRITTEN, "No space left on device")
        # Space freed: `handoff report` writes every file of the last run from the store.
        for link in folder.iterdir():
            link.unlink()
        regenerated = handoff(d, "report")
        assert regenerated.returncode == 0, regenerated.stderr
        assert "Traceback" not in regenerated.stderr
        assert {p.name for p in folder.iterdir()} == {
            "report.md",
            "report.json",
            "report.html",
            "report.csv",
        }
        assert RUN_ID in (folder / "report.json").read_text(encoding="utf-8")
        assert RUN_ID in (tmp_path / "reports" / "latest.json").read_text(encoding="utf-8")
        assert f"{len(scored)}" in regenerated.stdout or RUN_ID in regenerated.stdout


def test_store_errors_are_named_for_what_they_mean_and_bugs_stay_bugs() -> None:
    from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

    from sync.store.health import store_failure

    class DiskFull(Exception):  # psycopg.errors.DiskFull carries SQLSTATE 53100
        sqlstate = "53100"

    pg = "postgresql+psycopg://handoff:hunter22@db.internal/handoff"
    full = store_failure(OperationalError("INSERT", {}, DiskFull("could not extend file")), pg)
    assert full is not None and "disk is full" in full and "hunter22" not in full
    damaged = store_failure(
        DatabaseError("SELECT", {}, sqlite3.DatabaseError("database disk image is malformed")),
        "sqlite:////srv/handoff/handoff.db",
    )
    assert damaged is not None and "/srv/handoff/handoff.db" in damaged and "restore" in damaged
    assert store_failure(IntegrityError("INSERT", {}, Exception("UNIQUE failed")), pg) is None
    assert store_failure(ValueError("a bug"), pg) is None
