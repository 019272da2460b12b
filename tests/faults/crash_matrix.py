"""Differential crash drills: a scenario of runs killed at one chosen request, resumed, and the
CRMs compared with an uninterrupted control run of the same fixture and as-of times.

The scenario is three runs: the first at `T0` (scores, stages, routing, clocks), the second
when every first-touch window and the reassignment rung have lapsed (`T1`: SLA tasks, manager
tasks, reassignments), the third at `T1` again (it must change nothing). One of the first two
runs is `handoff sync` in a process of its own, killed with SIGKILL by the sandbox (in this
process) at the Nth request matching a kill point; the killed run is then run again at the same
as-of, and the scenario goes on. What the CRMs hold at the end is read through their own client
libraries (hubspot-api-client, simple-salesforce) and compared field by field with the control.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crm_snapshot import read_hubspot, read_salesforce
from sla_lapse import every_window_lapsed
from sqlmodel import Session, select

from config.loader import load_config
from connectors.factory import build_connector
from routing.sla.tables import SlaClock
from routing.tables import Assignment
from sandbox.faults import KillSwitch
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.pipeline import Pipeline, RunResult
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the portal's seed time (a Friday)
PEOPLE = 30  # tens of people: every kind of write happens, each case stays a few seconds
SEED = 5
BULK_THRESHOLD = 10  # the first run's Salesforce field updates go through a Bulk API 2.0 job
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class KillPoint:
    """Kill the worker at the `nth` `method` request whose path holds `path`, on `crm`'s
    server, during scenario run `run` (0: at T0, 1: at T1); `after`: once the CRM answered;
    `rerun`: the killed run is run again at its own as-of (False: the next run, at T1, resumes
    it, as the next scheduled run of `handoff run` would)."""

    crm: str
    run: int
    method: str
    path: str
    nth: int = 1
    after: bool = False
    rerun: bool = True


POINTS: dict[str, KillPoint] = {
    # HubSpot
    "hubspot: during the pull": KillPoint("hubspot", 0, "POST", "/batch/read", 2),
    "hubspot: decisions committed, no write yet": KillPoint(
        "hubspot", 0, "POST", "/contacts/batch/update"
    ),
    "hubspot: batch update answered, not recorded": KillPoint(
        "hubspot", 0, "POST", "/contacts/batch/update", after=True
    ),
    "hubspot: decisions committed, the next run resumes": KillPoint(
        "hubspot", 0, "POST", "/contacts/batch/update", rerun=False
    ),
    "hubspot: batch update answered, the next run resumes": KillPoint(
        "hubspot", 0, "POST", "/contacts/batch/update", after=True, rerun=False
    ),
    "hubspot: before the reassignment's batch update": KillPoint(
        "hubspot", 1, "POST", "/contacts/batch/update"
    ),
    "hubspot: reassignment's batch update answered, not recorded": KillPoint(
        "hubspot", 1, "POST", "/contacts/batch/update", after=True
    ),
    "hubspot: before the task create": KillPoint("hubspot", 1, "POST", "/tasks/batch/create"),
    "hubspot: task create answered, not recorded": KillPoint(
        "hubspot", 1, "POST", "/tasks/batch/create", after=True
    ),
    # Salesforce
    "salesforce: during the pull": KillPoint("salesforce", 0, "GET", "/query", 2),
    "salesforce: decisions committed, before the bulk job": KillPoint(
        "salesforce", 0, "POST", "/jobs/ingest"
    ),
    "salesforce: decisions committed, the next run resumes": KillPoint(
        "salesforce", 0, "POST", "/jobs/ingest", rerun=False
    ),
    "salesforce: bulk job uploaded, never read back": KillPoint(
        "salesforce", 0, "PATCH", "/jobs/ingest/", after=True
    ),
    "salesforce: bulk job results answered, not recorded": KillPoint(
        "salesforce", 0, "GET", "/successfulResults", after=True
    ),
    "salesforce: before the collection update": KillPoint(
        "salesforce", 1, "PATCH", "/composite/sobjects"
    ),
    "salesforce: collection update answered, not recorded": KillPoint(
        "salesforce", 1, "PATCH", "/composite/sobjects", after=True
    ),
    "salesforce: before the task create": KillPoint("salesforce", 1, "POST", "/composite/sobjects"),
    "salesforce: task create answered, not recorded": KillPoint(
        "salesforce", 1, "POST", "/composite/sobjects", after=True
    ),
}
# Tasks go to a person's first CRM (HubSpot when both are configured): Salesforce task creates
# happen when Salesforce is alone.
ONLY_ALONE = {
    "salesforce: before the task create",
    "salesforce: task create answered, not recorded",
}


def points_for(crm: str) -> list[str]:
    return [
        name
        for name, point in POINTS.items()
        if (crm == "both" and name not in ONLY_ALONE) or point.crm == crm
    ]


@dataclass
class Outcome:
    """What a finished scenario left: the CRMs as their clients read them, and the store."""

    crm: dict[str, dict[str, Any]]  # "hubspot:<email>" / "salesforce:<email>" -> fields
    tasks: Counter[tuple[str, ...]]  # (crm, person email, task key, owner email, subject)
    assignments: Counter[tuple[str, ...]]  # (lead, owner, rule, moment) in the ledger
    clocks: set[tuple[str, ...]]  # (lead, owner, started, ended, end reason)
    as_of: list[datetime] = field(default_factory=list)


class Scenario:
    """One sandbox, one store, one config: the runs of the drill."""

    def __init__(self, crm: str, tmp_path: Path, store_url: str) -> None:
        self.crm, self.tmp_path, self.store_url = crm, tmp_path, store_url
        portal = generate_portal(SEED, PEOPLE, T0)
        self.sandbox = Sandbox(
            portal,
            hubspot=crm in ("hubspot", "both"),
            salesforce=crm in ("salesforce", "both"),
            ca_directory=tmp_path / "ca",
        )
        text = example_config(crm).read_text()
        self.config_path = tmp_path / "handoff.yaml"
        self.config_path.write_text(
            text.replace("bulk_threshold: 2000", f"bulk_threshold: {BULK_THRESHOLD}")
        )
        self.env: dict[str, str] = {}

    @contextmanager
    def running(self) -> Iterator[Scenario]:
        with self.sandbox, sandbox_environment(self.sandbox.info, self.tmp_path) as env:
            os.environ["HANDOFF_STATE_URL"] = self.store_url
            self.env = {**env, "HANDOFF_STATE_URL": self.store_url}
            engine = make_engine(self.store_url)
            upgrade(engine)
            engine.dispose()
            yield self

    def run(self, as_of: datetime) -> RunResult:
        """One run in this process (the sandbox answers from its own threads)."""
        config = load_config(self.config_path)
        engine = make_engine(self.store_url)
        try:
            connectors = {c.name: build_connector(c) for c in config.connections}
            return Pipeline(config, engine, connectors).run(as_of=as_of)
        finally:
            engine.dispose()

    def killed_run(self, as_of: datetime, point: KillPoint) -> None:
        """`handoff sync` in its own process, killed by the sandbox at the kill point."""
        switch = KillSwitch(point.method, point.path, point.nth, after=point.after)
        server = self.sandbox.server(point.crm)
        server.before_request.append(switch.before)
        server.after_request.append(switch.after_answer)
        stamp = as_of.strftime("%Y-%m-%dT%H:%M:%SZ")
        command = [sys.executable, "-m", "config.cli", "sync", "-c", str(self.config_path)]
        process = subprocess.Popen(
            [*command, "--as-of", stamp],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            switch.arm(process)
            output, _ = process.communicate(timeout=240)
        finally:
            switch.disarm()
            server.before_request.remove(switch.before)
            server.after_request.remove(switch.after_answer)
        assert switch.fired, f"the run never reached the kill point {point}:\n{output[-3000:]}"
        assert process.returncode == -9, output[-3000:]

    def lapsed(self) -> datetime:
        """T1: every first-touch window and the reassignment rung after it have lapsed."""
        engine = make_engine(self.store_url)
        try:
            return every_window_lapsed(engine) + timedelta(days=3)
        finally:
            engine.dispose()

    def play(self, point: KillPoint | None = None, t1: datetime | None = None) -> Outcome:
        """T0, T1, T1 again; with a kill point, its run is killed once and run again first."""
        as_of = [T0]
        for index in range(2):
            if index == 1:
                as_of.append(t1 or self.lapsed())
            if point is not None and point.run == index:
                self.killed_run(as_of[index], point)
                if not point.rerun:
                    continue
            self.assert_clean(self.run(as_of[index]))
        again = self.run(as_of[1])
        self.assert_clean(again)
        assert again.planned == [] and again.writes.items == [], (
            "a repeat run at the same as-of changed something: "
            + "; ".join(f"{i.connection} {i.record_id} {i.field}={i.value} ({i.reason})"
                        for i in again.writes.items[:10])
        )  # fmt: skip
        outcome = self.outcome()
        outcome.as_of = as_of
        return outcome

    @staticmethod
    def assert_clean(result: RunResult) -> None:
        assert result.status == "ok", result.errors

    def outcome(self) -> Outcome:
        crm: dict[str, dict[str, Any]] = {}
        tasks: Counter[tuple[str, ...]] = Counter()
        if self.sandbox.hubspot is not None:
            read_hubspot(self.sandbox, crm, tasks)
        if self.sandbox.salesforce is not None:
            read_salesforce(self.sandbox, crm, tasks)
        engine = make_engine(self.store_url)
        with Session(engine) as session:
            assignments = Counter(
                (a.lead_key, a.owner_email, a.rule, a.assigned_at.isoformat())
                for a in session.exec(select(Assignment))
            )
            clocks = {
                (c.lead_key, c.owner_email, c.started_at.isoformat(), str(c.ended_at), str(c.end_reason))
                for c in session.exec(select(SlaClock))
            }  # fmt: skip
            open_items = session.exec(
                select(OutboxItem).where(
                    OutboxItem.status.in_(("pending", "sending", "rejected"))  # type: ignore[attr-defined]
                )
            ).all()
        engine.dispose()
        assert not open_items, [(i.connection, i.field, i.status) for i in open_items]
        return Outcome(crm, tasks, assignments, clocks)


def differences(control: Outcome, drilled: Outcome) -> list[str]:
    """Every field where the drilled scenario's CRMs differ from the control's."""
    out: list[str] = []
    for record in sorted(set(control.crm) | set(drilled.crm)):
        want, got = control.crm.get(record, {}), drilled.crm.get(record, {})
        for name in sorted(set(want) | set(got)):
            if want.get(name) != got.get(name):
                out.append(
                    f"{record} {name}: control {want.get(name)!r}, drilled {got.get(name)!r}"
                )
    for task in sorted(set(control.tasks) | set(drilled.tasks)):
        if control.tasks[task] != drilled.tasks[task]:
            out.append(f"task {task}: control {control.tasks[task]}, drilled {drilled.tasks[task]}")
    for row in sorted(set(control.assignments) | set(drilled.assignments)):
        if control.assignments[row] != drilled.assignments[row]:
            out.append(
                f"assignment {row}: control {control.assignments[row]}, "
                f"drilled {drilled.assignments[row]}"
            )
    for clock in sorted(control.clocks ^ drilled.clocks):
        out.append(
            f"clock {clock}: {'control only' if clock in control.clocks else 'drilled only'}"
        )
    return out


def owners_disagree(outcome: Outcome) -> list[str]:
    """People whose HubSpot owner is not their Salesforce lead's owner (Salesforce owns owners;
    a Salesforce contact's owner is not Handoff's to write, so only leads must agree)."""
    out = []
    for record, fields in sorted(outcome.crm.items()):
        if not record.startswith("salesforce:") or fields.get("object") != "Lead":
            continue
        hubspot = outcome.crm.get("hubspot:" + record.split(":", 1)[1])
        if hubspot is not None and hubspot["owner"] != fields["owner"]:
            out.append(f"{record}: HubSpot {hubspot['owner']}, Salesforce {fields['owner']}")
    return out


def pg_admin_url() -> str:
    """The server the suite's PostgreSQL tests use (tests/conftest.py reads the same variable)."""
    return os.environ.get(
        "HANDOFF_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )


@contextmanager
def throwaway_postgres(admin_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards."""
    import psycopg

    name = f"handoff_crash_{uuid.uuid4().hex[:12]}"
    admin = admin_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
