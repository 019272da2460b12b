"""The `handoff` command line (typer + rich).

Commands that belong to other packages live beside their code and are registered here; a user's
mistake (bad config, unreachable store) prints a clear message and exits 2, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape

from config.loader import ConfigError, check_config, load_config, read_config_text
from config.model import HandoffConfig
from config.secrets import RedactingConsole

app = typer.Typer(
    name="handoff",
    help="Lead handoff worker: pull, score, route, watch SLAs and write back to HubSpot/Salesforce.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check and describe handoff.yaml.", no_args_is_help=True)
db_app = typer.Typer(help="The state store (SQLite or PostgreSQL).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

out = RedactingConsole()  # every message printed has the configured secret values redacted
err = RedactingConsole(stderr=True)

DEFAULT_CONFIG = "handoff.yaml"
CONFIG_ENV = "HANDOFF_CONFIG"
ConfigOption = typer.Option(
    DEFAULT_CONFIG,
    "--config",
    "-c",
    envvar=CONFIG_ENV,
    help="Path to handoff.yaml (default ./handoff.yaml; env HANDOFF_CONFIG).",
)


def missing_config(path: str) -> str | None:
    """What to say when the config file is not there (None when it is)."""
    if Path(path).exists():
        return None
    if path == DEFAULT_CONFIG and not os.environ.get(CONFIG_ENV):
        return (
            f"no handoff.yaml in {Path.cwd()}: write one with `handoff init` (or `handoff init "
            "--crm salesforce|both`), or point --config or HANDOFF_CONFIG at yours"
        )
    named = "HANDOFF_CONFIG" if os.environ.get(CONFIG_ENV) == path else "--config"
    return (
        f"{path} (from {named}) does not exist: check the path, or write a starter there "
        f"with `handoff init --output {path}`"
    )


DISTRIBUTION = "handoff-revops"  # the name on PyPI (pyproject.toml); the command is `handoff`


def installed_version() -> str:
    """The version pip installed (the distribution's metadata), not a copy kept in the source."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        raise fail(
            f"the {DISTRIBUTION} distribution is not installed in this Python "
            "(a checkout run without installing it): run `pip install -e .` in the checkout"
        ) from None


def _print_version(value: bool) -> None:
    if value:
        out.print(f"handoff {installed_version()} ({DISTRIBUTION})", highlight=False)
        raise typer.Exit()


@app.callback()
def _handoff(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
) -> None:
    """Lead handoff worker: pull, score, route, watch SLAs and write back to HubSpot/Salesforce."""


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load_or_exit(path: str) -> HandoffConfig:
    """Load a config for running; print every problem and exit 2 when it is not usable."""
    absent = missing_config(path)
    if absent:
        raise fail(absent)
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.lines():
            err.print(line, highlight=False, markup=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s): fix them and run again.", style="red")
        raise typer.Exit(2) from None


@config_app.command("validate")
def config_validate(
    files: list[Path] = typer.Argument(
        None, help="Config files to check (default: --config, HANDOFF_CONFIG or ./handoff.yaml)."
    ),
    strict_env: bool = typer.Option(
        False, "--strict-env", help="Treat unset environment variables as errors (as at run time)."
    ),
    config: str = ConfigOption,
) -> None:
    """Report every problem in each file, with its location and the fix. Exit 2 if any."""
    if not files:
        absent = missing_config(config)
        if absent:
            raise fail(absent)
        files = [Path(config)]
    failed = False
    for file in files:
        try:
            text = read_config_text(file)
        except ConfigError as exc:
            for line in exc.lines():
                err.print(line, markup=False, highlight=False, soft_wrap=True)
            failed = True
            continue
        parsed, problems = check_config(text, str(file))
        errors = [p for p in problems if strict_env or not p.environment]
        warnings = [p for p in problems if p not in errors]
        for problem in sorted(errors, key=lambda p: (p.line or 0, p.location)):
            err.print(problem.render(str(file)), markup=False, highlight=False, soft_wrap=True)
        for problem in warnings:
            err.print(
                "warning: " + problem.render(str(file)),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if errors or parsed is None:
            failed = True
            err.print(f"{file}: {len(errors)} problem(s)", style="red", highlight=False)
        else:
            out.print(f"{file}: ok", style="green", highlight=False)
    if failed:
        raise typer.Exit(2)


app.command("validate", help="Same as `handoff config validate`.")(config_validate)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of handoff.yaml (for editor completion)."""
    from config.editor_schema import render

    typer.echo(render(), nl=False)  # durations as 5m, defaults, canonical field names


@db_app.command("upgrade")
def db_upgrade(config: str = ConfigOption) -> None:
    """Bring the state store to the current schema (also done on every start)."""
    from sync.store.engine import make_engine
    from sync.store.schema import StoreUnavailable, upgrade
    from sync.store.writer_lock import hold_or_exit

    cfg = load_or_exit(config)
    writer = hold_or_exit(cfg, "db upgrade")  # never migrates under a running sync or worker
    try:
        upgrade(make_engine(cfg.state.url))
    except StoreUnavailable as exc:
        raise fail(str(exc)) from None
    finally:
        writer.release()
    out.print(f"state store at {cfg.state.url.split('@')[-1]} is up to date", highlight=False)


def _register_commands() -> None:
    """Commands owned by other packages register themselves on `app`."""
    import importlib

    for module in ("config.init", "sandbox.cli", "sync.cli", "sync.explain.cli", "sync.ops.cli"):
        importlib.import_module(module).register(app)


_register_commands()


def main() -> None:
    """`handoff`: a failure of the environment (a damaged or full store, a reports directory that
    cannot be written) ends in one clear message and its exit code (sync/failures.py). Anything
    else is a bug and keeps its traceback, with secret values redacted from it too."""
    from config.secrets import redacting_excepthooks

    redacting_excepthooks()
    try:
        app()
    except Exception as exc:
        from sync.failures import explain

        explained = explain(exc)
        if explained is None:
            raise
        message, code = explained
        err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise SystemExit(code) from None


if __name__ == "__main__":
    main()
