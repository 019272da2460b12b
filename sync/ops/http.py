"""The worker's one small HTTP server: a WSGI app of routes, served by the stdlib in a thread.

Routes are plain WSGI apps keyed by path, so another endpoint (say a CRM webhook receiver) can be
mounted beside /metrics, /healthz and /readyz without a second port or framework.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog

log = structlog.get_logger("handoff.http")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def json_app(check: Callable[[], tuple[bool, dict[str, Any]]]) -> WsgiApp:
    """A WSGI app answering 200 with `check()`'s JSON when it holds, 503 when not."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        ok, body = check()
        data = json.dumps(body, sort_keys=True).encode()
        start_response(
            "200 OK" if ok else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return app


def router(routes: Mapping[str, WsgiApp]) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = routes.get(environ.get("PATH_INFO", "") or "/")
        if route is None:
            body = b"not found: try /metrics, /healthz or /readyz\n"
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [body]
        return route(environ, start_response)

    return app


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not log lines
        return None


def parse_listen(listen: str) -> tuple[str, int]:
    """ "127.0.0.1:9464" -> ("127.0.0.1", 9464); ":9464" binds every interface."""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{listen!r} is not host:port, e.g. 127.0.0.1:9464")
    return host or "0.0.0.0", int(port)


class HttpServer:
    """Serves `routes` on `listen` (host:port; port 0 picks a free one) until `stop()`."""

    def __init__(self, listen: str, routes: Mapping[str, WsgiApp]) -> None:
        host, port = parse_listen(listen)
        try:
            self._server = make_server(
                host, port, router(routes), _ThreadingServer, handler_class=_QuietHandler
            )
        except OSError as exc:
            raise ValueError(
                f"cannot listen on {listen}: {exc.strerror}; choose another monitoring.listen "
                "(or --listen) port"
            ) from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> HttpServer:
        self._thread.start()
        log.info("http.listening", address=self.address)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
