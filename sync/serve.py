"""The worker's HTTP endpoint (`handoff run` with `http:` in config): one Starlette app on uvicorn,
served from a thread of the worker's process. Features mount their routes on it (HubSpot webhooks:
sync/speed.py). Plain HTTP: TLS is terminated by the deployment (a load balancer or ingress in
front of it; docs/speed-to-lead.md), so listen on a private address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = structlog.get_logger("handoff.http")
Endpoint = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """Routes are mounted before `start()`; `stop()` ends the server and its thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._routes: list[Route] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def mount(self, path: str, endpoint: Endpoint, methods: list[str]) -> None:
        self._routes.append(Route(path, endpoint, methods=methods))

    def start(self) -> None:
        app = Starlette(routes=list(self._routes))
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_config=None,  # structlog's handlers; uvicorn's access lines stay off
            access_log=False,
            lifespan="off",
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(
                    f"the HTTP endpoint could not listen on {self.host}:{self.port}: "
                    "is the port in use? (http.listen in config)"
                )
            if time.monotonic() > deadline:
                raise OSError(f"the HTTP endpoint did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        if self.port == 0:  # an ephemeral port (tests): the one the socket got
            servers = getattr(self._server, "servers", [])
            for server in servers:
                for sock in server.sockets:
                    self.port = int(sock.getsockname()[1])
        log.info(
            "http.listening", host=self.host, port=self.port, routes=[r.path for r in self._routes]
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
