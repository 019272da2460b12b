"""Pipeline commands: sync, report, demo, run, calibrate, crm setup, health."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sync.runtime import Runtime, err, out, parse_as_of

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _report_store(url: str) -> Engine | None:
    """The store's engine when it holds saved reports; None (read the files) when it cannot be
    read: `handoff report` works without the store, never waits on a writer's migration."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import DatabaseError

    from sync.store.engine import make_engine
    from sync.store.health import StoreDamaged

    try:
        engine = make_engine(url)
        if inspect(engine).has_table("run_reports"):
            return engine
        engine.dispose()
    except (DatabaseError, StoreDamaged):
        pass
    return None


def register(app: typer.Typer) -> None:
    from config.cli import ConfigOption

    @app.command()
    def sync(
        config: str = ConfigOption,
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Decide everything, write nothing; report what would change."
        ),
        as_of: str | None = typer.Option(
            None, "--as-of", help="Decide as of this instant (ISO-8601, e.g. 2026-11-20T15:00:00Z)."
        ),
        full: bool = typer.Option(
            False, "--full", help="Full resync: ignore cursors and re-decide everyone."
        ),
        only: str | None = typer.Option(
            None,
            "--only",
            help="One person (email or CRM record id): pull, decide, write them alone.",
        ),
    ) -> None:
        """Run the pipeline once: pull, score, route, SLA, plan, apply.

        Exits 1 when the run was partial, a dry run too: a CRM could not be read (unreachable,
        refused) or stopped part way, or writes were refused; the report and the warnings above
        say what and why, and the next run resumes. Exits 2 on bad input or an unusable store,
        3 when the writes landed but the report could not be written (docs/reliability.md)."""
        runtime = Runtime(config, "sync --dry-run" if dry_run else "sync")
        try:
            if only is not None:
                from sync.only import run_only

                run_only(runtime, only, dry_run=dry_run, as_of=parse_as_of(as_of))
            else:
                runtime.run(dry_run=dry_run, as_of=parse_as_of(as_of), full=full)
        finally:
            runtime.close()
        if runtime.last_status != "ok":
            raise typer.Exit(1)

    @app.command()
    def report(
        config: str = ConfigOption,
        fmt: list[str] = typer.Option(
            [], "--format", "-f", help="md, csv, json, html (default: config)"
        ),
        run_id: str | None = typer.Option(None, "--run", help="A run id (default: the last run)."),
    ) -> None:
        """Print the last run's report (Markdown) and say where the other formats are.

        Writes the report's files again from the state store, which keeps every run's report:
        after a run whose report could not be written (exit 3), this writes it."""
        from config.cli import fail, load_or_exit
        from sync.report.files import load_report, mark_latest, render_saved

        cfg = load_or_exit(config)
        engine = _report_store(cfg.state.url)
        try:
            saved = load_report(cfg.reports.directory, run_id, engine)
        except FileNotFoundError as exc:
            raise fail(str(exc)) from None
        finally:
            if engine is not None:
                engine.dispose()
        formats = fmt or list(cfg.reports.formats)
        bad = sorted(set(formats) - {"md", "csv", "json", "html"})
        if bad:
            raise fail(f"unknown report format(s) {', '.join(bad)}: use md, csv, json or html")
        paths = render_saved(saved, cfg.reports.directory, formats)
        if run_id is None:
            mark_latest(cfg.reports.directory, saved["run"]["id"])
        if "md" in formats:
            out.print(paths["md"].read_text(encoding="utf-8"), markup=False, highlight=False)
        for name, path in sorted(paths.items()):
            err.print(f"{name}: {path}", highlight=False)

    @app.command()
    def demo(
        contacts: int = typer.Option(
            1500, "--contacts", help="Contacts in the seeded demo portal."
        ),
        seed: int = typer.Option(7, "--seed"),
        crm: str = typer.Option("hubspot", "--crm", help="hubspot, salesforce or both"),
        directory: Path = typer.Option(
            Path("handoff-demo"), "--dir", help="Where the demo writes config, state and reports."
        ),
    ) -> None:
        """Start the sandbox CRMs, dry-run, report, then apply and show the CRM's new state."""
        from sync.demo import run_demo

        if crm not in ("hubspot", "salesforce", "both"):
            raise typer.BadParameter("--crm must be hubspot, salesforce or both")
        run_demo(directory, contacts=contacts, seed=seed, crm=crm, console=out)

    @app.command()
    def run(
        config: str = ConfigOption,
        heartbeat: Path = typer.Option(
            Path(os.environ.get("HANDOFF_HEARTBEAT", "/tmp/handoff-heartbeat")), "--heartbeat"
        ),
        replicas: bool = typer.Option(
            False,
            "--replicas",
            help="Run as one of several replicas on PostgreSQL (procrastinate).",
        ),
        stalled_after: float = typer.Option(
            60.0,
            "--stalled-after",
            help="Replicas: retry a dead replica's job after this many seconds.",
        ),
        confirm: bool = typer.Option(
            False,
            "--confirm",
            help="Write on a store's first run (else a first run is a dry run; sync.first_run).",
        ),
        listen: str | None = typer.Option(
            None,
            "--listen",
            help="host:port for /metrics, /healthz and /readyz (default: monitoring.listen).",
        ),
    ) -> None:
        """The scheduled worker: sync, SLA checks, decay and reports until SIGTERM.

        On a store that never ran live, it dry-runs once and stops: read the report, then run
        again with --confirm (or set sync.first_run: live)."""
        import signal
        import threading

        from config.cli import fail
        from sync.ops.first_run import first_run_message, never_ran_live
        from sync.ops.service import Operations
        from sync.worker import Heartbeat, Worker

        if replicas:  # each job holds its connection of the store (sync/replicas.py)
            runtime = Runtime(config, "run --replicas", hold_store=False)
        else:
            runtime = Runtime(config, "run")
        if (
            not confirm
            and runtime.config.sync.first_run == "dry_run"
            and never_ran_live(runtime.engine)
        ):
            if replicas:
                runtime.close()
                raise fail(
                    "this store never ran live: run `handoff sync --dry-run` and read its "
                    "report, then start the replicas with --confirm (or set sync.first_run: live)"
                )
            try:
                folder = runtime.run(dry_run=True)
            finally:
                runtime.close()
            out.print(first_run_message(folder / "report.md", config), highlight=False)
            return
        try:
            ops = Operations(
                runtime.config,
                runtime.engine,
                lambda: runtime.connectors,
                heartbeat=heartbeat,
                listen=listen or runtime.config.monitoring.listen,
                share_http=not replicas,  # a replica's webhooks listen apart from /metrics
            )
        except ValueError as exc:
            runtime.close()
            raise fail(str(exc)) from None
        if ops.address:
            out.print(f"metrics and health on http://{ops.address}/metrics", highlight=False)
        if replicas:
            from sync.replicas import build_app, ensure_queue_schema, run_replica

            gate = threading.Lock()  # one job at a time in this replica

            def replica_job(connection: str, kind: str) -> None:
                try:
                    with gate:
                        runtime.run_connection(connection, kind)
                except Exception as exc:
                    ops.after_job(kind, exc)
                    raise
                else:
                    ops.after_job(kind, None, runtime.last_status)

            try:
                app_ = build_app(runtime.config, replica_job, stalled_after=stalled_after)
            except ValueError as exc:
                ops.close()
                runtime.close()
                raise fail(str(exc)) from None
            ensure_queue_schema(app_, runtime.config.state.url)
            from sync.speed_http import serving

            with contextlib.ExitStack() as held:
                try:  # each replica serves webhooks, deciding beside its jobs (per-person locks)
                    http = held.enter_context(serving(runtime))
                except OSError as exc:
                    ops.close()
                    runtime.close()
                    raise fail(str(exc)) from None
                out.print(
                    "handoff replica running (procrastinate on PostgreSQL)"
                    + (f"; webhooks on http://{http.host}:{http.port}" if http else "")
                    + "; SIGTERM stops it",
                    highlight=False,
                )
                run_replica(  # beats on a timer, jobs or no jobs: an idle replica is healthy
                    app_,
                    stalled_after=stalled_after,
                    heartbeat=Heartbeat(heartbeat),
                    beat_every=runtime.config.monitoring.heartbeat_every.total_seconds(),
                )
            ops.close()
            runtime.close()
            return

        def job(kind: str) -> None:
            runtime.last_status = "ok"  # the report job runs no pipeline
            try:
                scheduled_job(kind)
            except Exception as exc:
                ops.after_job(kind, exc)
                raise
            ops.after_job(kind, None, runtime.last_status)

        def scheduled_job(kind: str) -> None:
            if kind in ("sync", "decay"):
                runtime.run()
            elif kind == "sla":
                runtime.run(pull=False)
            else:
                from sync.report.files import load_report, render_saved

                with contextlib.suppress(FileNotFoundError):
                    render_saved(
                        load_report(runtime.config.reports.directory),
                        runtime.config.reports.directory,
                        list(runtime.config.reports.formats),
                    )

        worker = Worker(runtime.config, job, heartbeat=Heartbeat(heartbeat))
        stop = threading.Event()

        def on_signal(*_: object) -> None:
            runtime.pipeline.stopping.set()
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        from sync.speed_http import serving

        with contextlib.ExitStack() as held:
            try:  # the webhook endpoint and its fast path, with `http:` in config
                http = held.enter_context(serving(runtime, ops.shared_routes))
            except OSError as exc:
                ops.close()
                runtime.close()
                raise fail(str(exc)) from None
            from sync.change_events import listening

            # Salesforce change events (Pub/Sub API), with `salesforce.change_events: true`
            changes = held.enter_context(listening(runtime))
            if http is not None and ops.shared_routes:
                out.print(
                    f"metrics and health on http://{http.host}:{http.port}/metrics",
                    highlight=False,
                )
            worker.start()
            out.print(
                f"handoff worker running (state {runtime.config.state.url.split('@')[-1]})"
                + (f"; webhooks on http://{http.host}:{http.port}" if http else "")
                + (
                    f"; Salesforce change events from {len(changes.subscriptions)} topic(s)"
                    if changes
                    else ""
                )
                + "; SIGTERM stops it",
                highlight=False,
            )
            stop.wait()
            err.print("stopping: finishing the batch in flight", highlight=False)
            held.close()  # the endpoint and the fast path first
            worker.stop()
            ops.close()
        runtime.close()

    @app.command()
    def calibrate(config: str = ConfigOption) -> None:
        """Lift per signal, a threshold sweep and suggested weights from outcomes in the store.

        Prints a proposed config diff; never changes the config itself."""
        from config.cli import load_or_exit
        from scoring import ScoringModel
        from scoring import calibrate as run_calibration
        from sync.outcomes import calibration_samples
        from sync.store.engine import make_engine
        from sync.store.schema import upgrade

        cfg = load_or_exit(config)
        engine = make_engine(cfg.state.url)
        upgrade(engine)
        samples = calibration_samples(engine)
        report = run_calibration(samples, ScoringModel.from_config(cfg.scoring).rule_points())
        out.print(report.to_markdown(), markup=False, highlight=False)
        diff = report.config_diff()
        if diff:
            out.print("\nProposed change to handoff.yaml (not applied):\n", highlight=False)
            out.print(diff, markup=False, highlight=False)

    crm_app = typer.Typer(help="Prepare the CRMs for Handoff.", no_args_is_help=True)
    app.add_typer(crm_app, name="crm")

    @crm_app.command("setup")
    def crm_setup(
        config: str = ConfigOption,
        check: bool = typer.Option(False, "--check", help="Only list what is missing."),
    ) -> None:
        """Create the custom score and task-key properties Handoff writes (or say what to add);
        with --check, also which behaviour sources (forms, page views, email events) the token
        can read."""
        from config.cli import fail, load_or_exit
        from connectors.errors import FatalError
        from connectors.factory import build_connector

        cfg = load_or_exit(config)
        missing_any = False
        for connection in cfg.connections:
            try:
                connector = build_connector(connection, config)
            except FatalError as exc:
                raise fail(str(exc)) from None
            try:
                if check and hasattr(connector, "behaviour_sources"):
                    for source, how in connector.behaviour_sources().items():
                        out.print(f"{connection.name}: {source}: {how}", highlight=False)
                missing = list(getattr(connector, "missing_fields", list)())
                if not missing:
                    out.print(
                        f"{connection.name}: every field Handoff writes exists", highlight=False
                    )
                    continue
                missing_any = True
                out.print(f"{connection.name}: missing {', '.join(missing)}", highlight=False)
                if not check:
                    created = connector.create_missing_fields()  # type: ignore[attr-defined]
                    out.print(f"{connection.name}: created {', '.join(created)}", highlight=False)
                    missing_any = False
            except FatalError as exc:
                raise fail(str(exc)) from None
            finally:
                connector.close()
        if check and missing_any:
            raise typer.Exit(1)

    @app.command()
    def health(
        heartbeat: Path = typer.Option(
            Path(os.environ.get("HANDOFF_HEARTBEAT", "/tmp/handoff-heartbeat")), "--heartbeat"
        ),
        max_age: float = typer.Option(180.0, "--max-age", help="Seconds since the last heartbeat."),
    ) -> None:
        """Exit 0 when the worker's heartbeat is fresh (Docker HEALTHCHECK)."""
        try:
            age = time.time() - heartbeat.stat().st_mtime
        except FileNotFoundError:
            err.print(f"unhealthy: no heartbeat at {heartbeat}: is `handoff run` running?")
            raise typer.Exit(1) from None
        if age > max_age:
            err.print(f"unhealthy: last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
            raise typer.Exit(1)
        out.print(json.dumps({"status": "ok", "heartbeat_age_seconds": round(age, 1)}))
