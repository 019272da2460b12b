"""`handoff sandbox serve`: run the local HubSpot and Salesforce emulators until stopped."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(help="Local HTTPS emulators of HubSpot and Salesforce.", no_args_is_help=True)
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("serve")
    def serve() -> None:
        """Start both emulators on loopback (not built yet)."""
        typer.echo("handoff sandbox serve is not built yet (Sandbox CRMs issue).", err=True)
        raise typer.Exit(1)
