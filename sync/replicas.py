"""Replicas on PostgreSQL: `handoff run --replicas` runs the jobs through procrastinate.

- One job kind per (connection, kind) - sync, sla, decay, report - deferred by procrastinate's
  periodic deferrer, which defers each period once whatever the replica count (a unique row per
  periodic id and timestamp).
- A per-connection `lock` makes each portal/org sync on one replica at a time, and a
  `queueing_lock` keeps at most one waiting job per connection and kind.
- Each job (but the report) holds its connection's writer lock while it runs
  (sync/store/writer_lock.py), so a `handoff sync` or a single `handoff run` on the same store never
  writes that connection at the same time: whichever comes second is refused (the job is skipped
  with a warning and runs again next period).
- Each replica beats its heartbeat file (`handoff status`, /healthz, /readyz) every
  `monitoring.heartbeat_every` on its worker's event loop, jobs or no jobs: an idle replica is
  not a dead one.
- Workers send heartbeats; a periodic `recover_stalled` job retries the jobs of a replica that
  died (no heartbeat for `stalled_after` seconds). The outbox makes that retry safe: items the dead
  replica marked `sending` are resent with a task-key lookup, so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import structlog
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status
from sqlalchemy.engine import make_url

from config.model import HandoffConfig
from sync.store.writer_lock import StoreBusy, StoreWriter
from sync.worker import Heartbeat

log = structlog.get_logger("handoff.replicas")
QUEUE = "handoff"
JOB_KINDS = ("sync", "sla", "decay", "report")
SCHEMA_LOCK = 7220313


def conninfo(url: str) -> str:
    """A libpq connection string from the state store URL (`postgresql+psycopg://...`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(
            f"replicas need PostgreSQL: state.url is {parsed.get_backend_name()}; "
            "use postgresql+psycopg://user@host/db (docs/deploy.md)"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def cron_every(every: timedelta, *, key: str = "schedules") -> str:
    """A procrastinate cron for "every N", or ValueError when cron cannot step by N.

    Cron steps restart each hour (minutes) and each day (hours), so only a divisor of 60 seconds,
    of 60 minutes or of 24 hours, or a whole day, fires every N exactly: `*/90` would fire at :00
    and :90 (never), `*/1440` is no minute at all.
    """
    seconds = max(1, int(every.total_seconds()))
    if seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    minutes, hours = seconds // 60, seconds // 3600
    if seconds % 60 == 0 and minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if seconds % 3600 == 0 and hours < 24 and 24 % hours == 0:
        return f"0 */{hours} * * *"
    if seconds == 86400:
        return "0 0 * * *"
    raise ValueError(
        f"{key}: every {every} cannot be a replica schedule (cron steps restart each minute, "
        "hour and day): use a divisor of 60 seconds, of 60 minutes or of 24 hours, or 1d"
    )


def _stall_check_every(stalled_after: float) -> int:
    """Half the stall limit, rounded down to a step cron can take (5 s at least, 30 s at most)."""
    half = max(5, int(stalled_after / 2))
    return max(step for step in (5, 6, 10, 12, 15, 20, 30) if step <= half)


def cron_daily(at: str) -> str:
    hour, minute = at.split(":")
    return f"{int(minute)} {int(hour)} * * *"


def build_app(
    config: HandoffConfig,
    run_job: Callable[[str, str], Any],
    *,
    stalled_after: float = 60.0,
) -> App:
    """The procrastinate app: one task, scheduled per connection and job kind."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(config.state.url)))

    @app.task(name="handoff.job", queue=QUEUE, pass_context=False)
    def job(timestamp: int | None = None, connection: str = "", kind: str = "sync") -> None:
        structlog.contextvars.bind_contextvars(
            connection=connection, job=kind, worker=f"{socket.gethostname()}:{os.getpid()}"
        )
        try:
            if kind == "report":  # reads the saved report only
                run_job(connection, kind)
                return
            try:
                writer = StoreWriter(config.state.url, f"run --replicas ({kind})", [connection])
                writer.acquire()
            except StoreBusy as exc:  # a `handoff sync` or a single worker writes it now
                log.warning("job.skipped", reason=str(exc))
                return
            try:
                run_job(connection, kind)
            finally:
                writer.release()
        finally:
            structlog.contextvars.unbind_contextvars("connection", "job", "worker")

    schedules = config.schedules
    crons = {
        "sync": cron_every(schedules.sync_every, key="schedules.sync_every"),
        "sla": cron_every(schedules.sla_every, key="schedules.sla_every"),
        "decay": cron_daily(schedules.decay_at),
        "report": cron_daily(schedules.report_at),
    }
    for connection in config.connections:
        for kind, cron in crons.items():
            app.periodic(
                cron=cron,
                periodic_id=f"{kind}:{connection.name}",
                lock=f"connection:{connection.name}",
                queueing_lock=f"{kind}:{connection.name}",
                task_kwargs={"connection": connection.name, "kind": kind},
            )(job)

    @app.periodic(
        cron=cron_every(timedelta(seconds=_stall_check_every(stalled_after))), periodic_id="stalled"
    )
    @app.task(
        name="handoff.recover_stalled",
        queue=QUEUE,
        queueing_lock="recover_stalled",
        pass_context=False,
    )
    async def recover_stalled(timestamp: int) -> None:
        manager = app.job_manager
        for stalled in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
            try:
                await manager.retry_job(stalled)
                log.warning("job.stalled_retried", job_id=stalled.id, task=stalled.task_name)
            except UniqueViolation:
                # The next period's job is already queued for this connection: end the dead
                # one (releasing the connection lock) and let the queued one do the work.
                assert stalled.id is not None
                await manager.finish_job_by_id_async(stalled.id, Status.FAILED, delete_job=False)
                log.warning("job.stalled_closed", job_id=stalled.id, task=stalled.task_name)

    return app


def ensure_queue_schema(app: App, url: str) -> None:
    """Create procrastinate's tables once: idempotent, and safe when replicas start together."""
    import psycopg

    with psycopg.connect(conninfo(url), autocommit=True) as connection:
        connection.execute(f"SELECT pg_advisory_lock({SCHEMA_LOCK})")
        try:
            row = connection.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL"
            ).fetchone()
            if not (row and row[0]):
                connection.execute(app.schema_manager.get_schema())  # type: ignore[arg-type]
        finally:
            connection.execute(f"SELECT pg_advisory_unlock({SCHEMA_LOCK})")


async def _pulse(heartbeat: Heartbeat, every: float) -> None:
    """Beat every `every` seconds on the worker's event loop: while the loop turns (jobs run in
    threads beside it), the replica is alive, whether or not a job came its way."""
    while True:
        try:
            heartbeat.beat()
        except OSError as exc:  # a full or read-only disk: /healthz will say so
            log.warning("heartbeat.failed", path=str(heartbeat.path), error=str(exc))
        await asyncio.sleep(every)


async def work(
    app: App,
    *,
    stalled_after: float = 60.0,
    heartbeat: Heartbeat | None = None,
    beat_every: float = 15.0,
    install_signal_handlers: bool = True,
) -> None:
    """Work jobs until SIGTERM/SIGINT (procrastinate lets the job in flight finish), beating
    `heartbeat` on a timer of its own: an idle replica (another replica holds the connection, or
    nothing is due) stays healthy; a stopped or wedged one goes stale."""
    async with app.open_async():
        pulse = asyncio.create_task(_pulse(heartbeat, beat_every)) if heartbeat else None
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=1,
                name=f"handoff-{socket.gethostname()}-{os.getpid()}",
                update_heartbeat_interval=max(1.0, stalled_after / 6),
                stalled_worker_timeout=stalled_after,
                install_signal_handlers=install_signal_handlers,
                fetch_job_polling_interval=1.0,
            )
        finally:
            if pulse is not None:
                pulse.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pulse


def run_replica(
    app: App,
    *,
    stalled_after: float = 60.0,
    heartbeat: Heartbeat | None = None,
    beat_every: float = 15.0,
) -> None:
    """`work` until SIGTERM/SIGINT, on an event loop of its own."""
    asyncio.run(work(app, stalled_after=stalled_after, heartbeat=heartbeat, beat_every=beat_every))
