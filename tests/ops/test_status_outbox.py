"""`handoff status` and `handoff outbox list|retry|drop` on a store with a dead letter HubSpot
refused, then a run that sends it, read back through hubspot-api-client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from e2e.crm_clients import HubSpotClient
from faults.fault_stack import ROOT, Drill, drill
from sqlmodel import Session, select

from sync.ops.tables import OutboxAction
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem

REFUSAL = "Property values were not valid: the record is locked by an approval"


def handoff(d: Drill, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url, "HANDOFF_ACTOR": "dana@ops"}
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args, "-c", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def one_attempt_config(d: Drill) -> Path:
    text = d.config_path.read_text()
    assert "max_attempts: 5" in text
    config = d.directory / "handoff.yaml"
    config.write_text(text.replace("max_attempts: 5", "max_attempts: 1"))
    return config


def test_status_and_retry_of_a_dead_letter_then_a_run_sends_it(
    tmp_path: Path, store_url: str
) -> None:
    with drill(tmp_path, store_url, contacts=40) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        config = one_attempt_config(d)
        dry = d.pipeline().run(dry_run=True)
        victim = next(i.record_id for i in dry.writes.items if i.field == "score")
        hubspot.knobs.refuse_updates[victim] = REFUSAL

        first = handoff(d, config, "sync")
        assert first.returncode == 0, first.stderr[-2000:]
        assert "are dead letters: `handoff outbox list` shows why" in first.stderr
        status = handoff(d, config, "status", "--json")
        assert status.returncode == 0, status.stderr
        found = json.loads(status.stdout)
        assert found["outbox"]["dead"] >= 1 and found["outbox"]["pending"] == 0
        live = next(r for r in found["runs"] if not r["dry_run"])
        assert live["counts"]["write_dead"] == found["outbox"]["dead"]
        assert found["next_jobs"]["sync"] and found["heartbeat"]["at"] is None
        text = handoff(d, config, "status")
        assert f"{found['outbox']['dead']} dead -> `handoff outbox list`" in text.stdout

        listed = json.loads(handoff(d, config, "outbox", "list", "--json").stdout)
        assert {i["record_id"] for i in listed} == {victim}
        assert all(REFUSAL in i["reason"] and i["status"] == "dead" for i in listed)
        score = next(i for i in listed if i["field"] == "score")
        shown = handoff(d, config, "outbox", "list")
        assert score["key"][:12] in shown.stdout and REFUSAL in shown.stdout

        hubspot.knobs.refuse_updates.clear()  # the admin unlocked the record
        first_key = score["key"][:12]
        retried = handoff(d, config, "outbox", "retry", first_key)
        assert retried.returncode == 0, retried.stderr
        assert f"{first_key}  pending: sent by the next run" in retried.stdout
        again = handoff(d, config, "outbox", "retry", first_key)  # idempotent
        assert f"{first_key}  already pending: sent next run" in again.stdout
        box = json.loads(handoff(d, config, "status", "--json").stdout)["outbox"]
        assert box == {"pending": 1, "sending": 0, "rejected": 0, "dead": len(listed) - 1}

        sent = handoff(d, config, "outbox", "retry", "--all", "--now")  # the rest, sent at once
        assert sent.returncode == 0, sent.stderr[-2000:]
        assert sent.stdout.count("pending: sent by the next run") == len(listed) - 1
        assert "applied" in sent.stdout and "written" in sent.stdout
        person = HubSpotClient(d.sandbox, d.config()).person("contact", victim)
        assert person.score == float(score["value"])
        assert handoff(d, config, "outbox", "list", "--json").stdout.strip() == "[]"
        with Session(make_engine(d.store_url)) as session:
            actions = session.exec(select(OutboxAction)).all()
            assert {(a.action, a.actor, a.previous_status) for a in actions} == {
                ("retry", "dana@ops", "dead")
            }
            assert all(REFUSAL in (a.reason or "") for a in actions)
            statuses = {
                i.status
                for i in session.exec(select(OutboxItem).where(OutboxItem.record_id == victim))
            }
            assert statuses <= {"applied", "unchanged", "superseded"}


def test_drop_marks_dead_letters_dropped_once_and_retry_leaves_them(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=40) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        config = one_attempt_config(d)
        dry = d.pipeline().run(dry_run=True)
        victim = next(i.record_id for i in dry.writes.items if i.field == "score")
        hubspot.knobs.refuse_updates[victim] = REFUSAL
        assert handoff(d, config, "sync").returncode == 0
        dead = json.loads(handoff(d, config, "outbox", "list", "--json").stdout)
        assert dead

        dropped = handoff(d, config, "outbox", "drop", "--all")
        assert dropped.returncode == 0, dropped.stderr
        assert dropped.stdout.count("dropped by dana@ops") == len(dead)
        twice = handoff(d, config, "outbox", "drop", dead[0]["key"][:12])
        assert "already dropped by dana@ops at " in twice.stdout
        retry = handoff(d, config, "outbox", "retry", dead[0]["key"][:12])
        assert "is dropped: only dead letters" in retry.stdout
        listed = json.loads(
            handoff(d, config, "outbox", "list", "--status", "dropped", "--json").stdout
        )
        assert {i["key"] for i in listed} == {i["key"] for i in dead}

        unknown = handoff(d, config, "outbox", "retry", "ffffffffffff")
        assert unknown.returncode == 2 and "no outbox item with key ffffffffffff" in unknown.stderr
        bad = handoff(d, config, "outbox", "list", "--status", "lost")
        assert bad.returncode == 2 and "unknown --status lost" in bad.stderr
        assert "Traceback" not in unknown.stderr + bad.stderr
