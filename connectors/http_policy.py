"""The one retry policy every CRM call goes through (tenacity).

Adapters raise `connectors.errors` types at the HTTP layer; this policy decides what to do:

- `RetriableError` (429, 5xx, timeouts, connection resets) is retried with exponential backoff
  and full jitter, capped at `max_wait`; when the error carries `retry_after` (a Retry-After
  header or a known policy window) that wait is honoured instead (also capped at `max_wait`).
- `FatalError`, `SkippableError`, `QuotaExhaustedError` and anything else are never retried.
- `UnknownOutcomeError` (a non-idempotent write that timed out after sending) is never retried
  here either: the caller must look the record up before any resend (see `TaskRequest.resend`).
- After `max_attempts` the last `RetriableError` is re-raised (never a tenacity `RetryError`).
- Each retry is counted into `usage.retries` (and 429s into `usage.throttled`).

Usage::

    policy = retrying(usage=connector.usage)
    result = policy(send_request, method, path, body)   # or: for attempt in policy: ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import tenacity
from tenacity import RetryCallState

from connectors.base import ApiUsage
from connectors.errors import RateLimitedError, RetriableError, UnknownOutcomeError
from connectors.timing import timed


class _BackoffOrRetryAfter(tenacity.wait.wait_base):
    """Exponential backoff with jitter, unless the error says how long to wait."""

    def __init__(self, initial: float, max_wait: float) -> None:
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=initial, max=max_wait, jitter=initial
        )
        self._max = max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RetriableError) and exc.retry_after is not None:
            return float(min(max(exc.retry_after, 0.0), self._max))
        return float(self._backoff(retry_state))


def _counter(usage: ApiUsage | None) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        if usage is None:
            return
        usage.retries += 1
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), RateLimitedError):
            usage.throttled += 1

    return before_sleep


def retrying(
    max_attempts: int = 6,
    max_wait: float = 60.0,
    *,
    usage: ApiUsage | None = None,
    initial_wait: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> tenacity.Retrying:
    """A fresh `tenacity.Retrying` for one logical call (safe to share across threads).

    `sleep` is injectable so tests do not wait for real.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    return tenacity.Retrying(
        retry=(
            tenacity.retry_if_exception_type(RetriableError)
            & tenacity.retry_if_not_exception_type(UnknownOutcomeError)
        ),
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=_BackoffOrRetryAfter(initial_wait, max_wait),
        before_sleep=_counter(usage),
        sleep=partial(_wait_to_retry, sleep),
        reraise=True,
    )


def _wait_to_retry(sleep: Callable[[float], None], seconds: float) -> None:
    """The wait before the next attempt (a 429's Retry-After, a backoff): a fast-path decision
    counts it apart from the calls' answers (`retry_wait`: connectors/timing.py)."""
    with timed("retry_wait"):
        sleep(seconds)
