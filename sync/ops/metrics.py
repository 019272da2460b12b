"""Prometheus metrics of a worker, read at scrape time from what the pipeline already keeps.

Nothing here times or counts inside the pipeline: run totals (runs by status, duration, people
decided, writes by outcome, API calls by endpoint) are folded from the store's run records, the
outbox and SLA gauges are counted in the store at each scrape, and 429s and the daily quota left
come from the connectors' own `ApiUsage` (what their transports already count and read from the
CRM's headers). So the figures survive a restart and agree with `handoff status` and the reports.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connectors.base import CrmConnector
from sync.ops.store_counts import outbox_counts, sla_counts
from sync.store.tables import RunRecord
from sync.store.types import utc_now

_RUNS: Any = RunRecord.__table__  # type: ignore[attr-defined]
# ids inside endpoint paths (a form's GUID, a record id) become {id}: one series per endpoint
_ID_SEGMENT = re.compile(
    r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|(?=[0-9a-zA-Z]*\d)[0-9a-zA-Z]{15,18}|\d+)(?=/|$)"
)


def endpoint_name(label: str) -> str:
    return _ID_SEGMENT.sub("/{id}", label)


@dataclass
class RunTotals:
    """Totals over every finished run record, folded in once each (a watermark on finish time)."""

    runs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (status, mode)
    seconds: Counter[str] = field(default_factory=Counter)  # mode -> summed duration
    finished: Counter[str] = field(default_factory=Counter)  # mode -> runs with a duration
    decided: Counter[str] = field(default_factory=Counter)  # mode -> people scored
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (outcome, mode)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (connection, endpoint)
    last_finished: dict[str, float] = field(default_factory=dict)  # status -> unix time
    _watermark: datetime | None = None
    _at_watermark: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fold(self, engine: Engine) -> None:
        with self._lock, engine.connect() as link:
            query = select(
                _RUNS.c.id,
                _RUNS.c.started_at,
                _RUNS.c.finished_at,
                _RUNS.c.dry_run,
                _RUNS.c.status,
                _RUNS.c.counts,
                _RUNS.c.api_calls,
            ).where(_RUNS.c.finished_at.is_not(None))
            if self._watermark is not None:
                query = query.where(_RUNS.c.finished_at >= self._watermark)
            for row in link.execute(query.order_by(_RUNS.c.finished_at)):
                if row.id in self._at_watermark:
                    continue
                if row.finished_at != self._watermark:
                    self._watermark, self._at_watermark = row.finished_at, set()
                self._at_watermark.add(row.id)
                self._add(row)

    def _add(self, row: Any) -> None:
        mode = "dry_run" if row.dry_run else "live"
        self.runs[(row.status, mode)] += 1
        self.finished[mode] += 1
        self.seconds[mode] += max((row.finished_at - row.started_at).total_seconds(), 0.0)
        self.last_finished[row.status] = row.finished_at.timestamp()
        counts = row.counts or {}
        self.decided[mode] += int(counts.get("scored", 0))
        if mode == "live":
            for key, n in counts.items():
                if key.startswith("write_"):
                    self.writes[(key.removeprefix("write_"), mode)] += int(n)
        for connection, endpoints in (row.api_calls or {}).items():
            for endpoint, n in (endpoints or {}).items():
                self.calls[(connection, endpoint_name(endpoint))] += int(n)


class HandoffCollector(Collector):
    """Every Handoff metric, collected on each scrape."""

    def __init__(
        self,
        engine: Engine,
        connectors: Callable[[], Mapping[str, CrmConnector]],
        *,
        heartbeat: Path | None = None,
        sla_window: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.connectors = connectors
        self.heartbeat = heartbeat
        self.sla_window = sla_window
        self.clock = clock
        self.totals = RunTotals()

    def collect(self) -> Iterator[Metric]:
        self.totals.fold(self.engine)
        yield from self._runs()
        yield from self._store_gauges()
        yield from self._api()
        if self.heartbeat is not None:
            age = GaugeMetricFamily(
                "handoff_heartbeat_age_seconds", "Seconds since the worker's last heartbeat."
            )
            try:
                age.add_metric([], max(time.time() - self.heartbeat.stat().st_mtime, 0.0))
            except FileNotFoundError:
                age.add_metric([], float("inf"))
            yield age

    def _runs(self) -> Iterator[Metric]:
        totals = self.totals
        runs = CounterMetricFamily(
            "handoff_runs", "Finished pipeline runs by status.", labels=["status", "mode"]
        )
        for (status, mode), n in sorted(totals.runs.items()):
            runs.add_metric([status, mode], n)
        yield runs
        duration = SummaryMetricFamily(
            "handoff_run_duration_seconds", "Wall time of finished runs.", labels=["mode"]
        )
        for mode in sorted(totals.finished):
            duration.add_metric([mode], totals.finished[mode], totals.seconds[mode])
        yield duration
        last = GaugeMetricFamily(
            "handoff_last_run_finished_timestamp_seconds",
            "When the last run of each status finished (unix time).",
            labels=["status"],
        )
        for status, at in sorted(totals.last_finished.items()):
            last.add_metric([status], at)
        yield last
        decided = CounterMetricFamily(
            "handoff_people_decided", "People scored and decided by runs.", labels=["mode"]
        )
        for mode, n in sorted(totals.decided.items()):
            decided.add_metric([mode], n)
        yield decided
        writes = CounterMetricFamily(
            "handoff_writes",
            "Outbox items written by live runs, by outcome (applied, unchanged, rejected, dead).",
            labels=["outcome"],
        )
        for (outcome, _mode), n in sorted(totals.writes.items()):
            writes.add_metric([outcome], n)
        yield writes
        calls = CounterMetricFamily(
            "handoff_api_calls", "CRM API calls by endpoint.", labels=["connection", "endpoint"]
        )
        for (connection, endpoint), n in sorted(totals.calls.items()):
            calls.add_metric([connection, endpoint], n)
        yield calls

    def _store_gauges(self) -> Iterator[Metric]:
        outbox = GaugeMetricFamily(
            "handoff_outbox_items",
            "Outbox items now, by connection and status (pending, sending, rejected, dead, "
            "dropped).",
            labels=["connection", "status"],
        )
        for (connection, status), n in sorted(outbox_counts(self.engine).items()):
            outbox.add_metric([connection, status], n)
        yield outbox
        sla = sla_counts(self.engine, self.clock(), self.sla_window)
        yield GaugeMetricFamily(
            "handoff_sla_clocks_open", "SLA clocks running (no first touch yet).", sla["open"]
        )
        yield GaugeMetricFamily(
            "handoff_sla_clocks_breached",
            "Running SLA clocks past their first-touch deadline.",
            sla["overdue"],
        )
        rate = GaugeMetricFamily(
            "handoff_sla_breach_ratio",
            "Share of the clocks started in alerts.sla_window that breached (touched late or "
            "still untouched past due).",
        )
        started = sla["window_started"]
        rate.add_metric([], sla["window_breached"] / started if started else 0.0)
        yield rate

    def _api(self) -> Iterator[Metric]:
        throttled = CounterMetricFamily(
            "handoff_api_throttled",
            "429 answers from the CRM since the worker started.",
            labels=["connection"],
        )
        limit = GaugeMetricFamily(
            "handoff_api_quota_limit", "The CRM's daily API quota.", labels=["connection"]
        )
        left = GaugeMetricFamily(
            "handoff_api_quota_remaining",
            "Daily API calls left, as the CRM's last response reported.",
            labels=["connection"],
        )
        for name, connector in sorted(self.connectors().items()):
            usage = connector.usage
            throttled.add_metric([name], usage.throttled)
            if usage.daily_limit is not None and usage.daily_remaining is not None:
                limit.add_metric([name], usage.daily_limit)
                left.add_metric([name], usage.daily_remaining)
        yield throttled
        yield limit
        yield left
