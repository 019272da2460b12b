"""The root of `handoff.yaml`: one file for connections, rules, schedules, state and reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from config.base import Duration, StrictModel
from config.connections import Connection
from config.ops import AlertsConfig, MonitoringConfig
from config.routing import RoutingConfig
from config.scoring import LifecycleConfig, ScoringConfig
from config.sla import SlaConfig


class StateConfig(StrictModel):
    url: str = Field(
        "sqlite:///handoff.db",
        description="sqlite:///path.db (embedded) or postgresql+psycopg://user@host/db (replicas)",
    )

    @field_validator("url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from config.store_url import check_store_url

        return check_store_url(value)


class ScheduleConfig(StrictModel):
    sync_every: Duration = Field(default=timedelta(minutes=5))
    sla_every: Duration = Field(default=timedelta(minutes=1))
    decay_at: str = Field("02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="UTC HH:MM")
    report_at: str = Field("06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="UTC HH:MM")


REFERENCES_CHECKED = "references_checked"
"""Validation context key: the caller (the loader) checks cross-references itself."""

ReportFormat = Literal["md", "csv", "json", "html"]


class ReportConfig(StrictModel):
    directory: Path = Path("reports")
    formats: list[ReportFormat] = Field(
        default_factory=lambda: list[ReportFormat](["md", "json", "html"])
    )
    keep: int = Field(
        50, ge=1, description="run reports kept in the directory; older runs' folders are deleted"
    )


class LoggingConfig(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class SyncConfig(StrictModel):
    max_attempts: int = Field(5, ge=1, description="failed writes move to dead-letter after this")
    retry_backoff: Duration = Field(default=timedelta(minutes=10))
    lifecycle_owner: str | None = Field(
        None, description="connection that owns lifecycle when several are configured"
    )
    owner_owner: str | None = Field(
        None, description="connection that owns record owners when several are configured"
    )
    first_run: Literal["dry_run", "live"] = Field(
        "dry_run",
        description="`handoff run` on a store that never applied a run: dry run first and wait "
        "for `--confirm` (dry_run), or write at once (live)",
    )
    fast_path_deciders: int = Field(
        4,
        ge=1,
        le=32,
        description="threads deciding speed-to-lead events at once (HubSpot webhooks, and "
        "Salesforce change events, each), beside the scheduled sync: different people in "
        "parallel, one person at a time (docs/speed-to-lead.md)",
    )


class HttpConfig(StrictModel):
    """`handoff run`'s HTTP endpoint (plain HTTP: TLS is terminated in front of it)."""

    listen: str = Field(
        "127.0.0.1:8080",
        pattern=r"^[^\s:]+:\d{1,5}$",
        description="host:port to listen on (0.0.0.0 in a container)",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="the URL HubSpot posts to, before the TLS proxy (signatures cover it); "
        "default: the request's Host and X-Forwarded-Proto",
    )
    hubspot_webhooks: list[str] = Field(
        default_factory=list,
        description="HubSpot connections whose app webhooks are served at "
        "/webhooks/hubspot/<name> (their client_secret checks the signature)",
    )
    queue: int = Field(
        10_000, ge=1, description="webhook events waiting for the fast path; beyond: 429, retried"
    )


class HandoffConfig(StrictModel):
    version: Literal[1] = 1
    state: StateConfig = StateConfig()
    connections: list[Connection] = Field(min_length=1)
    scoring: ScoringConfig = ScoringConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    routing: RoutingConfig = RoutingConfig()
    sla: SlaConfig = SlaConfig()
    sync: SyncConfig = SyncConfig()
    schedules: ScheduleConfig = ScheduleConfig()
    reports: ReportConfig = ReportConfig()
    logging: LoggingConfig = LoggingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    alerts: AlertsConfig = AlertsConfig()
    http: HttpConfig | None = None

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> HandoffConfig:
        """Names one section gives another exist there (config/references.py). The loader runs
        the same checks on the file's plain data, beside the field checks, and skips them here."""
        from config.references import reference_problems

        if info.context and info.context.get(REFERENCES_CHECKED):
            return self
        problems = reference_problems(self.model_dump(mode="json", by_alias=True))
        if problems:
            from config.loader import format_location

            raise ValueError("; ".join(f"{format_location(p)}: {m}" for p, m in problems))
        return self

    def connection(self, name: str) -> Connection:
        for conn in self.connections:
            if conn.name == name:
                return conn
        raise KeyError(name)
