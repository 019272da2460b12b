"""`handoff status` and `handoff outbox list|retry|drop`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from config.model import HandoffConfig

HEARTBEAT = Path(os.environ.get("HANDOFF_HEARTBEAT", "/tmp/handoff-heartbeat"))


def _open_store(cfg: HandoffConfig, config: str) -> Engine:
    """The store for reading: a missing SQLite file is an error (a reader never creates one)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    from config.cli import fail
    from sync.store.engine import make_engine
    from sync.store.health import no_store
    from sync.store.schema import StoreUnavailable, import_all_tables, unavailable_message

    absent = no_store(cfg.state.url, config)
    if absent:
        raise fail(absent)
    import_all_tables()
    engine = make_engine(cfg.state.url)
    try:
        tables = set(inspect(engine).get_table_names())
    except OperationalError as exc:
        engine.dispose()
        raise fail(unavailable_message(engine, exc)) from None
    except StoreUnavailable as exc:
        engine.dispose()
        raise fail(str(exc)) from None
    missing = sorted({"runs", "outbox", "incidents", "outbox_actions"} - tables)
    if missing:  # a reader never migrates: the worker, `handoff sync` or `db upgrade` do
        engine.dispose()
        raise fail(
            f"the state store {cfg.state.url.split('@')[-1]} has no {', '.join(missing)} table: "
            "run `handoff db upgrade` (or `handoff sync`) first"
        )
    return engine


def register(app: typer.Typer) -> None:
    from config.cli import ConfigOption

    @app.command()
    def status(
        config: str = ConfigOption,
        as_json: bool = typer.Option(False, "--json", help="The same as JSON."),
        runs: int = typer.Option(5, "--runs", min=1, help="How many recent runs to show."),
        heartbeat: Path = typer.Option(HEARTBEAT, "--heartbeat"),
    ) -> None:
        """The last runs (counts, errors), the outbox (pending, sending, dead), the next jobs,
        the last heartbeat and any open alert."""
        from config.cli import load_or_exit
        from config.secrets import redact
        from sync.ops.status import gather, render
        from sync.runtime import out
        from sync.store.types import utc_now

        cfg = load_or_exit(config)
        engine = _open_store(cfg, config)
        try:
            found = gather(engine, cfg, heartbeat, utc_now(), runs)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(redact(json.dumps(found, indent=2, default=str)))  # never wrapped
        else:
            out.print(render(found), markup=False, highlight=False)

    outbox_app = typer.Typer(
        help="Dead letters: list them with the CRM's reason, retry or drop them.",
        no_args_is_help=True,
    )
    app.add_typer(outbox_app, name="outbox")

    @outbox_app.command("list")
    def outbox_list(
        config: str = ConfigOption,
        status: list[str] = typer.Option(
            ["dead"], "--status", help="dead (default), rejected, dropped, pending, sending."
        ),
        connection: str | None = typer.Option(None, "--connection"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Outbox items (dead letters by default) with the CRM's reason."""
        from config.cli import fail, load_or_exit
        from config.secrets import redact
        from sync.ops.dead_letters import LISTED, list_items
        from sync.runtime import out

        bad = sorted(set(status) - set(LISTED))
        if bad:
            raise fail(f"unknown --status {', '.join(bad)}: use {', '.join(LISTED)}")
        cfg = load_or_exit(config)
        engine = _open_store(cfg, config)
        try:
            items = list_items(engine, status, connection)
        finally:
            engine.dispose()
        if as_json:
            typer.echo(redact(json.dumps(items, indent=2, default=str)))  # never wrapped
            return
        if not items:
            out.print(f"no {'/'.join(status)} outbox items", highlight=False)
            return
        for item in items:
            what = item["field"] if item["kind"] == "field" else item["kind"]
            out.print(
                f"{item['key'][:12]}  {item['status']:<8} {item['connection']} "
                f"{item['object_type']} {item['record_id']}  {what} = {item['value']!r}  "
                f"after {item['attempts']} attempt(s)\n    reason: {item['reason'] or '-'}",
                markup=False,
                highlight=False,
            )
        out.print(
            f"{len(items)} item(s); `handoff outbox retry <key>` sends one again next run, "
            "`handoff outbox drop <key>` gives it up",
            highlight=False,
        )

    def _act(action: str, config: str, keys: list[str], every: bool, connection: str | None,
             now: bool = False) -> None:  # fmt: skip
        from config.cli import fail
        from sync.ops import dead_letters
        from sync.runtime import Runtime, out

        runtime = Runtime(config, f"outbox {action}")  # the store's writer lock, as any writer
        try:
            act = dead_letters.retry if action == "retry" else dead_letters.drop
            try:
                outcomes = act(runtime.engine, keys, every=every, connection=connection)
            except dead_letters.NotFound as exc:
                raise fail(str(exc)) from None
            for outcome in outcomes:
                out.print(f"{outcome.key[:12]}  {outcome.note}", markup=False, highlight=False)
            if not outcomes:
                out.print("no dead letters", highlight=False)
            if now and any(o.done for o in outcomes):
                runtime.run()
        finally:
            runtime.close()
        if now and runtime.last_status != "ok":
            raise typer.Exit(1)

    @outbox_app.command("retry")
    def outbox_retry(
        keys: list[str] = typer.Argument(None, help="Item keys (12+ characters from `list`)."),
        config: str = ConfigOption,
        every: bool = typer.Option(False, "--all", help="Every dead letter."),
        connection: str | None = typer.Option(None, "--connection", help="With --all: one."),
        now: bool = typer.Option(False, "--now", help="Run the pipeline now to send them."),
    ) -> None:
        """Put dead letters back to pending: the next run (or --now) sends them again."""
        _act("retry", config, keys or [], every, connection, now)

    @outbox_app.command("drop")
    def outbox_drop(
        keys: list[str] = typer.Argument(None, help="Item keys (12+ characters from `list`)."),
        config: str = ConfigOption,
        every: bool = typer.Option(False, "--all", help="Every dead letter."),
        connection: str | None = typer.Option(None, "--connection", help="With --all: one."),
    ) -> None:
        """Mark dead letters dropped (never sent), recording who and when."""
        _act("drop", config, keys or [], every, connection)
