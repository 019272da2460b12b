"""Pipeline commands: demo, sync, run, report, calibrate, crm setup, health."""

from __future__ import annotations

import typer


def _not_built(name: str, issue: str) -> None:
    typer.echo(f"handoff {name} is not built yet ({issue}).", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Start the sandbox CRMs, dry-run, report, then apply and show the CRM's new state."""
        _not_built("demo", "Sync pipeline issue")

    @app.command()
    def sync() -> None:
        """Run the pipeline once: pull, score, route, SLA, plan, apply."""
        _not_built("sync", "Sync pipeline issue")

    @app.command()
    def run() -> None:
        """Run the scheduled worker."""
        _not_built("run", "Running it for real issue")

    @app.command()
    def report() -> None:
        """Write the reports of the last run."""
        _not_built("report", "Sync pipeline issue")
