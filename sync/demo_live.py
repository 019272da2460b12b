"""`handoff demo`'s live demo request: a form submitted in the HubSpot sandbox, delivered as a signed
webhook to the fast path (sync/speed.py) and routed in seconds, without a scheduled sync."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import requests
from rich.console import Console

WAIT = 120.0  # the demo gives up (and says so) after this
DEMO_FIELDS = {
    "firstname": "Avery",
    "lastname": "Quinn",
    "jobtitle": "VP of Sales",
    "company": "Northwind Analytics",
    "numemployees": "450",
    "country": "US",
    "state": "NY",
    "asset_stage": "bottom",
}


def live_demo_request(sandbox: Any, config: Path, console: Console) -> None:
    """Serve the webhook endpoint in-process, submit a demo request, tell what happened."""
    from sync.runtime import Runtime
    from sync.serve import HttpServer
    from sync.speed import FastPath
    from sync.speed_http import webhook_endpoint

    hubspot = getattr(sandbox, "hubspot", None)
    if hubspot is None:
        return
    form = next((f for f in hubspot.store.forms.values() if f.name == "Demo request"), None)
    if form is None:
        return
    runtime = Runtime(str(config), "run", log_level="error")
    name = next(c.name for c in runtime.config.connections if c.hubspot is not None)
    secret = secrets.token_hex(16)  # the sandbox app's client secret, this demo only
    fast = FastPath(runtime, size=1000)
    server = HttpServer("127.0.0.1", 0)
    server.mount(f"/webhooks/hubspot/{name}", webhook_endpoint(fast, name, secret, None), ["POST"])
    fast.start()
    server.start()
    app = hubspot.enable_webhooks(f"http://127.0.0.1:{server.port}/webhooks/hubspot/{name}", secret)
    try:
        email = f"avery.quinn.{secrets.token_hex(2)}@northwind-analytics.com"
        started = time.monotonic()
        _submit(sandbox.info, form.id, email)
        while fast.decided < 1 and time.monotonic() - started < WAIT:
            time.sleep(0.05)
        seconds = time.monotonic() - started
        contact = hubspot.store.find_by("contacts", "email", email)
        owner_id = contact.properties.get("hubspot_owner_id") if contact else None
        owner = hubspot.store.owners.get(owner_id or "")
        if contact is None or owner is None:
            console.print(f"The demo request from {email} was not routed within {WAIT:.0f} s.")
            return
        console.print(
            f"{DEMO_FIELDS['firstname']} {DEMO_FIELDS['lastname']} <{email}>, "
            f"{DEMO_FIELDS['jobtitle']} at {DEMO_FIELDS['company']}, submitted the "
            f"'{form.name}' form. HubSpot sent a signed webhook ({len(app.deliveries)} delivery); "
            f"Handoff decided that one person at once: stage "
            f"{_stage(contact.properties.get('lifecyclestage'))}, routed to {owner.email} "
            f"in {seconds:.1f} s from the submission, no scheduled sync involved.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    finally:
        hubspot.disable_webhooks()
        server.stop()
        fast.stop()
        runtime.close()


def _stage(value: str | None) -> str:
    return {"marketingqualifiedlead": "MQL", "salesqualifiedlead": "SQL"}.get(
        value or "", value or ""
    )


def _submit(info: Any, form_guid: str, email: str) -> None:
    fields = {"email": email, **DEMO_FIELDS}
    answer = requests.post(
        f"{info.hubspot_base_url}/submissions/v3/integration/submit/"
        f"{info.hubspot_portal_id}/{form_guid}",
        json={
            "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()]
        },
        verify=str(info.ca_file),
        timeout=30,
    )
    answer.raise_for_status()
