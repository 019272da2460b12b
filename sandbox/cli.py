"""`handoff sandbox serve`: run the local HubSpot and Salesforce emulators until stopped."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import typer

HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(
        help="Local HTTPS emulators of HubSpot and Salesforce.", no_args_is_help=True
    )
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command("serve")
    def serve(
        seed: int = typer.Option(7, "--seed", help="Same seed, same portal."),
        contacts: int = typer.Option(5000, "--contacts", help="Seeded contacts (0: empty portal)."),
        activity_scale: float = typer.Option(
            1.0,
            "--activity-scale",
            help="Seeded activities per contact, times this (1: ~20 each; 0.1: ~2 each).",
        ),
        fixture: Path | None = typer.Option(
            None, "--fixture", help="Load the portal from a YAML/JSON fixture."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
        limits: bool = typer.Option(False, "--limits", help="Enforce the CRMs' rate limits."),
        host: str = typer.Option("127.0.0.1", "--host"),
        hubspot_port: int = typer.Option(
            0, "--port", "--hubspot-port", help="HubSpot's HTTPS port (0: any free port)."
        ),
        hostnames: list[str] = typer.Option(
            [],
            "--hostname",
            help="Also issue the TLS certificate for this name (repeatable), e.g. api.hubapi.com "
            "for a client that hard-codes HubSpot's host; docs/sandbox.md.",
        ),
        request_log: Path | None = typer.Option(
            None,
            "--request-log",
            help="Append every request as a JSON line (method, path, query, status, endpoint, "
            "bucket, time, duration_ms) to this file.",
        ),
        salesforce_port: int = typer.Option(0, "--salesforce-port", help="0: any free port"),
        crm: str = typer.Option(
            "both",
            "--crm",
            help="Emulators to start: hubspot, salesforce or both. One alone starts sooner "
            "(building the Salesforce org and its Account Engagement data is most of a large "
            "portal's start).",
        ),
        ca_dir: Path | None = typer.Option(None, "--ca-dir", help="Where to write the CA file."),
        tier: str | None = typer.Option(
            None,
            "--tier",
            help="HubSpot portal tier: starter, professional or enterprise (default: the "
            "fixture's tier:, else professional). Below enterprise the Events API is refused.",
        ),
        webhook_url: str | None = typer.Option(
            None,
            "--webhook-url",
            help="Deliver the HubSpot app's contact webhooks here (e.g. `handoff run`'s "
            "http://127.0.0.1:8080/webhooks/hubspot/hubspot), signed with the secret in "
            "HUBSPOT_CLIENT_SECRET; docs/speed-to-lead.md.",
        ),
    ) -> None:
        """Start both emulators on loopback and serve until Ctrl-C / SIGTERM."""
        from sandbox.fixture import FixtureError, load_fixture
        from sandbox.portal import Portal
        from sandbox.runtime import Sandbox
        from sandbox.seed import generate_portal

        if crm not in ("hubspot", "salesforce", "both"):
            typer.echo(f"error: --crm {crm!r}: use hubspot, salesforce or both", err=True)
            raise typer.Exit(2)
        if tier is not None and tier not in ("free", "starter", "professional", "enterprise"):
            typer.echo(f"error: --tier {tier!r}: use starter, professional or enterprise", err=True)
            raise typer.Exit(2)
        secret = os.environ.get("HUBSPOT_CLIENT_SECRET", "")
        if webhook_url is not None and (not secret or not webhook_url.startswith("http")):
            typer.echo(
                "error: --webhook-url needs an http(s) URL and the app secret in "
                "HUBSPOT_CLIENT_SECRET (the same value `handoff run` checks signatures with)",
                err=True,
            )
            raise typer.Exit(2)
        for name in hostnames:
            if not HOSTNAME.fullmatch(name):
                typer.echo(
                    f"error: --hostname {name!r}: give a DNS name such as api.hubapi.com "
                    "(letters, digits, dots and hyphens)",
                    err=True,
                )
                raise typer.Exit(2)
        if request_log is not None:
            try:
                request_log.parent.mkdir(parents=True, exist_ok=True)
                request_log.open("a").close()
            except OSError as exc:
                typer.echo(
                    f"error: --request-log {request_log}: cannot append to it ({exc.strerror}); "
                    "give a writable file path",
                    err=True,
                )
                raise typer.Exit(2) from None
        if fixture is not None:
            try:
                portal = load_fixture(fixture)
            except FixtureError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
        elif contacts <= 0:
            portal = Portal()
        else:
            portal = generate_portal(
                seed, contacts, datetime.now(UTC).replace(microsecond=0), activity_scale
            )
        sandbox = Sandbox(
            portal,
            hubspot=crm != "salesforce",
            salesforce=crm != "hubspot",
            limits_enabled=limits,
            ca_directory=ca_dir,
            host=host,
            hubspot_port=hubspot_port,
            salesforce_port=salesforce_port,
            hubspot_tier=tier,
            hostnames=tuple(hostnames),
            request_log=request_log,
        ).start()
        # before the address is printed: a script may stop the sandbox as soon as it reads it
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        info = sandbox.info
        if webhook_url is not None and sandbox.hubspot is not None:
            sandbox.hubspot.enable_webhooks(webhook_url, secret)
        if as_json:
            typer.echo(json.dumps(info.as_json(), sort_keys=True), nl=True)
        else:
            if sandbox.hubspot is not None:
                typer.echo(
                    f"HubSpot     {info.hubspot_base_url}  token: {info.hubspot_token}  "
                    f"tier: {sandbox.hubspot.tier}"
                )
            if sandbox.salesforce is not None:
                typer.echo(
                    f"Salesforce  {info.salesforce_instance_url}  "
                    f"session: {info.salesforce_session_id}"
                )
            if info.salesforce_pubsub_endpoint:
                typer.echo(f"Pub/Sub API {info.salesforce_pubsub_endpoint}  (gRPC, TLS)")
            typer.echo(f"CA file     {info.ca_file}")
            typer.echo(f"TLS names   {', '.join(sandbox.ca.hostnames)}")
            if request_log is not None:
                typer.echo(f"Requests    logged to {request_log}")
            if webhook_url is not None:
                typer.echo(f"Webhooks    HubSpot contact events -> {webhook_url}")
            typer.echo(
                "Point a config at them: see README 'Trying a config on the sandbox'. Ctrl-C stops."
            )
        stop.wait()
        sandbox.stop()  # the ports closed, the request log flushed and closed
        sandbox.ca.cleanup()
        # Out now: freeing a large portal object by object (this frame's locals, then the
        # interpreter's last collection) was nearly all of a 17.6 s exit on SIGTERM at 100,000
        # contacts (the servers' stop: 0.1 s at 20,000); the OS takes the memory back at once.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(0)
