"""`handoff run`: the scheduled worker (APScheduler 3) for one node.

Jobs come from `schedules:` in config: sync every N minutes, an SLA check every minute (decides from
the store, no pull), the daily decay pass and the daily report. One pipeline run at a time; SIGTERM
lets the batch in flight finish, then stops. A heartbeat file feeds the Docker HEALTHCHECK. The
worker holds the store's writer lock for its life (sync/store/writer_lock.py): a second worker or a
`handoff sync` on the same store is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from config.model import HandoffConfig

log = structlog.get_logger("handoff.worker")


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
