"""`handoff run`: the scheduled worker (APScheduler 3) for one node.

Jobs come from `schedules:` in config: sync every N minutes, an SLA check every minute (decides from
the store, no pull), the daily decay pass and the daily report. One pipeline run at a time; SIGTERM
lets the batch in flight finish, then stops. A heartbeat file feeds the Docker HEALTHCHECK. With
SQLite a second worker on the same database refuses to start (an exclusive file lock).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from config.model import HandoffConfig

log = structlog.get_logger("handoff.worker")


class StoreLocked(Exception):
    """Another worker holds this SQLite store."""


class SqliteRunLock:
    """An exclusive, non-blocking lock beside the SQLite file: one worker per database."""

    def __init__(self, url: str) -> None:
        database = make_url(url).database or "handoff.db"
        self.path = Path(database).resolve().with_suffix(".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreLocked(
                f"another `handoff run` is using {self.path.with_suffix('.db')} (lock {self.path}): "
                "stop it first, or move to PostgreSQL for several replicas (docs/deploy.md)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Heartbeat:
    def __init__(self, path: Path) -> None:
        self.path = path

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(datetime.now(UTC).isoformat() + "\n", encoding="utf-8")


class Worker:
    """Runs the pipeline's jobs on their schedules until `stop()`."""

    def __init__(
        self,
        config: HandoffConfig,
        run_job: Callable[[str], Any],
        *,
        heartbeat: Heartbeat,
    ) -> None:
        self.config = config
        self.run_job = run_job
        self.heartbeat = heartbeat
        self._one_at_a_time = threading.Lock()
        self._stopped = threading.Event()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        )

    def _job(self, kind: str) -> None:
        with self._one_at_a_time:
            if self._stopped.is_set():
                return
            try:
                self.run_job(kind)
            except Exception as exc:  # a failed run is logged; the schedule goes on
                log.error("job.failed", job=kind, error=str(exc), exc_type=type(exc).__name__)
            finally:
                self.heartbeat.beat()

    def schedule(self) -> None:
        sched = self.config.schedules
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=sched.sync_every.total_seconds()),
            args=["sync"],
            id="sync",
            next_run_time=now,
        )
        self.scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=sched.sla_every.total_seconds()),
            args=["sla"],
            id="sla",
        )
        for kind, at in (("decay", sched.decay_at), ("report", sched.report_at)):
            hour, minute = (int(p) for p in at.split(":"))
            self.scheduler.add_job(
                self._job, CronTrigger(hour=hour, minute=minute, timezone=UTC), args=[kind], id=kind
            )
        self.scheduler.add_job(self.heartbeat.beat, IntervalTrigger(seconds=15), id="heartbeat")

    def start(self) -> None:
        self.heartbeat.beat()
        self.schedule()
        self.scheduler.start()
        log.info("worker.started", jobs=sorted(j.id for j in self.scheduler.get_jobs()))

    def stop(self) -> None:
        """Let the job in flight finish its batch, then shut the scheduler down."""
        self._stopped.set()
        self.scheduler.shutdown(wait=True)
        log.info("worker.stopped")
