"""A demo request made while `handoff run` was down is routed when it starts again, long before
HubSpot's retry of the failed delivery (sync/catch_up.py), and exactly once with that retry and
the next scheduled sync.

`handoff run` against the sandbox routes a first demo request (the fast path's watermark moves).
The worker is stopped (SIGTERM) or killed (SIGKILL); a second person submits the demo form; the
sandbox app's delivery fails (nobody listens) and is retried on HubSpot's schedule, compressed here
to about 20 s. The worker starts again; its scheduled sync's contact search is held up, so only
the fast path's catch-up can route the person: owner, MQL, one task in the owner's queue, read
through hubspot-api-client, before the retry comes. The retry then decides the person once more
and changes nothing; the next `handoff sync` (the worker stopped) plans nothing for them: one
task, the same owner, one routing decision.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from crm_clients import HubSpotClient
from e2e_stack import SEED_NOW
from test_demo_request_from_conversion_properties import _next_sync, _planned_for
from test_speed_to_lead import (
    DEADLINE,
    ROOT,
    SECRET,
    Worker,
    _assignments,
    _config,
    _demo_form,
    _free_port,
    _routed,
    _submit,
)

from config.loader import load_config
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.demo import sandbox_environment

pytestmark = pytest.mark.slow
RETRY_BASE = 20.0  # the app's first retry 18-22 s after a failed delivery (HubSpot: minutes)
CONTACT_SEARCH = "/crm/v3/objects/contacts/search"


@contextmanager
def _portal(tmp_path: Path, store_url: str) -> Iterator[tuple[Sandbox, Any, Path, dict[str, str]]]:
    portal = generate_portal(3, 80, SEED_NOW)
    sandbox = Sandbox(portal, hubspot=True, salesforce=False, ca_directory=tmp_path / "ca")
    port = _free_port()
    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        config = _config(tmp_path, port)
        run_env = {
            **os.environ,
            **env,
            "HANDOFF_STATE_URL": store_url,
            "HUBSPOT_CLIENT_SECRET": SECRET,
            "PYTHONPATH": str(ROOT),
        }
        assert sandbox.hubspot is not None
        app = sandbox.hubspot.enable_webhooks(
            f"http://127.0.0.1:{port}/webhooks/hubspot/hubspot",
            SECRET,
            retry_base_seconds=RETRY_BASE,
        )
        yield sandbox, app, config, run_env


def _contact_deliveries(app: Any, contact_id: str) -> list[tuple[int, int]]:
    """(attempt, status) of the app's deliveries naming this contact."""
    out = []
    for delivery in list(app.deliveries):
        if any(str(e.get("objectId")) == contact_id for e in json.loads(delivery.body)):
            out.append((delivery.attempt, delivery.status))
    return out


def _decided(worker: Worker, contact_id: str) -> list[dict[str, Any]]:
    lines = (json.loads(x) for x in worker.lines if '"speed.decided"' in x)
    return [e for e in lines if e.get("record_id") == contact_id]


@pytest.mark.parametrize("kill", [True, False], ids=["SIGKILL", "SIGTERM"])
def test_a_demo_request_made_while_the_worker_was_down_is_routed_at_its_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, kill: bool
) -> None:
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    with _portal(tmp_path, store_url) as (sandbox, app, config, env):
        client = HubSpotClient(sandbox, load_config(config))
        worker = Worker(config, env, tmp_path / "heartbeat")
        worker.wait_for("(applied)")  # the first full sync
        form = _demo_form(client.api)
        _submit(sandbox, form, "avery.quinn@northwind-analytics.com")
        _routed(client, "avery.quinn@northwind-analytics.com", worker)

        if kill:
            worker.proc.kill()
            worker.proc.wait(timeout=30)
        else:
            worker.stop()
        email = "rowan.ellis@fabrikam-robotics.com"
        _submit(sandbox, form, email)  # its delivery finds nobody listening
        contact_id = str(client.api.crm.contacts.basic_api.get_by_id(email, id_property="email").id)
        waited = time.monotonic() + DEADLINE
        while not _contact_deliveries(app, contact_id):
            assert time.monotonic() < waited, "the app made no delivery"
            time.sleep(0.1)
        assert all(status == 0 for _, status in _contact_deliveries(app, contact_id))
        failed_at = time.monotonic()

        # the restarted worker's scheduled sync is held up on its contact search: only the fast
        # path's catch-up (a search on recent_conversion_date) can route the person now
        def slow_sync_search(request: SandboxRequest) -> None:
            if request.path == CONTACT_SEARCH and b"recent_conversion_date" not in request.body:
                time.sleep(RETRY_BASE)

        sandbox.server("hubspot").before_request.append(slow_sync_search)
        again = Worker(config, env, tmp_path / "heartbeat")
        try:
            person = _routed(client, email, again)
            routed_in = time.monotonic() - failed_at
            assert [a for a, _ in _contact_deliveries(app, contact_id)] == [0]  # no retry yet
            assert routed_in < 0.9 * RETRY_BASE, routed_in
            assert person.stage == "marketingqualifiedlead", person
            assert [owner for owner, _ in person.tasks] == [person.owner], person.tasks
            assert [e.get("caught_up") for e in _decided(again, contact_id)] == [True]
            assert "catch_up.pass" in again.output()

            # HubSpot's retry of the failed delivery comes and decides them again: no change
            waited = time.monotonic() + 4 * DEADLINE
            while (1, 204) not in _contact_deliveries(app, contact_id):
                assert time.monotonic() < waited, _contact_deliveries(app, contact_id)
                time.sleep(0.2)
            again.wait_for('"caught_up": false')
            retried = [e for e in _decided(again, contact_id) if not e.get("caught_up")]
            assert retried and all(e["written"] == 0 for e in retried), retried
            after_retry = client.person("contact", contact_id)
            assert (after_retry.owner, after_retry.tasks) == (person.owner, person.tasks)
        finally:
            sandbox.server("hubspot").before_request.remove(slow_sync_search)
            again.stop()

        # the next scheduled sync finds nothing to change for them
        run_id = _next_sync(tmp_path, env, store_url)
        assert _planned_for(store_url, run_id, contact_id) == []
        final = client.person("contact", contact_id)
        assert (final.owner, final.stage) == (person.owner, "marketingqualifiedlead")
        assert [owner for owner, _ in final.tasks] == [person.owner], final.tasks
        assert _assignments(store_url)[f"email:{email}"] == 1
    if not kill:
        assert SECRET not in worker.output()
    assert SECRET not in again.output()
