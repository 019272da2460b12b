"""Loopback HTTPS server that hosts one emulator (HubSpot or Salesforce).

The emulators are plain functions from `SandboxRequest` to `SandboxResponse`; this module owns
sockets, TLS (a throwaway trustme CA, because simple-salesforce only builds https:// URLs),
keep-alive and the faults that live below HTTP (latency, connection resets, timeouts).
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from sandbox.request_journal import RequestJournal, masked_query

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(slots=True)
class SandboxRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(slots=True)
class SandboxResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # drop the connection with a TCP RST instead of answering
    hang_seconds: float = 0.0  # sleep before answering (client timeouts)
    endpoint: str = ""  # the emulator's label for the route (request log)
    bucket: str | None = None  # the rate-limit bucket the request counted against, if any

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> SandboxResponse:
        merged = {"Content-Type": "application/json;charset=UTF-8"}
        merged.update(headers or {})
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), merged)


Handler = Callable[[SandboxRequest], SandboxResponse]


class SandboxCA:
    """A throwaway certificate authority and a server certificate for loopback names, plus
    `hostnames` (e.g. api.hubapi.com, for a third-party client that hard-codes HubSpot's host
    and is pointed at the sandbox by a resolver override)."""

    def __init__(self, directory: Path | None = None, hostnames: tuple[str, ...] = ()) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="handoff-ca-")
        self.directory = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self.directory.mkdir(parents=True, exist_ok=True)
        self._ca = trustme.CA(organization_name="Handoff sandbox")
        self.hostnames = tuple(dict.fromkeys((*LOOPBACK_NAMES, *hostnames)))
        self._cert = self._ca.issue_cert(*self.hostnames)
        self.ca_file = self.directory / "sandbox-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))

    def cleanup(self) -> None:
        """Remove the temporary directory the CA file is in, when it made one."""
        if self._tmp is not None:
            self._tmp.cleanup()

    def key_and_chain(self) -> tuple[bytes, bytes]:
        """The server's private key and certificate chain, PEM (for the gRPC server)."""
        chain = b"".join(pem.bytes() for pem in self._cert.cert_chain_pems)
        return self._cert.private_key_pem.bytes(), chain

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(ctx)
        return ctx


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per request on keep-alive connections).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        started = time.perf_counter()
        arrived = datetime.now(UTC)
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = SandboxRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response: SandboxResponse | None = None
        for hook in list(self.server.before_request):
            response = hook(request) or response  # a hook's answer: the emulator never sees it
        try:
            response = response or self.server.handler(request)
        except Exception as exc:  # an emulator bug must look like a 500, not kill the thread
            response = SandboxResponse.json(500, {"status": "error", "message": repr(exc)})
        for after in list(self.server.after_request):
            after(request, response)
        if response.hang_seconds:
            time.sleep(response.hang_seconds)
        if response.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self._journal(request, response, arrived, started)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self._journal(request, response, arrived, started)

    def _journal(
        self, request: SandboxRequest, response: SandboxResponse, arrived: datetime, started: float
    ) -> None:
        journal = self.server.journal
        if journal is None:
            return
        journal.write(
            {
                "crm": self.server.name,
                "time": arrived.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "host": request.headers.get("host", ""),
                "method": request.method,
                "path": request.path,
                "query": masked_query(request.query),
                "status": response.status,
                "endpoint": response.endpoint,
                "bucket": response.bucket,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: Handler, ctx: ssl.SSLContext) -> None:
        super().__init__(address, _RequestHandler)
        self.handler = handler
        # Fault drills: called before the emulator sees a request / after it answered, before
        # the answer is sent (e.g. to kill a worker after the CRM accepted its write). A before
        # hook that returns a response answers instead of the emulator, which never sees it.
        self.before_request: list[Callable[[SandboxRequest], SandboxResponse | None]] = []
        self.after_request: list[Callable[[SandboxRequest, SandboxResponse], None]] = []
        self.journal: RequestJournal | None = None  # `--request-log`: one JSON line a request
        self.name = ""  # "hubspot" | "salesforce" in the request log
        self.socket = ctx.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # clients that hang up are normal in fault drills


class SandboxServer:
    """One emulator on https://127.0.0.1:<port>, served from a background thread."""

    def __init__(
        self,
        handler: Handler,
        ca: SandboxCA,
        host: str = "127.0.0.1",
        port: int = 0,
        journal: RequestJournal | None = None,
        name: str = "",
    ):
        self._server = _Server((host, port), handler, ca.server_context())
        self._server.journal = journal
        self._server.name = name
        self.ca = ca
        self._thread: threading.Thread | None = None

    @property
    def before_request(self) -> list[Callable[[SandboxRequest], SandboxResponse | None]]:
        return self._server.before_request

    @property
    def after_request(self) -> list[Callable[[SandboxRequest, SandboxResponse], None]]:
        return self._server.after_request

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
