"""The processes the end-to-end benchmark starts and measures: the sandbox (`handoff sandbox
serve` in its own process, so its memory is not the worker's), the state store (an SQLite file or
a throwaway PostgreSQL database) and the worker's own RSS (VmRSS, VmHWM reset per run)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.serve_process import serve_process

ROOT = Path(__file__).resolve().parent.parent.parent


@contextmanager
def sandbox(
    contacts: int, limits: bool, seed: int = 7, activity_scale: float = 1.0, crm: str = "both"
) -> Iterator[dict[str, Any]]:
    """`handoff sandbox serve --json` in its own process, so its memory is not ours; only the
    CRM measured (a Salesforce org of 1,000,000 would take minutes to build for nothing)."""
    args = ["--seed", str(seed), "--contacts", str(contacts), "--crm", crm]
    args += ["--limits"] if limits else []
    if activity_scale != 1.0:
        args += ["--activity-scale", str(activity_scale)]
    with serve_process(args, cwd=ROOT) as served:
        yield served.info


def log_rss(path: Path, every: float = 10.0) -> None:
    """A thread appending (UTC time, RSS MB, peak MB, then where it is: malloc's heap in use and
    free, SQLite's allocations, Python's blocks) to `path` every `every` seconds: a long run's
    memory, readable while it runs."""
    import threading

    from bench.e2ekit.memory_split import memory_split

    def sample() -> None:
        while True:
            with path.open("a") as handle:
                handle.write(
                    f"{datetime.now(UTC):%H:%M:%S} {rss_mb():.1f} {peak_rss_mb():.1f} "
                    f"{memory_split()}\n"
                )
            time.sleep(every)

    threading.Thread(target=sample, name="rss-log", daemon=True).start()


def peak_rss_mb() -> float:
    """This process's peak RSS since the last `reset_peak_rss()` (VmHWM; else the lifetime's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so each run's peak is its own."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@contextmanager
def state_store(kind: str, directory: Path) -> Iterator[str]:
    """The run's state store: an SQLite file, or a throwaway PostgreSQL database on the local
    server (127.0.0.1:5432, trust auth; HANDOFF_BENCH_PG overrides), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'handoff.db'}"
        return
    import uuid

    import psycopg

    admin = os.environ.get("HANDOFF_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"handoff_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
