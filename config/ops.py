"""`monitoring:` (the worker's metrics and health endpoint) and `alerts:` (a webhook on incidents)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from config.base import Duration, StrictModel, format_duration


class MonitoringConfig(StrictModel):
    listen: str | None = Field(
        None,
        pattern=r"^[^\s:]*:\d{1,5}$",
        description=(
            "host:port where `handoff run` serves /metrics (Prometheus), /healthz and /readyz, "
            "e.g. 127.0.0.1:9464, or 0.0.0.0:9464 in a container; off when unset (the default). "
            "The same value as http.listen serves them on the webhook endpoint (one port). "
            "`handoff run --listen` overrides it"
        ),
    )
    heartbeat_max_age: Duration = Field(
        default=timedelta(minutes=3),
        description="/healthz and /readyz answer 503, and `handoff status` says stale, when the "
        "worker's last heartbeat is older than this",
    )
    heartbeat_every: Duration = Field(
        default=timedelta(seconds=15),
        description="how often `handoff run` (each replica too) writes its heartbeat, on a timer "
        "of its own: an idle worker with no job to run still beats; well below heartbeat_max_age",
    )

    @model_validator(mode="after")
    def _beats_often_enough(self) -> MonitoringConfig:
        if self.heartbeat_every >= self.heartbeat_max_age:
            raise ValueError(
                f"heartbeat_every ({format_duration(self.heartbeat_every)}) must be below "
                f"heartbeat_max_age ({format_duration(self.heartbeat_max_age)}), e.g. 15s and 3m: "
                "else a healthy worker looks dead between two beats"
            )
        return self


class AlertsConfig(StrictModel):
    webhook_url: str | None = Field(
        None,
        description=(
            "where alerts are posted, e.g. a Slack incoming webhook; from the environment "
            "(${HANDOFF_ALERT_WEBHOOK}), never written in the file; no alerts when unset"
        ),
    )
    quota_low_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="alert when a connection's daily API quota left falls below this share",
    )
    sla_breach_rate: float = Field(
        0.25,
        ge=0,
        le=1,
        description="alert when this share of the SLA clocks started in sla_window breached",
    )
    sla_window: Duration = Field(
        default=timedelta(hours=24), description="the clocks the SLA breach rate is taken over"
    )
    sla_min_clocks: int = Field(
        5, ge=1, description="no SLA breach-rate alert below this many clocks in the window"
    )

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("alerts.webhook_url must be an http(s) URL")
        return value
