"""What `handoff run` adds around its jobs: the metrics/health endpoint and the alert check.

`/healthz`: the process answers and its heartbeat is fresh (`monitoring.heartbeat_max_age`).
`/readyz`: the store answers, its schema is at the newest migration, no job has hit a fatal
configuration error (a refused token, a missing scope) since the last job that went through, and
the heartbeat is fresh (it beats on a timer, `monitoring.heartbeat_every`, jobs or no jobs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from config.model import HandoffConfig
from config.secrets import redact
from connectors.base import CrmConnector
from sync.ops.alerts import Alerter
from sync.ops.http import HttpServer, json_app

log = structlog.get_logger("handoff.ops")


def migrations_current(engine: Engine) -> tuple[bool, str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from sync.store.schema import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as link:
        current = set(MigrationContext.configure(link).get_current_heads())
    if current == heads:
        return True, ",".join(sorted(current))
    return False, (
        f"store at {','.join(sorted(current)) or 'no revision'}, code wants "
        f"{','.join(sorted(heads))}: run `handoff db upgrade`"
    )


class Operations:
    """Started by `handoff run`; `after_job` after every job, `close` on the way out."""

    def __init__(
        self,
        config: HandoffConfig,
        engine: Engine,
        connectors: Callable[[], Mapping[str, CrmConnector]],
        *,
        heartbeat: Path,
        listen: str | None,
        share_http: bool = True,
    ) -> None:
        """`share_http`: this worker serves `http:` (single node), so a `listen` equal to
        `http.listen` mounts the endpoints there instead of binding the port twice."""
        self.config = config
        self.engine = engine
        self.connectors = connectors
        self.heartbeat = heartbeat
        self.fatal: str | None = None
        alerts = config.alerts
        self.alerter = Alerter(engine, alerts) if alerts.webhook_url else None
        self.server: HttpServer | None = None
        # the same host:port as the webhook endpoint (`http.listen`): served there, one port
        self.shared_routes: list[tuple[str, Any, list[str]]] = []
        if listen:  # prometheus_client is imported only when metrics are served
            from prometheus_client import CollectorRegistry, make_wsgi_app

            from sync.ops.metrics import HandoffCollector

            self.registry = CollectorRegistry(auto_describe=True)
            self.registry.register(
                HandoffCollector(
                    engine, connectors, heartbeat=heartbeat, sla_window=alerts.sla_window
                )
            )
            http = getattr(config, "http", None)
            if share_http and http is not None and http.listen == listen:
                self.shared_routes = self._starlette_routes()
            else:
                routes = {
                    "/metrics": make_wsgi_app(self.registry),
                    "/healthz": json_app(self.health),
                    "/readyz": json_app(self.ready),
                }
                self.server = HttpServer(listen, routes).start()

    def _starlette_routes(self) -> list[tuple[str, Any, list[str]]]:
        """/metrics, /healthz and /readyz as endpoints of the webhook server (sync/serve.py)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response

        async def metrics(request: Request) -> Response:  # store reads off the event loop
            data = await run_in_threadpool(generate_latest, self.registry)
            return Response(data, media_type=CONTENT_TYPE_LATEST)

        def checked(check: Callable[[], tuple[bool, dict[str, Any]]]) -> Any:
            async def endpoint(request: Request) -> Response:
                ok, body = await run_in_threadpool(check)
                return JSONResponse(body, status_code=200 if ok else 503)

            return endpoint

        return [
            ("/metrics", metrics, ["GET"]),
            ("/healthz", checked(self.health), ["GET"]),
            ("/readyz", checked(self.ready), ["GET"]),
        ]

    def after_job(self, job: str, error: BaseException | None, status: str = "ok") -> None:
        """After each worker job: its outcome (`status` of its run, or the error it raised)."""
        from connectors.errors import FatalError

        if isinstance(error, FatalError):
            self.fatal = redact(str(error))
        elif error is None:
            self.fatal = None
        if self.alerter is None:
            return
        try:
            message = None if error is None else redact(f"{type(error).__name__}: {error}")
            self.alerter.check(self.connectors(), job=job, job_status=status, job_error=message)
        except SQLAlchemyError as exc:  # the store is down: /readyz says so; alert next time
            log.warning("alert.check_failed", error=type(exc).__name__)

    def health(self) -> tuple[bool, dict[str, Any]]:
        limit = self.config.monitoring.heartbeat_max_age.total_seconds()
        try:
            age = time.time() - self.heartbeat.stat().st_mtime
        except FileNotFoundError:
            return False, {"status": "unhealthy", "reason": f"no heartbeat at {self.heartbeat}"}
        if age > limit:
            return False, {
                "status": "unhealthy",
                "reason": f"last heartbeat {age:.0f}s ago (limit {limit:.0f}s)",
                "heartbeat_age_seconds": round(age, 1),
            }
        return True, {"status": "ok", "heartbeat_age_seconds": round(age, 1)}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, str] = {}
        ok = True
        try:
            with self.engine.connect() as link:
                link.execute(text("SELECT 1"))
            checks["store"] = "ok"
            current, detail = migrations_current(self.engine)
            checks["migrations"] = "ok" if current else detail
            ok = current
        except SQLAlchemyError as exc:
            checks["store"] = redact(f"unreachable: {type(exc).__name__}")
            checks["migrations"] = "unknown"
            ok = False
        checks["config"] = "ok" if self.fatal is None else f"fatal: {self.fatal}"
        ok = ok and self.fatal is None
        alive, beat = self.health()  # a worker whose heartbeat stopped takes no job
        checks["heartbeat"] = "ok" if alive else str(beat["reason"])
        ok = ok and alive
        return ok, {"status": "ready" if ok else "not ready", "checks": checks}

    @property
    def address(self) -> str | None:
        return self.server.address if self.server else None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
