"""A portal's rate budget shared by every process on one PostgreSQL store (replicas).

HubSpot counts its limits per app and portal, not per process: a webhook listener in one replica
and a bulk sync in another spend the same ten-secondly bucket. Each process keeps its own
`RateLimiter` (pacing, lanes); with a PostgreSQL store every call also spends a token of a bucket
kept in one row per connection and limit (`handoff_rate_budget`), updated under a row lock.

A token bucket of `capacity` tokens refilled at `rate` per second grants at most
`capacity + rate x T` tokens in any T seconds. A process leases a small slice of tokens at a time
(one round trip per slice, not per call) and spends them within `lease_seconds`, dropping what it
has not spent by then; so the calls in any `period`-second window come from tokens granted within
`period + lease_seconds`, and `capacity + rate x (period + lease_seconds) = limit` keeps them
under the limit whatever the number of processes. The refill uses PostgreSQL's clock, the one
clock all replicas share.

The fast lane (`ratelimit.fast_lane`, the webhook fast path) goes first across processes too: a
bulk caller leases only while more than `reserve` tokens are left, a fast-lane caller down to the
last one, one token at a time. A 429 empties the bucket for its Retry-After: every replica backs
off. The table is created on first use (like procrastinate's): it is not part of the store's
migrations, and a SQLite store never has it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from connectors.ratelimit import in_fast_lane

log = structlog.get_logger("handoff.budget")
TABLE = "handoff_rate_budget"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (bucket text PRIMARY KEY, tokens double precision NOT "
    "NULL, refilled_at double precision NOT NULL)"
)
NOW = "extract(epoch from clock_timestamp())::double precision"
CREATE_LOCK = 7220314  # advisory lock id: replicas starting together create the table once


class SharedBudget:
    """One bucket (e.g. `hubspot/<connection>/burst`) of at most `limit` calls per `period` s."""

    def __init__(
        self,
        connect: Callable[[], Any],
        bucket: str,
        *,
        limit: float,
        period: float,
        lease_seconds: float = 0.5,
        slice_size: int = 5,
        capacity: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bucket = bucket
        self.capacity = (
            capacity if capacity is not None else max(1.0, min(2.0 * slice_size, limit / 10))
        )
        self.rate = (limit - self.capacity) / (period + lease_seconds)
        if self.rate <= 0:
            raise ValueError(f"budget {bucket}: limit {limit} leaves no refill")
        self.lease_seconds = lease_seconds
        self.slice_size = max(1, min(slice_size, int(self.capacity)))
        self.reserve = min(self.capacity - 1, max(1.0, self.capacity / 3))
        self._connect = connect
        self._sleep = sleep
        self._connection: Any = None
        self._db = threading.Lock()  # one round trip at a time on the one connection
        self._local = threading.Lock()
        self._tokens = 0
        self._expires = 0.0
        self.leases = 0  # round trips made (usage, tests)
        self.waited = 0.0

    # -- spending ------------------------------------------------------------------------------
    def take(self) -> None:
        """Spend one token: a leased one, else lease a slice (waiting for the refill)."""
        fast = in_fast_lane()
        while True:
            with self._local:
                if self._tokens > 0 and time.monotonic() < self._expires:
                    self._tokens -= 1
                    return
            granted, wait = self._lease(1 if fast else self.slice_size, fast)
            if granted:
                with self._local:
                    # the slice is spent first by this call; the rest by the next callers
                    self._tokens = granted - 1
                    self._expires = time.monotonic() + self.lease_seconds
                return
            self.waited += wait
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """After a 429: no process gets a token for `seconds`."""
        with self._local:
            self._tokens = 0
        self._run(
            f"UPDATE {TABLE} SET tokens = LEAST(tokens, %(debt)s), refilled_at = {NOW} "
            "WHERE bucket = %(bucket)s",
            {"debt": -self.rate * seconds, "bucket": self.bucket},
        )

    # -- the row ---------------------------------------------------------------------------------
    def _lease(self, want: int, fast: bool) -> tuple[int, float]:
        """(tokens granted, seconds to wait when none)."""
        floor = 0.0 if fast else self.reserve
        row = self._run(
            f"""
            WITH cur AS (
                SELECT LEAST(%(cap)s, tokens + GREATEST(0, {NOW} - refilled_at) * %(rate)s)
                       AS avail
                FROM {TABLE} WHERE bucket = %(bucket)s FOR UPDATE
            ), grant_ AS (
                SELECT avail, LEAST(%(want)s, GREATEST(0, FLOOR(avail - %(floor)s)))::int AS n
                FROM cur
            )
            UPDATE {TABLE} SET tokens = grant_.avail - grant_.n, refilled_at = {NOW}
            FROM grant_ WHERE bucket = %(bucket)s
            RETURNING grant_.n, grant_.avail
            """,
            {
                "cap": self.capacity,
                "rate": self.rate,
                "bucket": self.bucket,
                "want": want,
                "floor": floor,
            },
        )
        self.leases += 1
        if row is None:  # no row yet: the first lease of this bucket makes it, full
            self._run(
                f"INSERT INTO {TABLE} (bucket, tokens, refilled_at) VALUES "
                f"(%(bucket)s, %(cap)s, {NOW}) ON CONFLICT (bucket) DO NOTHING",
                {"bucket": self.bucket, "cap": self.capacity},
            )
            return self._lease(want, fast)
        granted, avail = int(row[0]), float(row[1])
        if granted:
            return granted, 0.0
        return 0, max(0.005, (floor + 1 - avail) / self.rate)

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        with self._db:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self._open()
                    cursor = self._connection.execute(sql, params)
                    return cursor.fetchone() if cursor.description else None
                except Exception as exc:  # a dropped connection: once more on a fresh one
                    self._close()
                    if attempt == 2 or not _is_connection_error(exc):
                        raise
        return None  # pragma: no cover - the loop returns or raises

    def _open(self) -> Any:
        connection = self._connect()
        # a lease is a commit: not waiting for its WAL flush (the bucket's row is pacing, not
        # data; a crash loses at most the last leases' accounting), so a lease is a round trip,
        # not a round trip plus an fsync queued behind the store's own writes
        connection.execute("SET synchronous_commit = off")
        connection.execute(f"SELECT pg_advisory_lock({CREATE_LOCK})")
        try:
            connection.execute(CREATE)
        finally:
            connection.execute(f"SELECT pg_advisory_unlock({CREATE_LOCK})")
        return connection

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):  # already gone
                self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._db:
            self._close()


def _is_connection_error(exc: Exception) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def postgres_connect(conninfo: str) -> Callable[[], Any]:
    """A factory of autocommit psycopg connections to the store."""

    def connect() -> Any:
        import psycopg

        return psycopg.connect(conninfo, autocommit=True)

    return connect
