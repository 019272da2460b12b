"""Fault and limit knobs shared by both emulators, and the request log tests read."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field


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
