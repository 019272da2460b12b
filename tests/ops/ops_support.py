"""Shared ground for the operations tests: a local webhook receiver, a scrape, sandbox writes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from sandbox.runtime import Sandbox


class Receiver:
    """A local HTTP server that keeps every JSON body posted to it (a Slack webhook stand-in)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/services/T000/B000/secret-path-0123456789"

    def opened(self, kind: str) -> int:
        return sum(1 for p in self.posts if p["event"] == "alert.opened" and p["kind"] == kind)

    def resolved(self, kind: str) -> int:
        return sum(1 for p in self.posts if p["event"] == "alert.resolved" and p["kind"] == kind)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    text = requests.get(f"http://{address}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:  # fmt: skip
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class WritesReceived:
    """Counts the property values HubSpot accepted in contact batch updates (an after-request
    hook on the sandbox server): what the CRM received, counted on the CRM's side."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.values: Counter[str] = Counter()
        self.requests = 0
        sandbox.server("hubspot").after_request.append(self._seen)

    def _seen(self, request: Any, response: Any) -> None:
        if request.method != "POST" or not request.path.endswith("/batch/update"):
            return
        if response.status not in (200, 207):  # a 429 or fault: nothing was written
            return
        self.requests += 1
        body = request.json() or {}
        refused = {
            key
            for error in (json.loads(response.body or b"{}").get("errors") or [])
            for key in (error.get("context") or {}).get("ids", [])
        }
        for item in body.get("inputs", []):
            outcome = "refused" if str(item.get("id")) in refused else "accepted"
            properties = item.get("properties") or {}
            # a backward lifecycle move is cleared first (docs/lifecycle.md): one write, two values
            cleared = sum(1 for value in properties.values() if value == "")
            self.values[outcome] += len(properties) - cleared
            self.values[f"{outcome}_clears"] += cleared
