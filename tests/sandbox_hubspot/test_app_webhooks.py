"""The sandbox app's webhooks: signed batches of at most 100 contact events, HubSpot's retries
(compressed), and the events a form submission and API writes raise."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from sandbox.hubspot import HubSpotEmulator
from sandbox.hubspot.webhooks import WebhookApp

SECRET = "sandbox-webhook-secret-1"
GUARD = 30.0  # a guard against a hung test, not a timing


class Receiver:
    """A local target answering a scripted list of statuses (then 204), recording each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/hubspot/hubspot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [e for _, body in self.requests for e in json.loads(body)]

    def wait(self, requests: int) -> None:
        deadline = time.monotonic() + GUARD
        while len(self.requests) < requests:
            assert time.monotonic() < deadline, self.requests
            time.sleep(0.02)


@pytest.fixture
def target() -> Iterator[Receiver]:
    yield (receiver := Receiver([]))
    receiver.server.shutdown()


def _app(emulator: HubSpotEmulator, target: Receiver) -> WebhookApp:
    return emulator.enable_webhooks(target.url, SECRET, retry_base_seconds=0.01)


def _contact(emulator: HubSpotEmulator) -> str:
    return str(next(iter(emulator.store.objects["contacts"])))


def test_deliveries_are_signed_v3_with_the_app_secret(emulator, target) -> None:
    app = _app(emulator, target)
    try:
        emulator.update_contact(_contact(emulator), {"jobtitle": "Head of RevOps"})
        target.wait(1)
    finally:
        emulator.disable_webhooks()
    headers, body = target.requests[0]
    assert Signature.is_valid(
        headers["x-hubspot-signature-v3"], SECRET, body.decode(), target.url, "POST", "v3",
        headers["x-hubspot-request-timestamp"],
    )  # fmt: skip
    (event,) = json.loads(body)
    assert event["subscriptionType"] == "contact.propertyChange"
    assert (event["propertyName"], event["propertyValue"]) == ("jobtitle", "Head of RevOps")
    assert event["portalId"] == app.portal_id and event["attemptNumber"] == 0


def test_a_failed_delivery_is_retried_with_the_attempt_number_counting_up(emulator, target) -> None:
    target.statuses = [500, 503, 204]
    _app(emulator, target)
    try:
        emulator.update_contact(_contact(emulator), {"jobtitle": "CFO"})
        target.wait(3)
    finally:
        emulator.disable_webhooks()
    attempts = [json.loads(body)[0] for _, body in target.requests]
    assert [e["attemptNumber"] for e in attempts] == [0, 1, 2]
    assert len({e["eventId"] for e in attempts}) == 1  # the same event, redelivered
    stamps = [h["x-hubspot-request-timestamp"] for h, _ in target.requests]
    assert stamps == sorted(stamps)  # each retry is signed afresh


def test_a_401_is_not_retried(emulator, target) -> None:
    target.statuses = [401]
    app = _app(emulator, target)
    try:
        emulator.update_contact(_contact(emulator), {"jobtitle": "CTO"})
        target.wait(1)
        deadline = time.monotonic() + GUARD
        while not app.idle():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        emulator.disable_webhooks()
    assert [d.status for d in app.deliveries] == [401]  # idle: nothing waits for a retry
    assert [e["propertyValue"] for e in target.events()] == ["CTO"]


def test_a_burst_is_batched_at_most_100_events_a_request(emulator, target) -> None:
    app = _app(emulator, target)
    app.paused = True  # the burst queues up, then goes out in batches
    ids = list(emulator.store.objects["contacts"])[:100]
    try:
        for contact_id in ids:
            for title in ("Analyst", "Director", "VP"):
                emulator.update_contact(str(contact_id), {"jobtitle": title})
        app.paused = False
        with app._cv:
            app._cv.notify()
        target.wait(3)
    finally:
        emulator.disable_webhooks()
    sizes = [len(json.loads(body)) for _, body in target.requests]
    assert max(sizes) <= 100 and sum(sizes) == len(target.events())
    changes = [e for e in target.events() if e["objectId"] in ids]
    assert len(changes) >= 200  # a title already "Analyst" raises no event for that write
    assert len({e["eventId"] for e in target.events()}) == len(target.events())


def test_unsubscribed_properties_raise_no_event(emulator, target) -> None:
    app = _app(emulator, target)
    try:
        emulator.update_contact(_contact(emulator), {"hubspot_owner_id": ""})  # Handoff's own
        emulator.update_contact(_contact(emulator), {"jobtitle": "COO"})
        target.wait(1)
        deadline = time.monotonic() + GUARD
        while not app.idle():
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        emulator.disable_webhooks()
    assert [e.get("propertyName") for e in target.events()] == ["jobtitle"]
