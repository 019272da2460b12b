"""`handoff run`: the scheduled worker (APScheduler 3) for one node.

Jobs come from `schedules:` in config: sync every N minutes, an SLA check every minute (decides from
the store, no pull), the daily decay pass and the daily report. One pipeline run at a time; SIGTERM
lets the batch in flight finish, then stops. A heartbeat file feeds the Docker HEALTHCHECK. The
worker holds the store's writer lock for its life (sync/store/writer_lock.py): a second worker or a
`handoff sync` on the same store is refused.
"""

from __future__ import annotations

import json
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
    """A file touched by the worker: its time on the first line, then (JSON) when each job runs
    next, for `handoff status`; replaced whole, so a reader never sees half of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.next_jobs: Callable[[], dict[str, str]] | None = None

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = datetime.now(UTC).isoformat() + "\n"
        if self.next_jobs is not None:
            text += json.dumps({"next_jobs": self.next_jobs()}, sort_keys=True) + "\n"
        partial = self.path.with_name(f".{self.path.name}.{threading.get_ident()}")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.path)


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

    def exclusive(self) -> threading.Lock:
        """The one-job-at-a-time gate, for work beside the schedule (the webhook fast path):
        held, no scheduled job runs; taken while one runs, it waits for that job to end."""
        return self._one_at_a_time

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
        every = self.config.monitoring.heartbeat_every.total_seconds()  # jobs or no jobs
        self.scheduler.add_job(self.heartbeat.beat, IntervalTrigger(seconds=every), id="heartbeat")

    def next_jobs(self) -> dict[str, str]:
        if self._stopped.is_set():  # shutdown(wait=True) holds the job store's lock while it
            return {}  # waits for this job: asking the scheduler now would deadlock
        return {
            job.id: job.next_run_time.astimezone(UTC).replace(microsecond=0).isoformat()
            for job in self.scheduler.get_jobs()
            if job.id != "heartbeat" and job.next_run_time is not None
        }

    def start(self) -> None:
        self.heartbeat.beat()
        self.schedule()
        self.heartbeat.next_jobs = self.next_jobs
        self.scheduler.start()
        log.info("worker.started", jobs=sorted(j.id for j in self.scheduler.get_jobs()))

    def stop(self) -> None:
        """Let the job in flight finish its batch, then shut the scheduler down."""
        self._stopped.set()
        self.scheduler.shutdown(wait=True)
        log.info("worker.stopped")
