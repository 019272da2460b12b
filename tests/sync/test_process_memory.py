"""The worker's allocator policy (sync/process_memory.py), measured on a fresh process's RSS.

Each case runs in a subprocess of its own: glibc's settings are per process and apply to what is
allocated after them. Not timed: the assertions are on resident memory, before and after."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from sync.process_memory import SQLITE_HEAP_MIB

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the policy is glibc's (elsewhere it does nothing)",
)

# Large buffers freed among small ones that live on: what a run does with its response bodies
# and pages of JSON. A 4 MiB buffer freed first raises glibc's dynamic mmap threshold, so
# without the policy the 1 MiB ones after it come from the heap and stay resident when freed.
LARGE_BUFFERS = """
import json, sys, threading
from pathlib import Path
from sync.process_memory import apply_allocator_policy, released_while_running

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

applied = apply_allocator_policy()
again = apply_allocator_policy()
out = {"applied": applied, "again": again}

def large():
    first = b"\x01" * (4 << 20)
    del first
    keep, big = [], []
    for i in range(80):
        big.append(b"\x01" * (1 << 20))
        keep.append(b"\x01" * 700)  # malloc'd, between the large buffers
    before = rss()
    big.clear()
    out["large_freed_mb"] = before - rss()

def small():
    keep, freed = [], []
    for i in range(6000):  # ~100 MB of 16 KiB chunks, each beside a small one that lives on
        freed.append(b"\x01" * (16 << 10))
        keep.append(b"\x01" * 700)
    before = rss()
    freed.clear()
    out["small_freed_mb"] = before - rss()
    with released_while_running(every=3600):
        pass
    out["small_released_mb"] = before - rss()

for job in (large, small):  # in threads, as the run's readers and writers allocate
    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
print(json.dumps(out))
"""


def _measure(**env: str) -> dict[str, float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    environ.pop("HANDOFF_ALLOCATOR", None)
    done = subprocess.run(
        [sys.executable, "-c", LARGE_BUFFERS],
        cwd=ROOT,
        env=environ | env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_freed_memory_goes_back_to_the_system() -> None:
    measured = _measure()
    assert measured["applied"] is True and measured["again"] is True
    # the 1 MiB buffers were mapped on their own (the mmap threshold is fixed): unmapped when freed
    assert measured["large_freed_mb"] > 60, measured
    # the 16 KiB chunks' pages stay in the arena until released at the run's end
    assert measured["small_released_mb"] > measured["small_freed_mb"] + 60, measured


def test_the_operator_s_allocator_settings_win() -> None:
    for env in ({"HANDOFF_ALLOCATOR": "default"}, {"MALLOC_ARENA_MAX": "4"}):
        measured = _measure(**env)
        assert measured["applied"] is False, env
        # glibc's own settings: the large buffers came from the heap and stay resident when
        # freed, and nothing is released at the run's end
        assert measured["large_freed_mb"] < 20, (env, measured)
        assert measured["small_released_mb"] < measured["small_freed_mb"] + 20, (env, measured)


# A store larger than the caches read through by three connections at once, each allowed 64 MiB
# of page cache: without a heap limit each keeps what it read, with it they share one budget.
SQLITE_CACHES = """
import json, sqlite3, sys
from pathlib import Path
from sync.process_memory import apply_allocator_policy

def rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

path = sys.argv[1]
db = sqlite3.connect(path)
db.execute("CREATE TABLE activity (id INTEGER PRIMARY KEY, body TEXT)")
db.executemany("INSERT INTO activity (body) VALUES (?)", (("x" * 900,) for _ in range(80000)))
db.commit()
db.close()
applied = apply_allocator_policy()
limit = sqlite3.connect(":memory:").execute("PRAGMA soft_heap_limit").fetchone()[0]
before = rss()
held = []
for _ in range(3):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA cache_size = -65536")
    assert conn.execute("SELECT count(*), sum(length(body)) FROM activity").fetchone()[0] == 80000
    held.append(conn)
print(json.dumps({"applied": applied, "limit": limit, "grew_mb": rss() - before}))
"""


def _caches(directory: Path, **env: str) -> dict[str, float]:
    directory.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    environ.pop("HANDOFF_ALLOCATOR", None)
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_CACHES, str(directory / "store.db")],
        cwd=ROOT,
        env=environ | env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_sqlite_connections_share_one_heap_budget(tmp_path: Path) -> None:
    limited = _caches(tmp_path / "limited")
    assert limited["limit"] == SQLITE_HEAP_MIB << 20
    # ~75 MB of rows read by three connections: they keep the budget's worth between them
    assert limited["grew_mb"] < SQLITE_HEAP_MIB + 12, limited
    unlimited = _caches(tmp_path / "unlimited", HANDOFF_ALLOCATOR="default")
    assert unlimited["limit"] == 0
    assert unlimited["grew_mb"] > 2 * SQLITE_HEAP_MIB, unlimited
