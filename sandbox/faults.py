"""Fault and limit knobs shared by both emulators, and the request log tests read."""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Shares of requests that fail in each way (0.0-1.0); settable at start and at run time."""

    latency_ms: float = 0.0
    throttle_rate: float = 0.0  # emulator answers its own 429 body
    retry_after_seconds: tuple[float, float] = (1.0, 1.0)  # Retry-After range on injected 429s
    error_rate: float = 0.0  # 500/502/503
    reset_rate: float = 0.0  # TCP reset, no answer
    timeout_rate: float = 0.0  # answer after `timeout_seconds`
    timeout_seconds: float = 5.0
    malformed_rate: float = 0.0  # truncated JSON body with a 200
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def roll(self) -> str | None:
        """Which fault hits this request: throttle, error, reset, timeout, malformed or None."""
        draw = self._rng.random()
        for name, rate in (
            ("throttle", self.throttle_rate),
            ("error", self.error_rate),
            ("reset", self.reset_rate),
            ("timeout", self.timeout_rate),
            ("malformed", self.malformed_rate),
        ):
            if draw < rate:
                return name
            draw -= rate
        return None

    def retry_after(self) -> float:
        low, high = self.retry_after_seconds
        return low if high <= low else self._rng.uniform(low, high)


class RequestLog:
    """Counts requests per (endpoint label, status). Thread-safe; tests and benchmarks read it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, int]] = Counter()

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.counts[(endpoint, status)] += 1

    def total(self, endpoint: str | None = None, status: int | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (ep, st), n in self.counts.items()
                if (endpoint is None or ep == endpoint) and (status is None or st == status)
            )

    def by_endpoint(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        with self._lock:
            for (ep, _st), n in self.counts.items():
                out[ep] += n
        return dict(sorted(out.items()))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()


class KillSwitch:
    """A fault drill's `kill -9`: SIGKILL the worker process at the Nth request that matches
    (method and a path fragment), counted from when it is armed, so every case is deterministic.

    `after=False`: the worker dies before the CRM sees the request (the emulator never handles
    it; the connection is dropped). `after=True`: the CRM has processed the request and the
    worker dies before the answer reaches it. The sandbox must run in another process than the
    worker: install `before` and `after` as the server's request hooks, then `arm` a process."""

    def __init__(self, method: str, path: str, nth: int = 1, *, after: bool = False) -> None:
        self.method, self.path, self.nth, self.after = method.upper(), path, nth, after
        self.seen = 0
        self.fired = False
        self._process: Any = None
        self._lock = threading.Lock()

    def arm(self, process: Any) -> None:
        """Watch requests from now on, for this worker (a `subprocess.Popen`)."""
        with self._lock:
            self._process, self.seen, self.fired = process, 0, False

    def disarm(self) -> None:
        with self._lock:
            self._process = None

    def _hit(self, request: Any) -> bool:
        if request.method != self.method or self.path not in request.path:
            return False
        with self._lock:
            if self._process is None or self.fired:
                return False
            self.seen += 1
            if self.seen < self.nth:
                return False
            self.fired = True
            process, self._process = self._process, None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)  # dead before anything else of this request happens
        return True

    def before(self, request: Any) -> Any:
        if not self.after and self._hit(request):
            from sandbox.server import SandboxResponse

            return SandboxResponse(status=503, reset=True)  # never reaches the emulator
        return None

    def after_answer(self, request: Any, response: Any) -> None:
        if self.after:
            self._hit(request)
