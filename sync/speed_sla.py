"""The SLA ladder for the people the webhook fast path hands on, at their rungs' own times.

A scheduled run decides, then fires the ladder rungs due at its time for every clock
(`plan_sla_actions`): a fast lane whose first rung is "task the owner at once" gets its task in the
same run. The fast path decides one person at a time, so it does the same for that person alone:
right after the handoff it looks at the person's open clock, and fires the rungs due by then (or
within `WAIT_FOR`, waiting for them) through the same `plan_sla_actions` (the task's wording, key
and owner are the scheduled run's); a rung due within `HORIZON` is kept and fired when it falls
due (in the fast path's thread); later rungs are left to the worker's SLA check. A rung fired here
is recorded like any other (`sla_rungs_fired`), so the scheduled run skips it, and a scheduled run
that fires it at the same moment plans the same task key: its task is created once.
"""

from __future__ import annotations

import heapq
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlmodel import Session

from sync.escalation import RUNG_WAIT, plan_sla_actions
from sync.only import _write_this_run, claim_run
from sync.passes import DecisionPasses
from sync.person_lock import person_locks
from sync.pipeline import RunResult
from sync.store.types import utc_now

if TYPE_CHECKING:
    from sync.cli import Runtime

log = structlog.get_logger("handoff.speed")
HORIZON = timedelta(minutes=2)  # rungs due sooner than this are fired by the fast path
WAIT_FOR = RUNG_WAIT  # a rung due this soon is waited for, then fired at once


def sla_step(runtime: Runtime, key: str, now: datetime) -> RunResult:
    """Fire the rungs due by `now` for this person's clocks and write what they plan (the
    owner's task), as a run of its own."""
    config, engine, pipeline = runtime.config, runtime.engine, runtime.pipeline
    result = RunResult(
        run_id=claim_run(engine, list(runtime.connectors), now, False, utc_now()),
        as_of=now,
        dry_run=False,
    )
    mode = pipeline.mode(False)
    domain = (pipeline.scoring, pipeline.lifecycle, pipeline.sla)
    with person_locks(engine, [key]), Session(engine) as session:
        passes = DecisionPasses(config, domain, session, mode, result)
        try:
            plan_sla_actions(session, config, passes.stage, passes.engines, lead_keys={key})
            passes.flush()
            result.tally = passes.stage.tally
            session.commit()  # the rungs are recorded before any CRM call
            result.writes.add(_write_this_run(runtime, mode.writer, result))
        finally:
            passes.close()
    result.errors += result.tally.problems + result.writes.errors
    pipeline._finish(result)
    return result


class LadderSteps:
    """People handed on by the fast path whose next rung falls due soon: (due, person key)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._due: list[tuple[datetime, str]] = []
        self._lock = threading.Lock()

    def after_handoff(self, key: str) -> None:
        """Right after the person's decision: fire what is due, keep what falls due soon."""
        with Session(self.runtime.engine) as session:
            due = self.runtime.pipeline.sla.next_rung_due(session, lead_key=key)
        if due is None:
            return
        now = utc_now()
        if due - now <= WAIT_FOR:  # "task the owner at once" rungs: fired now, not on a later pass
            time.sleep(max(0.0, (due - now).total_seconds()))
            self._step(key, utc_now())
        elif due - now <= HORIZON:
            with self._lock:
                heapq.heappush(self._due, (due, key))

    def waiting(self) -> bool:
        """Whether a kept rung is due now."""
        with self._lock:
            return bool(self._due) and self._due[0][0] <= utc_now()

    def fire_due(self) -> None:
        """Fire the kept rungs due now (each holding its person's decision lock)."""
        now = utc_now()
        with self._lock:
            ready: list[tuple[datetime, str]] = []
            while self._due and self._due[0][0] <= now:
                ready.append(heapq.heappop(self._due))
        for _, key in ready:
            self._step(key, now)

    def _step(self, key: str, now: datetime) -> None:
        result = sla_step(self.runtime, key, now)
        log.info(
            "speed.sla_step",
            person=key,
            run_id=result.run_id,
            planned=len(result.planned),
            written=len(result.writes.items),
        )
        for error in result.errors:
            log.warning("speed.warning", person=key, warning=error)
