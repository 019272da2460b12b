"""Alerts to a webhook (e.g. a Slack incoming webhook), once per incident.

After each worker job the conditions are checked against the store and the connectors' quota:

- `run_failed:<job>`: the job (sync, sla, decay, report) ended partial or raised; judged each
  time that job runs, so it resolves when that same job next goes through;
- `dead_letters`: outbox items are dead-lettered (`handoff outbox list` shows them);
- `quota_low:<connection>`: the CRM's daily quota left is below `alerts.quota_low_share`;
- `sla_breach_rate`: of the SLA clocks started in `alerts.sla_window`, at least
  `alerts.sla_breach_rate` breached (and at least `alerts.sla_min_clocks` started).

A condition that starts holding opens an incident (a store row) and posts one alert; while the
incident is open nothing more is posted, across restarts. When the condition clears the incident
is resolved (and a short "resolved" post says so); if it holds again later, that is a new incident
and a new alert. A post that fails is tried again at the next check. The webhook URL is a secret:
it is registered for redaction when the config is read and never logged; only the HTTP status is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import structlog
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from config.ops import AlertsConfig
from connectors.base import CrmConnector
from sync.ops.store_counts import sla_counts
from sync.ops.tables import Incident
from sync.store.tables import OutboxItem, RunRecord
from sync.store.types import utc_now

log = structlog.get_logger("handoff.alerts")
_INCIDENTS: Any = Incident.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Condition:
    kind: str
    holds: bool
    summary: str = ""


def check_conditions(
    engine: Engine,
    config: AlertsConfig,
    connectors: Mapping[str, CrmConnector],
    *,
    now: datetime,
    job: str | None = None,
    job_status: str | None = None,
    job_error: str | None = None,
) -> list[Condition]:
    """Every alert condition as it stands now. `run_failed:<job>` is judged only for the job
    that just ran (`job`), by its outcome: a failing sync is not resolved by the minutely SLA
    check going through, and an incident is left open until its own job goes through."""
    found: list[Condition] = []
    with Session(engine) as session:
        if job is not None:
            kind = f"run_failed:{job}"
            if job_error is not None:
                found.append(Condition(kind, True, f"the {job} job failed: {job_error}"))
            elif job_status not in (None, "ok"):
                last = session.exec(
                    select(RunRecord)
                    .where(col(RunRecord.dry_run).is_(False))
                    .order_by(col(RunRecord.started_at).desc())
                    .limit(1)
                ).first()
                errors = list(last.errors) if last is not None else []
                first = errors[0] if errors else "no error recorded"
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                name = f"run {last.id}" if last is not None else f"the {job} run"
                found.append(Condition(kind, True, f"{name} ended {job_status}: {first}{more}"))
            else:
                found.append(Condition(kind, False))
        dead = session.exec(
            select(func.count()).select_from(OutboxItem).where(col(OutboxItem.status) == "dead")
        ).one()
    found.append(
        Condition(
            "dead_letters",
            dead > 0,
            f"{dead} CRM write(s) dead-lettered after sync.max_attempts; "
            "see `handoff outbox list`, then `handoff outbox retry` or `drop`",
        )
    )
    for name, connector in sorted(connectors.items()):
        usage = connector.usage
        limit, left = usage.daily_limit, usage.daily_remaining
        low = bool(limit and left is not None and left / limit < config.quota_low_share)
        found.append(
            Condition(
                f"quota_low:{name}",
                low,
                f"{name}: {left} of {limit} daily API calls left "
                f"(below alerts.quota_low_share {config.quota_low_share:.0%})",
            )
        )
    sla = sla_counts(engine, now, config.sla_window)
    started, breached = sla["window_started"], sla["window_breached"]
    rate = breached / started if started else 0.0
    found.append(
        Condition(
            "sla_breach_rate",
            started >= config.sla_min_clocks and rate >= config.sla_breach_rate,
            f"{breached} of {started} SLA clocks started in the last "
            f"{config.sla_window} breached ({rate:.0%}, threshold {config.sla_breach_rate:.0%})",
        )
    )
    return found


def post_json(url: str, body: dict[str, Any]) -> bool:
    """POST `body`; True on a 2xx. The URL is never logged, only the answer's status."""
    try:
        answer = requests.post(url, json=body, timeout=10)
    except requests.RequestException as exc:
        log.warning("alert.post_failed", error=type(exc).__name__)
        return False
    if not 200 <= answer.status_code < 300:
        log.warning("alert.post_failed", status=answer.status_code)
        return False
    return True


class Alerter:
    """Opens, notifies and resolves incidents in the store for a list of conditions."""

    def __init__(
        self,
        engine: Engine,
        config: AlertsConfig,
        *,
        post: Callable[[str, dict[str, Any]], bool] = post_json,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.config = config
        self.post = post
        self.clock = clock

    def check(
        self,
        connectors: Mapping[str, CrmConnector],
        *,
        job: str | None = None,
        job_status: str | None = None,
        job_error: str | None = None,
    ) -> list[str]:
        """Check the conditions (`run_failed:<job>` for the job that just ran, given its run
        status or error); returns the kinds alerted now (opened, or "<kind> resolved")."""
        now = self.clock()
        conditions = check_conditions(
            self.engine,
            self.config,
            connectors,
            now=now,
            job=job,
            job_status=job_status,
            job_error=job_error,
        )
        return self.apply(conditions, now)

    def apply(self, conditions: list[Condition], now: datetime) -> list[str]:
        """Open, post and resolve. Each step is one atomic statement, so replicas checking at
        once open one incident (a unique index on the open kind) and post it once (the post is
        claimed by setting `notified_at`; a failed post gives the claim back)."""
        posted: list[str] = []
        for condition in conditions:
            if condition.holds:
                incident = self._open(condition, now)
                if self._claim(incident, now):
                    if self._send(incident, "alert.opened"):
                        posted.append(condition.kind)
                    else:
                        self._set(incident, notified_at=None)
            else:
                resolved = self._resolve(condition.kind, now)
                if resolved is not None:
                    log.info("alert.resolved", kind=condition.kind)
                    if resolved.notified_at is not None and self._send(resolved, "alert.resolved"):
                        posted.append(f"{condition.kind} resolved")
        return posted

    def _current(self, kind: str) -> Incident | None:
        with Session(self.engine, expire_on_commit=False) as session:
            return session.exec(
                select(Incident).where(Incident.kind == kind, col(Incident.resolved_at).is_(None))
            ).first()

    def _open(self, condition: Condition, now: datetime) -> Incident:
        found = self._current(condition.kind)
        if found is not None:
            return found
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                incident = Incident(kind=condition.kind, summary=condition.summary, opened_at=now)
                session.add(incident)
                session.commit()
            log.warning("alert.opened", kind=condition.kind, summary=condition.summary)
            return incident
        except IntegrityError:  # another replica opened it a moment ago
            found = self._current(condition.kind)
            assert found is not None
            return found

    def _claim(self, incident: Incident, now: datetime) -> bool:
        with self.engine.begin() as link:
            claimed = link.execute(
                update(_INCIDENTS)
                .where(_INCIDENTS.c.id == incident.id, _INCIDENTS.c.notified_at.is_(None))
                .values(notified_at=now)
            ).rowcount
        return claimed == 1

    def _set(self, incident: Incident, **values: Any) -> None:
        with self.engine.begin() as link:
            link.execute(update(_INCIDENTS).where(_INCIDENTS.c.id == incident.id).values(**values))

    def _resolve(self, kind: str, now: datetime) -> Incident | None:
        incident = self._current(kind)
        if incident is None:
            return None
        with self.engine.begin() as link:
            done = link.execute(
                update(_INCIDENTS)
                .where(_INCIDENTS.c.id == incident.id, _INCIDENTS.c.resolved_at.is_(None))
                .values(resolved_at=now)
            ).rowcount
        return incident if done == 1 else None

    def _send(self, incident: Incident, event: str) -> bool:
        url = self.config.webhook_url
        if url is None:
            return False
        resolved = event == "alert.resolved"
        text = (
            f"Handoff resolved: {incident.kind} (opened {incident.opened_at:%Y-%m-%d %H:%M} UTC)"
            if resolved
            else f"Handoff alert: {incident.summary}"
        )
        return self.post(
            url,
            {
                "text": text,
                "event": event,
                "kind": incident.kind,
                "summary": incident.summary,
                "opened_at": incident.opened_at.isoformat(),
            },
        )
