"""Opt-in diagnostic: which Python objects a long run accumulates, written while it runs.

`HANDOFF_OBJECT_GROWTH=SECONDS` (e.g. `60`) starts a thread, at process start (`handoff run`,
`handoff sync`, the benchmarks), that every SECONDS appends to `HANDOFF_OBJECT_GROWTH_LOG` (default
`handoff-object-growth.log` in the current directory) the time, RSS, Python's allocated blocks
and the object types whose live count grew most since the previous sample and since the first.
Counts come from `gc.get_objects()`: containers only (dicts, lists, class instances, tuples that
hold containers), not strings or numbers; the largest live dicts, lists, sets and deques are
listed with what holds them, which finds a growing set or dict of strings.
`HANDOFF_OBJECT_GROWTH_LINES=N` also starts `tracemalloc` with N frames and adds the allocations
whose live size grew most since the first sample (every block, strings too), with their calling
lines in Handoff (N=1: the line alone). The run is slower and holds a trace per block: for
diagnosis, not production.

A sample walks every live object (about a second per million): keep SECONDS at 30 or more for a
long run. Off when unset. docs/deploy.md describes it for operators.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ENV = "HANDOFF_OBJECT_GROWTH"
ENV_LOG = "HANDOFF_OBJECT_GROWTH_LOG"
ENV_LINES = "HANDOFF_OBJECT_GROWTH_LINES"
DEFAULT_LOG = "handoff-object-growth.log"
TOP = 12


def type_counts() -> Counter[str]:
    """Live GC-tracked objects by type (module-qualified for classes outside builtins)."""
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        module = kind.__module__
        counts[kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"] += 1
    return counts


def largest(top: int = 6, at_least: int = 2_000) -> list[tuple[int, str]]:
    """The `top` biggest live dicts, lists, sets and deques (at least `at_least` entries), each
    named by its type and what holds it (`Owner.attribute`, or the holder's type): a set of
    keys or a dict of strings grows without adding to the tracked-object counts (a dict of
    strings only is not even tracked: it is found through what refers to it)."""
    from collections import deque

    kinds = (dict, list, set, deque)
    found: dict[int, tuple[int, Any, Any]] = {}
    for holder in gc.get_objects():
        for obj in (holder, *gc.get_referents(holder)):
            if isinstance(obj, kinds) and len(obj) >= at_least and id(obj) not in found:
                found[id(obj)] = (len(obj), obj, holder if obj is not holder else None)
    ranked = sorted(found.values(), key=lambda f: -f[0])[:top]
    return [(n, f"{type(obj).__name__} in {_holder(obj, via)}") for n, obj, via in ranked]


def _holder(obj: Any, via: Any) -> str:
    for ref in [via] if via is not None else gc.get_referrers(obj):
        if isinstance(ref, dict):
            names = [k for k, v in ref.items() if v is obj]
            for owner in gc.get_referrers(ref):
                if getattr(owner, "__dict__", None) is ref:
                    return f"{type(owner).__qualname__}.{names[0] if names else '?'}"
            return f"dict[{names[0]!r}]" if names else "dict"
        attrs = getattr(ref, "__dict__", None)
        if isinstance(attrs, dict):
            names = [k for k, v in attrs.items() if v is obj]
            return f"{type(ref).__qualname__}.{names[0] if names else '?'}"
        if not isinstance(ref, (list, tuple)) and ref is not sys._getframe():
            return type(ref).__qualname__
    return "?"


def growth(now: Counter[str], before: Counter[str], top: int = TOP) -> list[tuple[str, int]]:
    """The `top` types whose count grew most from `before` to `now` (growth > 0 only)."""
    grown = [(name, n - before.get(name, 0)) for name, n in now.items()]
    return sorted((g for g in grown if g[1] > 0), key=lambda g: (-g[1], g[0]))[:top]


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ObjectGrowthLog:
    """Samples on demand (`sample()`), or every `every` seconds from a daemon thread (`start()`)."""

    def __init__(self, path: Path, every: float, lines: int = 0) -> None:
        self.path = path
        self.every = every
        self.lines = lines  # 0: off; else tracemalloc's frames per allocation
        self.first: Counter[str] | None = None
        self.previous: Counter[str] = Counter()
        self.snapshot: Any = None

    def start(self) -> None:
        if self.lines:
            import tracemalloc

            tracemalloc.start(self.lines)
        threading.Thread(target=self._loop, name="object-growth", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.sample()
            time.sleep(self.every)

    def sample(self) -> str:
        counts = type_counts()
        self.first = self.first if self.first is not None else counts
        out = [
            f"{datetime.now(UTC):%H:%M:%S} rss {_rss_mb():.1f} MB "
            f"pyblocks {sys.getallocatedblocks()} tracked {sum(counts.values())}",
            "  since last: " + ", ".join(f"{n} +{g}" for n, g in growth(counts, self.previous)),
            "  since first: " + ", ".join(f"{n} +{g}" for n, g in growth(counts, self.first)),
        ]
        self.previous = counts
        out += [f"  largest: {n} {what}" for n, what in largest()]
        if self.lines:
            out += self._lines()
        text = "\n".join(out) + "\n"
        with self.path.open("a") as handle:
            handle.write(text)
        return text

    def _lines(self) -> list[str]:
        import tracemalloc

        if not tracemalloc.is_tracing():
            return []
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        if self.snapshot is None:
            self.snapshot = snapshot
            return []
        group = "lineno" if self.lines == 1 else "traceback"
        out = []
        for d in snapshot.compare_to(self.snapshot, group)[:TOP]:
            newest_first = list(d.traceback)[::-1]  # a Traceback runs oldest frame first
            out.append(f"  +{d.size_diff // 1024} KiB +{d.count_diff} blocks at {newest_first[0]}")
            out += [f"      from {frame}" for frame in newest_first[1:] if _ours(frame)]
        return out


def _ours(frame: Any) -> bool:
    return "site-packages" not in frame.filename and "<frozen" not in frame.filename


def start_from_environment() -> ObjectGrowthLog | None:
    """The log `HANDOFF_OBJECT_GROWTH` asks for, started; None (nothing runs) when unset or 0."""
    try:
        every = float(os.environ.get(ENV, "") or 0)
    except ValueError:
        return None
    if every <= 0:
        return None
    watch = ObjectGrowthLog(
        Path(os.environ.get(ENV_LOG) or DEFAULT_LOG),
        every,
        lines=int(frames) if (frames := os.environ.get(ENV_LINES, "")).isdigit() else 0,
    )
    watch.start()
    return watch
