"""Builds a real `HubSpotConnector` against the HubSpot emulator over loopback HTTPS.

`build_hubspot_connector(portal) -> (connector, emulator, stop)`, like `sf_harness`: the emulator
serves `portal` on https://127.0.0.1:<port> with a throwaway CA, the connector talks to it
through the real hubspot-api-client, and `stop()` closes both. Waits are capped small so tests
do not sleep for long (the limiter still paces by polling).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from config.connections import Connection
from connectors.hubspot import HubSpotConnector
from sandbox.hubspot import HubSpotEmulator
from sandbox.portal import Portal
from sandbox.server import Handler, SandboxCA, SandboxServer

TOKEN = "pat-sandbox-harness-0000"

OBJECTS: dict[str, Any] = {
    "contact": {
        "email": {"property": "email"},
        "first_name": {"property": "firstname"},
        "last_name": {"property": "lastname"},
        "title": {"property": "jobtitle"},
        "company": {"property": "company"},
        "country": {"property": "country"},
        "lifecycle_stage": {
            "property": "lifecyclestage",
            "type": "enum",
            "managed": True,
            "values": {
                "subscriber": "subscriber",
                "lead": "lead",
                "mql": "marketingqualifiedlead",
                "sql": "salesqualifiedlead",
                "opportunity": "opportunity",
                "customer": "customer",
            },
        },
        "lead_status": {"property": "hs_lead_status", "managed": True},
        "owner_id": {"property": "hubspot_owner_id", "managed": True},
        "unsubscribed": {"property": "hs_email_optout", "type": "boolean"},
        "score": {"property": "handoff_score", "type": "number", "managed": True},
        "score_reasons": {"property": "handoff_score_reasons", "managed": True},
    }
}

ACTIVITIES: list[dict[str, Any]] = [
    {"source": "calls", "kind": "call"},
    {"source": "emails", "kind": "email"},
    {"source": "meetings", "kind": "meeting"},
    {"source": "notes", "kind": "note"},
    {"source": "page_views", "kind": "page_view"},
    {"source": "form_submissions", "kind": "form_submission"},
    {"source": "email_events", "kind": "email_open", "when": {"eventType": "e_opened_email"}},
    {"source": "email_events", "kind": "email_click", "when": {"eventType": "e_clicked_email"}},
    {"source": "webinar_attended", "kind": "webinar_attended"},
]


def hubspot_connection(
    base_url: str,
    ca_file: str,
    *,
    objects: dict[str, Any] | None = None,
    overlap: timedelta = timedelta(minutes=5),
    **settings: Any,
) -> Connection:
    hubspot: dict[str, Any] = {"base_url": base_url, "ca_file": ca_file}
    if "refresh_token" not in settings:
        hubspot["access_token"] = TOKEN
    hubspot |= settings
    return Connection.model_validate(
        {
            "name": "hubspot",
            "kind": "hubspot",
            "hubspot": hubspot,
            "objects": objects or OBJECTS,
            "activities": ACTIVITIES,
            "overlap": overlap,
        }
    )


def short_sleep(seconds: float) -> None:
    """Sleep at most 50 ms: retry waits shrink, the limiter keeps pacing by re-checking."""
    time.sleep(min(seconds, 0.05))


def build_hubspot_connector(
    portal: Portal,
    *,
    objects: dict[str, Any] | None = None,
    emulator_options: dict[str, Any] | None = None,
    sleep: Callable[[float], None] = short_sleep,
    wrap: Callable[[HubSpotEmulator], Handler] | None = None,
    clock: Callable[[], float] = time.monotonic,
    **settings: Any,
) -> tuple[HubSpotConnector, HubSpotEmulator, Callable[[], None]]:
    """`wrap(emulator)` may return a handler that sits in front of `emulator.handle`."""
    options: dict[str, Any] = {"limits_enabled": False}
    options |= emulator_options or {}
    emulator = HubSpotEmulator(portal, token=TOKEN, **options)
    ca = SandboxCA()
    server = SandboxServer(wrap(emulator) if wrap else emulator.handle, ca).start()
    settings.setdefault("requests_per_10s", 5000)
    settings.setdefault("search_per_second", 500.0)
    connection = hubspot_connection(server.base_url, str(ca.ca_file), objects=objects, **settings)
    connector = HubSpotConnector(connection, sleep=sleep, clock=clock)

    def stop() -> None:
        connector.close()
        server.stop()

    return connector, emulator, stop
