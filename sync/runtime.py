"""The runtime a command opens to run the pipeline: config, store, connectors, progress, output.

Commands print through `out` and `err`, which redact the configured secret values."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from config.secrets import RedactingConsole

if TYPE_CHECKING:
    from config.model import HandoffConfig

out = RedactingConsole()  # every message printed has the configured secret values redacted
err = RedactingConsole(stderr=True)


def parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 instant, e.g. 2026-11-20T15:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no time zone: add Z (UTC) or an offset")
    return parsed.astimezone(UTC)


def share_budgets(engine: Any, url: str, connectors: dict[str, Any]) -> None:
    """On PostgreSQL the portal's rate budget is shared by every process on the store (replicas,
    a `handoff sync` beside a worker): connectors/shared_budget.py. SQLite: one node, the
    in-process limiter alone."""
    if engine.dialect.name != "postgresql":
        return
    from connectors.shared_budget import postgres_connect
    from sync.replicas import conninfo

    for connector in connectors.values():
        share = getattr(getattr(connector, "transport", None), "share_budget", None)
        if share is not None:
            share(postgres_connect(conninfo(url)))


class Runtime:
    """Config, store and connectors opened for running; every user mistake exits 2 with the fix."""

    def __init__(
        self,
        config_path: str,
        command: str = "sync",
        *,
        hold_store: bool = True,
        log_level: str | None = None,
    ) -> None:
        """`hold_store`: take the store's writer lock for this process's life (sync, run);
        replicas take it per job instead (sync/replicas.py). `log_level`: instead of the
        config's (the demo tells its story in words and keeps the logs to errors)."""
        from config.cli import fail, load_or_exit
        from config.logs import configure_logging
        from connectors.errors import FatalError
        from connectors.factory import build_connector
        from sync.object_growth import start_from_environment
        from sync.pipeline import Pipeline
        from sync.process_memory import apply_allocator_policy
        from sync.store.engine import make_engine
        from sync.store.schema import StoreUnavailable, upgrade
        from sync.store.writer_lock import hold_or_exit

        apply_allocator_policy()  # before the run's threads start: sync/process_memory.py
        start_from_environment()  # HANDOFF_OBJECT_GROWTH: opt-in, sync/object_growth.py
        self.config = load_or_exit(config_path)
        configure_logging(log_level or self.config.logging.level, self.config.logging.format)
        self.writer = hold_or_exit(self.config, command) if hold_store else None
        self.engine = make_engine(self.config.state.url, **_pool(self.config))
        try:
            upgrade(self.engine)
            self.connectors = {
                c.name: build_connector(c, config_path) for c in self.config.connections
            }
            share_budgets(self.engine, self.config.state.url, self.connectors)
        except (StoreUnavailable, FatalError) as exc:
            self.engine.dispose()
            if self.writer is not None:
                self.writer.release()
            raise fail(str(exc)) from None
        self.pipeline = Pipeline(self.config, self.engine, self.connectors)
        self.last_status = "ok"
        self.shown_warnings: set[str] = set()  # a warning is printed once per runtime (or demo)

    def run(
        self,
        *,
        dry_run: bool = False,
        as_of: datetime | None = None,
        full: bool = False,
        pull: bool = True,
    ) -> Path:
        from config.logs import bound_job
        from sync.process_memory import release_freed_memory
        from sync.report.files import write_run_reports

        if self.writer is not None:
            self.writer.reassert()  # a long-lived worker's PostgreSQL lock can be lost
        with (
            bound_job(run_id="pending", connection="all", job="sync", dry_run=dry_run),
            _progress() as progress,
        ):
            result = self.pipeline.run(
                as_of=as_of, dry_run=dry_run, full=full, pull=pull, progress=progress
            )
        folder = write_run_reports(result, self.engine, self.config, self.pipeline.sla)
        release_freed_memory()  # what the report read and rendered
        mode = "dry run: nothing was written to the CRMs" if dry_run else "applied"
        out.print(
            f"run {result.run_id} ({mode}): {len(result.planned)} change(s) planned, "
            f"{len(result.writes.items)} {'would be written' if dry_run else 'written'}; "
            f"report: {folder / 'report.md'}",
            highlight=False,
        )
        for warning in result.warnings:
            if warning not in self.shown_warnings:
                err.print(f"warning: {warning}", highlight=False, markup=False)
                self.shown_warnings.add(warning)
        for error in result.errors:
            err.print(f"warning: {error}", highlight=False, markup=False)
        dead = result.writes.counts.get("dead", 0)
        if dead:
            err.print(
                f"warning: {dead} write(s) the CRM refused sync.max_attempts times are dead "
                "letters: `handoff outbox list` shows why; `handoff outbox retry|drop`",
                highlight=False,
                markup=False,
            )
        self.last_status = result.status
        return folder

    def run_connection(self, connection: str, kind: str) -> None:
        """One replica job: this connection's pull and writes (decisions cover everyone)."""
        from sync.pipeline import Pipeline

        if kind == "report":
            from sync.report.files import load_report, render_saved

            with contextlib.suppress(FileNotFoundError):
                directory = self.config.reports.directory
                render_saved(load_report(directory), directory, list(self.config.reports.formats))
            return
        pipeline = Pipeline(self.config, self.engine, {connection: self.connectors[connection]})
        self.pipeline = pipeline
        from sync.report.files import write_run_reports

        result = pipeline.run(pull=kind != "sla")
        self.last_status = result.status
        write_run_reports(result, self.engine, self.config, pipeline.sla)

    def close(self) -> None:
        for connector in self.connectors.values():
            connector.close()
        self.engine.dispose()
        if self.writer is not None:
            self.writer.release()


class _progress:
    """A rich progress bar in a terminal; structured progress logs otherwise."""

    def __enter__(self):  # type: ignore[no-untyped-def]
        import structlog

        self._log = structlog.get_logger("handoff.progress")
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, int] = {}
        if err.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._bar.start()
        return self.update

    def update(self, stage: str, n: int) -> None:
        self._counts[stage] = self._counts.get(stage, 0) + n
        if self._bar is not None:
            if stage not in self._tasks:
                self._tasks[stage] = self._bar.add_task(stage, total=None)
            self._bar.update(self._tasks[stage], advance=n)
        elif self._counts[stage] % 5000 < n:
            self._log.info("progress", stage=stage, done=self._counts[stage])

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _pool(config: HandoffConfig) -> dict[str, int]:
    """Connections for a worker's threads: the scheduled run's (decisions, locks, pulls, the
    write-behind) and, per fast-path decider, up to three at once (the person's lock, the
    decision, a routing transaction) for webhooks and change events each. SQLAlchemy's default
    (5, overflow 10) made deciders wait for connections."""
    url = config.state.url
    if ":memory:" in url or url.rstrip("/") == "sqlite:":
        return {}
    deciders = config.sync.fast_path_deciders
    return {"pool_size": 5 + 2 * deciders, "max_overflow": 10 + 4 * deciders}
