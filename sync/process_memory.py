"""What the worker process gives back to the system: glibc's allocator policy and SQLite's heap.

Measured on the 2026-12-05 benchmarks (bench/RESULTS.md), most of the worker's RSS after a run
was not live Python objects but memory glibc had been handed back and kept: each thread that
allocates (read-ahead, engagement readers, batch senders, the write-behind) gets an arena of its
own, up to eight per core, and a freed chunk stays in its arena's heap until the top of that heap
is free. A response body or a JSON page of ~1 MiB freed once also raises glibc's mmap threshold
for good, so every later one is carved from an arena instead of being mapped and unmapped.

SQLite's page caches are allocated per connection as used and kept while the connection is
pooled: the store's connections (the pull's, the decide stage's, the write-behind's), the run's
ledger and the connector's scratch files each grew their own. A soft heap limit for the process
makes them share one budget: past it, SQLite recycles its least recently used cache pages instead
of allocating new ones (never an error; statements still get the memory they need).

Applied at the process and run boundaries only, never inside domain code:

- `apply_allocator_policy()` once at process start (`handoff run`, `handoff sync`, the
  benchmarks): at most `ARENAS` malloc arenas, and fixed mmap and trim thresholds (setting them
  turns glibc's dynamic threshold off, so large buffers are mapped and returned whole); SQLite's
  soft heap limit, `SQLITE_HEAP_MIB` for every connection of the process together.
- `released_while_running()` around each run: `malloc_trim(0)` every few seconds while it runs
  (from a thread of its own, so no stage of the run knows of it) and once at its end returns the
  free pages of every arena to the system (a few milliseconds each).

glibc's parts do nothing where the C library is not glibc (musl, macOS); the whole policy is
left out when the operator chose the allocator's settings through glibc's own variables
(`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, `GLIBC_TUNABLES`) or set
`HANDOFF_ALLOCATOR=default`.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import cache
from typing import Any

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENAS = 2  # the main thread's and one shared by every other thread
MMAP_THRESHOLD = 512 * 1024  # a response body or a page of JSON: mapped, unmapped when freed
TRIM_THRESHOLD = 4 * 1024 * 1024  # free memory at a heap's top above this goes back at once
RELEASE_EVERY_SECONDS = 5.0
# every SQLite connection of the process together (the store's, 16 MiB of cache each at most,
# sync/store/engine.py; the run ledger's, 4 MiB; the connector's scratch files', 2 MiB each):
# two store connections' worth, where three busy ones held 48 MiB at 100,000 people
SQLITE_HEAP_MIB = 32

OPERATOR_VARIABLES = (
    "MALLOC_ARENA_MAX",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "GLIBC_TUNABLES",
)

_applied = threading.Lock()
_state = {"applied": False}


@cache
def _glibc() -> Any | None:
    """The process's glibc (its malloc), or None on another C library."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    except (OSError, AttributeError):
        return None
    return libc


def _operator_chose() -> bool:
    if os.environ.get("HANDOFF_ALLOCATOR", "").strip().lower() == "default":
        return True
    return any(name in os.environ for name in OPERATOR_VARIABLES)


def limit_sqlite_heap(mib: int = SQLITE_HEAP_MIB) -> None:
    """SQLite's soft heap limit for the whole process (the library Python's sqlite3 uses)."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"PRAGMA soft_heap_limit = {int(mib) << 20}")


def apply_allocator_policy() -> bool:
    """Once per process, before the worker's threads start: True when glibc's part is in force.
    Idempotent; refused (False) off glibc or when the operator set the allocator up."""
    if _operator_chose():
        return False
    limit_sqlite_heap()
    libc = _glibc()
    if libc is None:
        return False
    with _applied:
        if not _state["applied"]:
            ok = all(
                libc.mallopt(param, value) == 1
                for param, value in (
                    (M_ARENA_MAX, ARENAS),
                    (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                    (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                )
            )
            _state["applied"] = ok
        return _state["applied"]


def release_freed_memory() -> None:
    """Hand the free pages of every malloc arena back to the system (glibc only; else nothing)."""
    libc = _glibc()
    if libc is not None and not _operator_chose():
        libc.malloc_trim(0)


@contextmanager
def released_while_running(every: float = RELEASE_EVERY_SECONDS) -> Iterator[None]:
    """Around a run: its freed memory handed back every `every` seconds and at its end."""
    if _glibc() is None or _operator_chose():
        yield
        return
    done = threading.Event()

    def release() -> None:
        while not done.wait(every):
            release_freed_memory()

    thread = threading.Thread(target=release, name="release-freed-memory", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        release_freed_memory()
