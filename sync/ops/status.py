"""`handoff status`: the last runs, the outbox, the next scheduled jobs and the last heartbeat.

Read from the store and the heartbeat file only (no lock, no CRM call), so it answers beside a
running worker. The next jobs are worked out from `schedules:` and the last runs: the worker
syncs every `sync_every` from its start, so the next sync is the last one's start plus that.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from config.model import HandoffConfig
from sync.ops.tables import Incident
from sync.store.tables import OutboxItem, RunRecord

WATCHED = ("pending", "sending", "rejected", "dead")


def _iso(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z") if value else None


def _daily(at: str, now: datetime) -> datetime:
    hour, minute = (int(p) for p in at.split(":"))
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


def next_jobs(config: HandoffConfig, last_sync: datetime | None, now: datetime) -> dict[str, str]:
    sched = config.schedules
    sync_due = (last_sync + sched.sync_every) if last_sync else now
    return {
        "sync": _iso(max(sync_due, now)) or "",
        "sla": f"every {int(sched.sla_every.total_seconds())}s",
        "decay": _iso(_daily(sched.decay_at, now)) or "",
        "report": _iso(_daily(sched.report_at, now)) or "",
    }


def gather(
    engine: Engine, config: HandoffConfig, heartbeat: Path, now: datetime, runs: int = 5
) -> dict[str, Any]:
    with Session(engine) as session:
        records = session.exec(
            select(RunRecord).order_by(col(RunRecord.started_at).desc()).limit(runs)
        ).all()
        last_sync = session.exec(
            select(func.max(RunRecord.started_at)).where(col(RunRecord.dry_run).is_(False))
        ).one()
        outbox = dict.fromkeys(WATCHED, 0)
        for status, n in session.exec(
            select(OutboxItem.status, func.count())
            .where(col(OutboxItem.status).in_(WATCHED))
            .group_by(OutboxItem.status)
        ):
            outbox[status] = int(n)
        incidents = session.exec(
            select(Incident).where(col(Incident.resolved_at).is_(None)).order_by(col(Incident.id))
        ).all()
        run_rows = [
            {
                "id": r.id,
                "status": r.status,
                "dry_run": r.dry_run,
                "started_at": _iso(r.started_at),
                "seconds": round((r.finished_at - r.started_at).total_seconds(), 1)
                if r.finished_at
                else None,
                "counts": dict(r.counts),
                "errors": list(r.errors),
            }
            for r in records
        ]
        open_incidents = [
            {"kind": i.kind, "summary": i.summary, "opened_at": _iso(i.opened_at)}
            for i in incidents
        ]
    jobs = {"source": "schedules, no worker heartbeat", **next_jobs(config, last_sync, now)}
    try:
        mtime = heartbeat.stat().st_mtime
        age = time.time() - mtime
        limit = config.monitoring.heartbeat_max_age.total_seconds()
        beat: dict[str, Any] = {
            "path": str(heartbeat),
            "at": _iso(datetime.fromtimestamp(mtime, tz=now.tzinfo)),
            "age_seconds": round(age, 1),
            "max_age_seconds": limit,
            "stale": age > limit,  # as /healthz judges it: on the age itself, not its rounding
        }
        lines = heartbeat.read_text(encoding="utf-8").splitlines()
        if len(lines) > 1:  # the running worker's own schedule (sync/worker.py)
            jobs = {"source": "the worker", **json.loads(lines[1]).get("next_jobs", {})}
    except FileNotFoundError:
        beat = {"path": str(heartbeat), "at": None, "age_seconds": None}
    except (OSError, ValueError):
        pass
    return {
        "runs": run_rows,
        "outbox": outbox,
        "next_jobs": jobs,
        "heartbeat": beat,
        "incidents": open_incidents,
    }


def render(status: dict[str, Any]) -> str:
    lines = ["Last runs:"]
    if not status["runs"]:
        lines.append("  none yet: `handoff sync --dry-run`, then `handoff run`")
    for run in status["runs"]:
        counts = run["counts"]
        written = counts.get("write_applied", 0)
        took = f"{run['seconds']}s" if run["seconds"] is not None else "still running"
        lines.append(
            f"  {run['id']}  {run['status']:<7} {took:>9}  decided {counts.get('scored', 0)}, "
            f"planned {counts.get('planned', 0)}, "
            + (
                f"would write {counts.get('write_would_write', 0)}"
                if run["dry_run"]
                else f"written {written}"
            )
            + (f", dead {counts['write_dead']}" if counts.get("write_dead") else "")
        )
        for error in run["errors"][:3]:
            lines.append(f"      error: {error}")
        if len(run["errors"]) > 3:
            lines.append(f"      ... and {len(run['errors']) - 3} more (see the run's report)")
    box = status["outbox"]
    lines.append(
        f"Outbox: {box['pending']} pending, {box['sending']} sending, "
        f"{box['rejected']} rejected (retried with backoff), {box['dead']} dead"
        + (" -> `handoff outbox list`" if box["dead"] else "")
    )
    jobs = dict(status["next_jobs"])
    source = jobs.pop("source", "")
    lines.append(f"Next jobs ({source}): " + ", ".join(f"{k} {v}" for k, v in jobs.items()))
    beat = status["heartbeat"]
    if not beat["at"]:
        lines.append(f"Heartbeat: none at {beat['path']} (is `handoff run` running?)")
    elif beat.get("stale"):
        lines.append(
            f"Heartbeat: {beat['at']} ({beat['age_seconds']}s ago): STALE, older than "
            f"monitoring.heartbeat_max_age ({beat['max_age_seconds']:.0f}s): is `handoff run` "
            "still running?"
        )
    else:
        lines.append(f"Heartbeat: {beat['at']} ({beat['age_seconds']}s ago)")
    for incident in status["incidents"]:
        lines.append(f"Open alert since {incident['opened_at']}: {incident['summary']}")
    return "\n".join(lines)
