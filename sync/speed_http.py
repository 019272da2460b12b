"""The fast path's HTTP side: the HubSpot webhook endpoint and `serving` (the endpoint and the fast
path for a worker's or a replica's life).

The endpoint checks the v3 signature (401 and nothing done otherwise), parses the batch (400 if
malformed) and queues its events (a full queue: 429 with Retry-After; HubSpot's retries carry the
overflow). Then it waits up to `ACK_WAIT` seconds for the events to be decided: 204 once they are
(or were already: a redelivery, found in `webhook_events` without queueing); else 503 with
Retry-After, the events staying queued and decided soon after. So a delivery is acknowledged only
once its decision is in the store: events queued when the worker stops or is killed are delivered
again by HubSpot (its retries) and decided by the restarted worker, and a redelivery of a decided
event changes nothing. The wait is short because HubSpot sends a portal's deliveries a few at a
time (a slow answer holds the next ones back) and gives up on an answer after 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.hubspot.webhooks import (
    MalformedDelivery,
    SignatureRejected,
    parse_events,
    verify_v3,
)
from sync.speed import FastPath
from sync.store.activities import person_reads_beside_loads

if TYPE_CHECKING:
    from sync.cli import Runtime
    from sync.serve import HttpServer

log = structlog.get_logger("handoff.speed")
ACK_WAIT = 0.5  # seconds a delivery waits for its decision before a 503 (HubSpot: 5 s at most)
RETRY_AFTER = "60"


def signed_uri(request: Request, public_url: str | None) -> str:
    """The URL HubSpot called: the configured public URL (TLS ends in front of us), else the
    request's Host and X-Forwarded-Proto; path and query as sent (still percent-encoded)."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    tail = path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    if public_url:
        return public_url.rstrip("/") + tail
    scheme = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return f"{scheme}://{host}{tail}"


def mount_hubspot_webhooks(
    server: HttpServer, fast: FastPath, *, public_url: str | None, ack_wait: float = ACK_WAIT
) -> None:
    config = fast.runtime.config
    for name in config.http.hubspot_webhooks if config.http else []:
        settings = config.connection(name).hubspot
        assert settings is not None and settings.client_secret is not None  # config checks it
        server.mount(
            f"/webhooks/hubspot/{name}",
            webhook_endpoint(
                fast, name, settings.client_secret.get_secret_value(), public_url, ack_wait
            ),
            methods=["POST"],
        )


def webhook_endpoint(  # type: ignore[no-untyped-def]
    fast: FastPath, connection: str, secret: str, public_url: str | None, ack_wait: float = 0.0
):
    """The endpoint for one connection; `ack_wait` 0 answers 204 as soon as the events are
    queued (tests of the endpoint alone, whose fast path decides nothing)."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify_v3(
                secret,
                method=request.method,
                uri=signed_uri(request, public_url),
                body=body,
                headers=headers,
            )
        except SignatureRejected as exc:
            log.warning("webhook.rejected", connection=connection, why=str(exc))
            return JSONResponse({"error": f"unauthorized: {exc}"}, status_code=401)
        try:
            events = parse_events(body)
        except MalformedDelivery as exc:
            log.warning("webhook.malformed", connection=connection, why=str(exc))
            return JSONResponse({"error": str(exc)}, status_code=400)
        log.info("webhook.received", connection=connection, events=len(events))
        if ack_wait > 0 and await run_in_threadpool(fast.decided_before, connection, events):
            log.info("speed.duplicates", skipped=len(events), connection=connection)
            return Response(status_code=204)  # a redelivery of what is decided: nothing to do
        if not fast.offer(connection, events):
            log.warning("webhook.queue_full", connection=connection, events=len(events))
            return JSONResponse(
                {"error": "fast path queue full: retry later"},
                status_code=429,
                headers={"Retry-After": RETRY_AFTER},
            )
        if ack_wait <= 0:
            return Response(status_code=204)
        keys = [e.key for e in events]
        deadline = time.monotonic() + ack_wait
        while not fast.handled(connection, keys):
            if time.monotonic() >= deadline:  # still queued: HubSpot delivers it again later
                return JSONResponse(
                    {"error": "queued, not decided yet: deliver again"},
                    status_code=503,
                    headers={"Retry-After": RETRY_AFTER},
                )
            await asyncio.sleep(0.02)
        return Response(status_code=204)

    return receive


@contextlib.contextmanager
def serving(
    runtime: Runtime, extra_routes: Sequence[tuple[str, Any, list[str]]] = ()
) -> Iterator[HttpServer | None]:
    """The HTTP endpoint and the fast path for this worker's life (none without `http:`);
    `extra_routes` are mounted beside the webhooks (/metrics when it shares the port)."""
    from sync.serve import HttpServer

    http = runtime.config.http
    if http is None:
        yield None
        return
    host, _, port = http.listen.rpartition(":")
    server = HttpServer(host, int(port))
    for path, endpoint, methods in extra_routes:
        server.mount(path, endpoint, methods)
    fast = FastPath(runtime, size=http.queue)
    mount_hubspot_webhooks(server, fast, public_url=http.public_url)
    with person_reads_beside_loads(runtime.engine):  # a first sync's loads keep the person index
        fast.start()
        try:
            server.start()
        except OSError:
            fast.stop()
            raise
        try:
            yield server
        finally:
            server.stop()
            fast.stop()
