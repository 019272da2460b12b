"""Three replicas on PostgreSQL, one killed mid-run: every change lands once, no duplicate task,
and the schedule goes on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, RunRecord

pytestmark = pytest.mark.postgres
SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _config(tmp_path: Path, pg_url: str) -> Path:
    text = example_config("hubspot").read_text()
    text = text.replace("${HANDOFF_STATE_URL:-sqlite:///handoff.db}", pg_url)
    text = text.replace(
        'schedules: {sync_every: 5m, sla_every: 1m, decay_at: "02:00", report_at: "06:00"}',
        'schedules: {sync_every: 5s, sla_every: 30s, decay_at: "02:00", report_at: "06:00"}',
    )
    path = tmp_path / "handoff.yaml"
    path.write_text(text)
    return path


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_replicas_one_killed(tmp_path: Path, pg_url: str) -> None:
    portal = generate_portal(5, 150, SEED_NOW)
    sandbox = Sandbox(portal, salesforce=False, ca_directory=tmp_path / "ca")
    engine = make_engine(pg_url)
    killed: dict[str, str] = {}
    kill_lock = threading.Lock()

    def kill_writer(request) -> None:  # type: ignore[no-untyped-def]
        # The first batch write: kill the replica doing it; the CRM still accepts the write,
        # so this is "after the CRM accepted, before Handoff recorded it".
        if "batch/update" not in request.path:
            return
        with kill_lock:
            if killed:
                return
            with Session(engine) as session:
                running = session.exec(select(RunRecord).where(RunRecord.status == "running")).all()
            if not running:
                return
            pid = int(running[0].worker.rsplit(":", 1)[1])
            killed["worker"] = running[0].worker
            killed["run"] = running[0].id
            os.kill(pid, signal.SIGKILL)

    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        sandbox.server("hubspot").before_request.append(kill_writer)
        config = _config(tmp_path, pg_url)
        cmd = [
            sys.executable,
            "-m",
            "config.cli",
            "run",
            "--replicas",
            "--confirm",
            "--stalled-after",
            "6",
            "-c",
            str(config),
        ]
        environ = {**os.environ, **env, "HANDOFF_HEARTBEAT": str(tmp_path / "hb")}
        logs = [(tmp_path / f"replica{i}.log").open("w") for i in range(3)]
        procs = [
            subprocess.Popen(cmd, env=environ, stdout=log, stderr=subprocess.STDOUT) for log in logs
        ]
        try:
            _wait(lambda: "worker" in killed, 90, "a replica to start writing")

            def recovered() -> bool:
                with Session(engine) as session:
                    done = session.exec(select(RunRecord).where(RunRecord.status == "ok")).all()
                    open_items = session.exec(
                        select(OutboxItem).where(OutboxItem.status.in_(("pending", "sending")))  # type: ignore[attr-defined]
                    ).all()
                return (
                    len([r for r in done if r.worker != killed["worker"]]) >= 2 and not open_items
                )

            try:
                _wait(recovered, 150, "the surviving replicas to finish the work")
            except AssertionError:
                for i in range(3):
                    print(f"--- replica {i}", (tmp_path / f"replica{i}.log").read_text()[-3000:])
                raise
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        hubspot = sandbox.hubspot
        assert hubspot is not None
        tasks = Counter(
            o.value("handoff_task_key")
            for o in hubspot.store.objects["tasks"].values()
            if o.value("handoff_task_key")
        )
        assert not tasks or max(tasks.values()) == 1
        with Session(engine) as session:
            items = session.exec(select(OutboxItem)).all()
        assert items
        for item in items:
            assert item.status in ("applied", "unchanged", "superseded"), (item.key, item.status)
        latest: dict[tuple[str, str], OutboxItem] = {}
        for item in sorted(items, key=lambda i: i.created_at):
            if item.kind == "field" and item.status != "superseded":
                latest[(item.record_id, item.field)] = item
        props = {
            "score": "handoff_score",
            "owner_id": "hubspot_owner_id",
            "score_reasons": "handoff_score_reasons",
        }
        for (record_id, field), item in latest.items():
            if field in props:
                value = hubspot.contact(record_id)[props[field]]
                assert value is not None and str(value).rstrip("0").rstrip(".") == str(
                    item.value
                ).rstrip("0").rstrip(".")
        alive = [p for p in procs if p.returncode == 0]
        assert len(alive) == 2, [p.returncode for p in procs]
    engine.dispose()
