"""What both speed-to-lead benchmarks share (bench/speed_to_lead.py for HubSpot webhooks,
bench/speed_to_lead_salesforce.py for Salesforce change events): `handoff run` as a subprocess,
the loop that makes demo requests while a poller reads them back through the CRM's own client
(stopping and starting the worker mid-stream when asked), and the summary: p50/p95/max of the
seconds to owner and to owner+task, tasks per person, the machine's load average meanwhile, and
where the seconds go (the fast path's own decision time and lag, from the worker's log).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]


class Poller(Protocol):
    """Reads pending people back through a CRM client: `sent` maps each request's key to (made
    at, bulk sync running then); `owner_at` and `task_at` to when each was readable."""

    sent: dict[str, tuple[float, bool]]
    owner_at: dict[str, float]
    task_at: dict[str, float]

    def pending(self) -> list[str]: ...

    def poll(self) -> None: ...


class Worker:
    """`handoff run` as a subprocess, its output collected; `log` keeps every life's lines.
    `ready(lines)` says when it listens (its first line, or its subscriptions opened)."""

    def __init__(
        self, config: Path, env: dict[str, str], log: list[str], ready: Callable[[], bool]
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "-c", str(config),
             "--heartbeat", str(config.parent / "heartbeat")],
            cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines = log
        self.started = time.monotonic()
        self.applied_at: float | None = None  # when its first sync printed "(applied)"
        threading.Thread(target=self._drain, daemon=True).start()
        while not ready():
            assert self.proc.poll() is None, "".join(self.lines)[-3000:]
            time.sleep(0.05)

    def _drain(self) -> None:
        for line in self.proc.stdout or []:
            if self.applied_at is None and "(applied)" in line:
                self.applied_at = time.monotonic()
            self.lines.append(line)

    def first_sync(self) -> str:
        """How long this worker's first sync took, or ran until stopped."""
        if self.applied_at is not None:
            return f"{self.applied_at - self.started:.0f} s"
        return f"not finished after {time.monotonic() - self.started:.0f} s"

    def stop(self, kill: bool = False) -> None:
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def bulk_running(lines: list[str]) -> bool:
    """Whether the worker's first full sync is still running (it prints "(applied)" at its end)."""
    return not any("(applied)" in line for line in lines)


class Stream:
    """Makes `submissions` requests, one every `spacing` seconds, polling between them, until
    each has its owner and task; restarts the worker after request `restart_at` when asked."""

    def __init__(self, args: Any, poller: Poller, start: Callable[[], Worker]) -> None:
        self.args = args
        self.poller = poller
        self.start = start
        self.restarts = 0
        self.out_of_time = False
        self.load: list[float] = []  # 1-minute load average, sampled every poll
        self.lives: list[str] = []  # each worker life's first sync: how long it took

    def run(self, request: Callable[[str], str], poll_every: float, worker: Worker) -> Worker:
        args, poller = self.args, self.poller
        started = time.monotonic()
        next_request = next_poll = started
        sent = 0
        while sent < args.submissions or poller.pending():
            if sent < args.submissions and time.monotonic() >= next_request:
                bulk = bulk_running(worker.lines)
                sent += 1
                key = request(f"s{sent}")  # made: the CRM answered (the record exists)
                poller.sent[key] = (time.monotonic(), bulk)
                next_request += args.spacing
                if sent == args.restart_at:
                    worker.stop(kill=args.kill)
                    self.lives.append(worker.first_sync())
                    print(f"worker stopped after request {sent}", flush=True)
                    time.sleep(args.down)
                    worker = self.start()
                    self.restarts += 1
                    print("worker started again", flush=True)
            if time.monotonic() >= next_poll:
                poller.poll()
                self.load.append(os.getloadavg()[0])
                next_poll = time.monotonic() + poll_every
            if time.monotonic() - started >= args.limit_seconds:  # report what was measured
                print(f"out of time after {sent} requests", flush=True)
                self.out_of_time = True
                self.lives.append(worker.first_sync())
                return worker
            soonest = min(next_poll, next_request if sent < args.submissions else next_poll)
            time.sleep(max(0.01, soonest - time.monotonic()))
        self.lives.append(worker.first_sync())
        return worker

    def first_syncs(self) -> str:
        """Each worker life's first (bulk) sync: its duration, or how long it ran unfinished."""
        return "first sync of each worker life: " + ", ".join(self.lives)


def seconds_since(at: float, when: float | None) -> float | None:
    return None if when is None else when - at


def summary(values: list[float | None]) -> str:
    """p50 | p95 | max (nearest rank) of those measured."""
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return "- | - | -"
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"{statistics.median(ordered):.2f} | {p95:.2f} | {ordered[-1]:.2f}"


def where_the_seconds_go(lines: list[str], decided_event: str, lag_field: str) -> str:
    """The fast path's own decision seconds and its lag from the CRM's event, from its log."""
    seconds: list[float] = []
    lags: list[float] = []
    skipped = 0
    for line in lines:
        if line.startswith("{") and f'"{decided_event}"' in line:
            entry = json.loads(line)
            seconds.append(float(entry["seconds"]))
            lags.append(float(entry[lag_field]))
        elif line.startswith("{") and '"decide.after_pull"' in line:
            skipped += int(json.loads(line).get("decided_by_fast_path", 0))
    if not seconds:
        return "no fast-path decisions logged"
    return (
        f"{len(seconds)} fast-path decisions: own seconds p50/p95/max {summary(seconds)}; "
        f"event to decision p50/p95/max {summary(lags)}; people the bulk run skipped as "
        f"decided by the fast path meanwhile: {skipped}"
    )


PARTS = (
    "read_seconds", "lock_wait_seconds", "read_again_seconds", "decide_seconds",
    "task_seconds", "crm_seconds", "rate_limit_seconds", "retry_wait_seconds", "store_seconds",
    "write_turn_seconds", "routing_lock_seconds", "person_lock_seconds",
)  # fmt: skip  # a fast-path decision's log line: sync/decision_clock.py
SLOWEST = 0.1  # the slowest tenth of the decisions, by their own seconds, apart


def decision_parts(lines: list[str], decided_event: str) -> str:
    """A fast-path decision's seconds by part (its log line's breakdown), p50/p95/max over all
    decisions, then over the slowest tenth (by the decision's own seconds)."""
    entries = [
        json.loads(line) for line in lines if line.startswith("{") and f'"{decided_event}"' in line
    ]
    if not entries:
        return "no decision parts logged"
    slowest = sorted(entries, key=lambda e: float(e["seconds"]))[
        -max(1, round(SLOWEST * len(entries))) :
    ]
    return (
        f"decision parts p50/p95/max: {_parts(entries)}\n"
        f"the slowest {len(slowest)} decisions (own seconds {summary([float(e['seconds']) for e in slowest])}), "
        f"parts p50/p95/max: {_parts(slowest)}"
    )


def _parts(entries: list[dict[str, Any]]) -> str:
    named = [n for n in PARTS if any(n in e for e in entries)]  # a part not waited for took 0 s
    return "; ".join(
        f"{n.removesuffix('_seconds')} {summary([float(e.get(n, 0.0)) for e in entries])}"
        for n in named
    )


def refusals(journal: Path) -> str:
    """The sandbox's answers: calls, refusals (403 limits, 503), the slowest, from its log."""
    statuses: Counter[int] = Counter()
    slow: list[float] = []
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        statuses[int(entry["status"])] += 1
        slow.append(float(entry.get("duration_ms") or 0.0))
    slow.sort()
    refused = sum(n for code, n in statuses.items() if code in (403, 429, 503))
    p95 = slow[max(0, round(0.95 * len(slow)) - 1)] / 1000 if slow else 0.0
    longest = slow[-1] / 1000 if slow else 0.0
    return (
        f"sandbox answered {sum(statuses.values())} calls (worker and poller), refused "
        f"{refused} (statuses {dict(sorted(statuses.items()))}); answer p95 {p95:.2f} s, "
        f"max {longest:.2f} s"
    )


def report(
    rows: list[dict[str, Any]], noun: str, headline: str, load: list[float], detail: str
) -> None:
    """The table, tasks per person, load average; exits non-zero unless each has one task."""
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["tasks"]] = counts.get(row["tasks"], 0) + 1
    print()
    print(f"{headline}; tasks per {noun} {dict(sorted(counts.items()))}")
    if load:
        print(
            f"load average (1 min) during the stream: min {min(load):.1f}, "
            f"mean {statistics.mean(load):.1f}, max {max(load):.1f}"
        )
    print(detail)
    unread = sum(1 for r in rows if r["task_s"] is None)
    if unread:
        print(f"{unread} of {len(rows)} requests without their owner and task when the run stopped")
    print("| phase | requests | owner p50 s | owner p95 s | owner max s | owner+task p50 s | "
          "owner+task p95 s | owner+task max s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for phase, pick in (("during bulk sync", True), ("after it", False), ("all", None)):
        chosen = [r for r in rows if pick is None or r["bulk_running"] is pick]
        if chosen:
            owners = summary([r["owner_s"] for r in chosen])
            tasks_s = summary([r["task_s"] for r in chosen])
            print(f"| {phase} | {len(chosen)} | {owners} | {tasks_s} |")
    if set(counts) != {1} or unread:
        raise SystemExit(f"tasks per {noun} {counts}: each demo request needs exactly one")


def slowest_statements(lines: list[str], decided_event: str, top: int = 5) -> str:
    """Which store statement was each fast-path decision's slowest (`slowest_store`: table +
    operation, `slowest_store_seconds`), by label: how many decisions, their seconds
    p50/p95/max, most total seconds first."""
    by_label: dict[str, list[float]] = {}
    for line in lines:
        if line.startswith("{") and f'"{decided_event}"' in line:
            entry = json.loads(line)
            if "slowest_store" in entry:
                label = str(entry["slowest_store"])
                by_label.setdefault(label, []).append(float(entry["slowest_store_seconds"]))
    if not by_label:
        return "slowest store statement per decision: none logged"
    ranked = sorted(by_label.items(), key=lambda item: -sum(item[1]))
    return "slowest store statement per decision (decisions, seconds p50/p95/max): " + "; ".join(
        f"{label} {len(values)}, {summary(values)}" for label, values in ranked[:top]
    )
