"""A demo request in a deployment's first seconds, before its first sync has stored the CRM's
owners: the fast path reads the owners itself and routes the person at once.

`handoff run` against the sandbox, its first (full) sync's owners read held by a sandbox hook,
so the store has no rep when the demo form is submitted. Read back through hubspot-api-client
while the sync is still held: the contact has an owner from the territory, is an MQL and has
exactly one task, in that owner's queue. (Before, the person got their stage and score but no
owner, and the first sync, which began before the decision, left them to the next one.)
"""

from __future__ import annotations

import threading

import pytest
from test_speed_to_lead import DEADLINE, SECRET, _demo_form, _routed, _running, _submit

from sandbox.server import SandboxRequest

pytestmark = pytest.mark.slow
OWNERS = "/crm/v3/owners"


class HoldFirstOwnersRead:
    """The first owners read (the first sync's) waits until `release`; later ones answer."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: SandboxRequest) -> None:
        if not request.path.startswith(OWNERS):
            return
        with self._lock:
            first = not self.reached.is_set()
            self.reached.set()
        if first:
            self.release.wait(timeout=4 * DEADLINE)  # a guard against a hung test


def test_a_demo_request_before_the_first_sync_stored_the_reps_is_routed(
    tmp_path, monkeypatch, store_url
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", SECRET)
    held = HoldFirstOwnersRead()
    with _running(tmp_path, store_url, contacts=40, hooks=(held,)) as running:
        sandbox, worker, _app, client, _url = running
        try:
            assert held.reached.wait(DEADLINE), worker.output()[-3000:]
            email = "avery.quinn@northwind-analytics.com"
            _submit(sandbox, _demo_form(client.api), email)
            person = _routed(client, email, worker)  # the first sync is still held
        finally:
            held.release.set()
        assert person.stage == "marketingqualifiedlead", person
        assert person.owner and [owner for owner, _ in person.tasks] == [person.owner], person
