"""The webhook endpoint over real HTTP (sync/serve.py on uvicorn): signatures, the public URL behind
a TLS proxy, malformed bodies, redeliveries while queued, and a full queue answered 429."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from sandbox.hubspot.webhooks import sign_v3
from sync.serve import HttpServer
from sync.speed import FastPath
from sync.speed_http import webhook_endpoint

SECRET = "endpoint-test-secret-9"
PUBLIC = "https://handoff.example.com"


def _events(*ids: int) -> bytes:
    return json.dumps(
        [
            {"eventId": i, "subscriptionId": 1, "portalId": 1, "appId": 2, "objectId": 100 + i,
             "occurredAt": 1764892800000, "subscriptionType": "contact.creation",
             "attemptNumber": 0}
            for i in ids
        ]
    ).encode()  # fmt: skip


@pytest.fixture
def served() -> Iterator[tuple[FastPath, str]]:
    """The endpoint on an ephemeral port; the fast path's thread is not started, so what the
    endpoint queues stays queued."""
    runtime = SimpleNamespace(config=SimpleNamespace(http=None))  # no connection to catch up on
    fast = FastPath(runtime, size=3, deciders=1)  # type: ignore[arg-type]
    server = HttpServer("127.0.0.1", 0)
    server.mount(
        "/webhooks/hubspot/hubspot", webhook_endpoint(fast, "hubspot", SECRET, None), ["POST"]
    )
    server.mount("/public/hubspot", webhook_endpoint(fast, "hubspot", SECRET, PUBLIC), ["POST"])
    server.start()
    try:
        yield fast, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _post(url: str, body: bytes, *, signed_url: str | None = None, secret: str = SECRET,
          age_ms: int = 0) -> requests.Response:  # fmt: skip
    stamp = str(int(time.time() * 1000) - age_ms)
    headers = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", signed_url or url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return requests.post(url, data=body, headers=headers, timeout=10)


def test_signed_batches_are_queued_once_and_a_full_queue_asks_for_a_retry(served) -> None:
    fast, base = served
    url = f"{base}/webhooks/hubspot/hubspot"
    assert _post(url, _events(1, 2)).status_code == 204
    assert _post(url, _events(1, 2)).status_code == 204  # a redelivery while queued: no new work
    assert fast._queue.qsize() == 2
    full = _post(url, _events(3, 4))
    assert full.status_code == 429 and full.headers["Retry-After"] == "60"
    assert fast._queue.qsize() == 2  # nothing of a refused batch is queued
    assert _post(url, _events(3)).status_code == 204


def test_forged_stale_and_malformed_deliveries_queue_nothing(served) -> None:
    fast, base = served
    url = f"{base}/webhooks/hubspot/hubspot"
    assert _post(url, _events(1), secret="someone-elses-secret").status_code == 401
    assert _post(url, _events(1), age_ms=5 * 60 * 1000 + 1000).status_code == 401
    assert requests.post(url, data=_events(1), timeout=10).status_code == 401  # unsigned
    assert _post(url, b"[{]").status_code == 400
    assert _post(url, b'[{"eventId": 1}]').status_code == 400
    assert fast._queue.qsize() == 0
    assert requests.get(url, timeout=10).status_code == 405


def test_behind_a_tls_proxy_the_public_url_is_what_is_signed(served) -> None:
    fast, base = served
    url = f"{base}/public/hubspot"
    assert _post(url, _events(7), signed_url=f"{PUBLIC}/public/hubspot").status_code == 204
    assert _post(url, _events(8)).status_code == 401  # signed over the proxy's internal URL
    assert fast._queue.qsize() == 1
