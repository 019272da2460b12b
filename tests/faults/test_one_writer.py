"""One writer per store: a second `handoff sync`, `run` or `db upgrade` on a store in use is refused
(exit 2, naming the holder); concurrent fresh starts migrate once; every lead is routed once.

Each case holds the first run mid-way with a sandbox request hook (its first HubSpot batch write
waits on an event), so the second command meets a run that is certainly in progress."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hubspot
import pytest
from fault_stack import ROOT, Drill, drill
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, select

from routing.tables import Assignment
from sandbox.server import SandboxRequest
from sync.store.engine import make_engine
from sync.store.schema import import_all_tables

AS_OF = "2026-11-20T16:00:00Z"
MISLEADING = "database server is running"


class HoldFirst:
    """A sandbox hook: the first request whose path has `path_part` waits until `release`."""

    def __init__(self, path_part: str) -> None:
        self.path_part = path_part
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: SandboxRequest) -> None:
        if self.path_part in request.path and not self.reached.is_set():
            self.reached.set()
            self.release.wait(timeout=300)  # a guard against a hung test, not a timing

    def wait_reached(self, proc: subprocess.Popen[str]) -> None:
        while not self.reached.wait(0.2):
            if proc.poll() is not None:
                output = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(
                    f"the first run ended before its first write: {output[-2000:]}"
                )


def handoff(d: Drill, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url}
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args, "-c", str(d.config_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def assignments_per_lead(store_url: str) -> Counter[str]:
    engine = make_engine(store_url)
    try:
        with Session(engine) as session:
            return Counter(a.lead_key for a in session.exec(select(Assignment)))
    finally:
        engine.dispose()


def owners_by_email(d: Drill) -> dict[str, str | None]:
    """Every contact's owner, read back through hubspot-api-client."""
    client = hubspot.HubSpot(
        access_token=d.env["HUBSPOT_TOKEN"],
        host=d.env["HUBSPOT_BASE_URL"],
        ssl_ca_cert=d.env["HANDOFF_CA_FILE"],
    )
    contacts = client.crm.contacts.get_all(properties=["email", "hubspot_owner_id"])
    return {c.properties["email"]: c.properties.get("hubspot_owner_id") for c in contacts}


@pytest.fixture(scope="module")
def control_owners(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Owners after one uninterrupted `handoff sync` from the same fixture and as-of time."""
    tmp = tmp_path_factory.mktemp("control")
    with drill(tmp, f"sqlite:///{tmp / 'control.db'}") as d:
        done = d.sync_process("--as-of", AS_OF)
        output, _ = done.communicate(timeout=180)
        assert done.returncode == 0, output[-2000:]
        owners = owners_by_email(d)
    assert any(owners.values()), "the control run routed leads"
    return owners


@pytest.fixture
def held_sync(
    tmp_path: Path, store_url: str
) -> Iterator[tuple[Drill, subprocess.Popen[str], HoldFirst]]:
    """A `handoff sync` held at its first HubSpot batch write (its decisions are committed)."""
    with drill(tmp_path, store_url) as d:
        hold = HoldFirst("batch/update")
        d.sandbox.server("hubspot").before_request.append(hold)
        first = d.sync_process("--as-of", AS_OF)
        try:
            hold.wait_reached(first)
            yield d, first, hold
        finally:
            hold.release.set()
            if first.poll() is None:
                first.communicate(timeout=180)


def test_a_second_writer_is_refused_while_a_sync_runs_and_leads_are_routed_once(
    held_sync: tuple[Drill, subprocess.Popen[str], HoldFirst],
    control_owners: dict[str, str | None],
) -> None:
    d, first, hold = held_sync
    for command in (
        ["sync", "--as-of", AS_OF],
        ["sync", "--dry-run", "--as-of", AS_OF],  # a dry run records in the store too
        ["run", "--heartbeat", str(d.directory / "heartbeat")],
        ["db", "upgrade"],
    ):
        second = handoff(d, *command)
        assert second.returncode == 2, (command, second.stdout, second.stderr)
        assert f"is in use by `handoff sync` (pid {first.pid} on " in second.stderr, second.stderr
        assert "started 20" in second.stderr
        assert "Traceback" not in second.stderr and MISLEADING not in second.stderr
    hold.release.set()
    output, _ = first.communicate(timeout=180)
    assert first.returncode == 0, output[-2000:]
    routed = assignments_per_lead(d.store_url)
    assert routed and max(routed.values()) == 1, routed.most_common(3)
    assert owners_by_email(d) == control_owners
    again = handoff(d, "sync", "--as-of", AS_OF)  # the lock went with the first run
    assert again.returncode == 0, again.stderr[-2000:]
    assert assignments_per_lead(d.store_url) == routed


def test_sync_is_refused_while_run_holds_the_store(tmp_path: Path, store_url: str) -> None:
    import os
    import signal

    with drill(tmp_path, store_url) as d:
        env = {**os.environ, **d.env, "HANDOFF_STATE_URL": d.store_url}
        worker = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "--confirm", "-c", str(d.config_path),
             "--heartbeat", str(tmp_path / "heartbeat")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: list[str] = []
        running = threading.Event()

        def drain() -> None:
            assert worker.stdout is not None
            for line in worker.stdout:
                lines.append(line)
                if "handoff worker running" in line:
                    running.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            while not running.wait(0.2):
                assert worker.poll() is None, "".join(lines)[-2000:]
            second = handoff(d, "sync", "--as-of", AS_OF)
            assert second.returncode == 2, second.stderr
            assert f"is in use by `handoff run` (pid {worker.pid} on " in second.stderr
            assert "Traceback" not in second.stderr and MISLEADING not in second.stderr
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=120)
            reader.join(timeout=10)
        assert worker.returncode == 0, "".join(lines)[-2000:]
        routed = assignments_per_lead(d.store_url)
        assert not routed or max(routed.values()) == 1, routed.most_common(3)


MIGRATOR = r"""
import sys
from sync.store.engine import make_engine
from sync.store.schema import StoreUnavailable, upgrade
engine = make_engine(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    upgrade(engine)
except StoreUnavailable as exc:
    print(exc)
    sys.exit(2)
print("migrated")
"""


def test_concurrent_fresh_starts_migrate_once(store_url: str) -> None:
    """Six processes migrate one empty store at the same instant (each waits at a gate until all
    are ready): all succeed and the schema is the current one."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, store_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [p.returncode for p in procs] == [0] * 6, outputs
    _assert_current_schema(store_url)


def _assert_current_schema(store_url: str) -> None:
    from alembic.script import ScriptDirectory

    from sync.store.schema import alembic_config

    import_all_tables()
    engine = make_engine(store_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
        with engine.connect() as connection:
            versions = [
                r[0] for r in connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            ]
        assert versions == [ScriptDirectory.from_config(alembic_config(engine)).get_current_head()]
    finally:
        engine.dispose()


def test_two_syncs_on_a_fresh_store_never_mislead_and_route_once(
    tmp_path: Path, store_url: str
) -> None:
    with drill(tmp_path, store_url) as d:
        procs = [d.sync_process("--as-of", AS_OF) for _ in range(2)]
        outputs = [proc.communicate(timeout=180)[0] for proc in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes in ([0, 0], [0, 2]), outputs
        for proc, output in zip(procs, outputs, strict=True):
            assert MISLEADING not in output and "Traceback" not in output, output[-2000:]
            if proc.returncode == 2:
                assert "is in use by `handoff sync` (pid" in output, output[-2000:]
        _assert_current_schema(d.store_url)
        routed = assignments_per_lead(d.store_url)
        assert routed and max(routed.values()) == 1, routed.most_common(3)


@pytest.mark.postgres
def test_sync_and_replica_jobs_never_write_one_connection_at_once(
    tmp_path: Path, pg_url: str
) -> None:
    """Replicas share a PostgreSQL store; each job holds its connection's writer lock, so a
    `handoff sync` is refused while a replica job writes that connection, and a replica job is
    skipped (runs next period) while a `handoff sync` does."""
    from sync.replicas import build_app
    from sync.store.writer_lock import StoreWriter

    with drill(tmp_path, pg_url) as d:
        import os

        replica_job = StoreWriter(pg_url, "run --replicas (sync)", ["hubspot"]).acquire()
        try:
            refused = handoff(d, "sync", "--as-of", AS_OF)
        finally:
            replica_job.release()
        assert refused.returncode == 2, refused.stderr
        assert (
            "connection 'hubspot' of the state store" in refused.stderr
            and f"is in use by `handoff run --replicas (sync)` (pid {os.getpid()} on "
            in refused.stderr
        ), refused.stderr
        engine = make_engine(pg_url)
        assert inspect(engine).get_table_names() == [], "refused before touching the store"
        engine.dispose()

        hold = HoldFirst("batch/update")
        d.sandbox.server("hubspot").before_request.append(hold)
        first = d.sync_process("--as-of", AS_OF)
        ran: list[tuple[str, str]] = []
        app = build_app(d.config(), lambda connection, kind: ran.append((connection, kind)))
        job = app.tasks["handoff.job"]
        try:
            hold.wait_reached(first)
            job(connection="hubspot", kind="sync")
            job(connection="hubspot", kind="sla")
            assert ran == [], "a replica job wrote a connection `handoff sync` holds"
        finally:
            hold.release.set()
            output, _ = first.communicate(timeout=180)
        assert first.returncode == 0, output[-2000:]
        job(connection="hubspot", kind="sync")
        assert ran == [("hubspot", "sync")]


def test_a_store_locked_past_the_busy_timeout_is_said_to_be_locked(tmp_path: Path) -> None:
    """Another process keeps SQLite's write lock past the busy timeout (here 0.2 s): the start
    fails with a message saying so, not "check that the database server is running"."""
    import sqlite3

    from sqlalchemy import create_engine

    from sync.store.schema import StoreUnavailable, upgrade

    database = tmp_path / "handoff.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 0.2})
        with pytest.raises(StoreUnavailable) as caught:
            upgrade(engine)
        engine.dispose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(caught.value)
    assert "stayed locked by another process" in message and "database is locked" in message
    assert MISLEADING not in message


@pytest.mark.postgres
def test_a_worker_whose_lock_session_ended_takes_the_store_again_or_is_refused(
    pg_url: str,
) -> None:
    """A long-lived `handoff run` on PostgreSQL loses its lock with its session (a server restart,
    `idle_session_timeout`): before its next job it takes the lock again, or is refused while a
    `handoff sync` holds the store meanwhile."""
    import psycopg

    from sync.store.writer_lock import StoreBusy, StoreWriter

    worker = StoreWriter(pg_url, "run", ["hubspot"]).acquire()
    admin = psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True)
    try:

        def end_lock_sessions() -> None:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE 'handoff|%|run|%' AND datname = current_database()"
            )

        end_lock_sessions()
        sync = StoreWriter(pg_url, "sync", ["hubspot"]).acquire()  # the lock went with it
        with pytest.raises(StoreBusy, match=r"in use by `handoff sync` \(pid \d+ on "):
            worker.reassert()
        sync.release()
        worker.reassert()  # taken again
        with pytest.raises(StoreBusy, match=r"in use by `handoff run` \(pid \d+ on "):
            StoreWriter(pg_url, "sync", ["hubspot"]).acquire()
        worker.reassert()  # still held: nothing to do
    finally:
        worker.release()
        admin.close()


@pytest.mark.postgres
def test_sync_is_refused_while_a_replica_process_writes_the_connection(
    tmp_path: Path, pg_url: str
) -> None:
    """A real `handoff run --replicas`, held at its first HubSpot batch write: `handoff sync` on
    the same PostgreSQL store is refused naming the replica's job and pid."""
    import os
    import signal

    with drill(tmp_path, pg_url) as d:
        config = tmp_path / "replica.yaml"
        config.write_text(
            d.config_path.read_text().replace(
                'schedules: {sync_every: 5m, sla_every: 1m, decay_at: "02:00", report_at: "06:00"}',
                'schedules: {sync_every: 2s, sla_every: 1m, decay_at: "02:00", report_at: "06:00"}',
            )
        )
        assert "sync_every: 2s" in config.read_text()
        hold = HoldFirst("batch/update")
        d.sandbox.server("hubspot").before_request.append(hold)
        env = {**os.environ, **d.env, "HANDOFF_STATE_URL": pg_url}
        replica = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "--replicas", "--confirm", "-c", str(config),
             "--heartbeat", str(tmp_path / "heartbeat")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            hold.wait_reached(replica)
            refused = handoff(d, "sync", "--as-of", AS_OF)
            assert refused.returncode == 2, refused.stderr
            assert (
                f"is in use by `handoff run --replicas (sync)` (pid {replica.pid} on "
                in refused.stderr
            ), refused.stderr
            assert "Traceback" not in refused.stderr
        finally:
            hold.release.set()
            replica.send_signal(signal.SIGTERM)
            output, _ = replica.communicate(timeout=120)
        assert replica.returncode == 0, output[-3000:]
        routed = assignments_per_lead(pg_url)
        assert routed and max(routed.values()) == 1, routed.most_common(3)


def test_a_writer_refused_as_the_holder_starts_waits_for_its_name(tmp_path: Path) -> None:
    """The holder takes the lock, then writes who it is: a second writer refused in between
    names the holder once it has written (the two-syncs case above met this in CI), and a
    released lock file never names the process that released it."""
    import fcntl
    import json
    import os

    from sync.store.writer_lock import StoreBusy, StoreWriter

    url = f"sqlite:///{tmp_path / 'handoff.db'}"
    lock_path = tmp_path / "handoff.db.lock"
    with lock_path.open("a+", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken, nothing written yet

        def say_who() -> None:
            held.write(json.dumps({"command": "sync", "pid": 4242, "host": "worker-1"}) + "\n")
            held.flush()

        timer = threading.Timer(0.3, say_who)
        timer.start()
        try:
            with pytest.raises(StoreBusy, match=r"by `handoff sync` \(pid 4242 on worker-1\)"):
                StoreWriter(url, "sync", ["hubspot"]).acquire()
        finally:
            timer.join()
        fcntl.flock(held, fcntl.LOCK_UN)

    writer = StoreWriter(url, "sync", ["hubspot"]).acquire()
    assert str(os.getpid()) in lock_path.read_text(encoding="utf-8")
    writer.release()
    assert lock_path.read_text(encoding="utf-8") == ""
