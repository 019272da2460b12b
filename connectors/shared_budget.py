"""A portal's rate window shared by every process on one PostgreSQL store (replicas).

HubSpot counts its limits per app and portal, not per process: a webhook listener in one replica
and a bulk sync in another spend the same ten-secondly window (and the same search window). Each
process keeps its own `RateLimiter` (pacing, lanes); with a PostgreSQL store every call also takes
a slot of a window kept in one row per connection and limit (`handoff_rate_window`): the times of
the calls granted in the last `period + send_within` seconds, read and appended under a row lock
as the call is about to be sent, and moved to the answer's time when it is answered (two round
trips a call).

A call reaches HubSpot after its grant and before its answer, so a window that counts each call
from its grant until answered and from its answer after holds every call HubSpot counts (calls
still unanswered `send_within` seconds past the window aside): at most `limit` of them in any
`period + send_within` seconds keeps every process together under the limit, however late a
loaded machine sends a granted call. This is the client limiter's own sliding window
(connectors/ratelimit.py), so a process alone loses little to it: at HubSpot Professional's 187
of 190 a bulk caller gets 185 slots per 10.05 s and its calls' latency (18.3 a second at 30 ms),
search 5 per 1.1 s and latency. (It was a token bucket refilled at `(limit - capacity) /
(period + lease)`: 18.2 a second at best, and 3.2 a second of search from a bucket of one that
lost its refill whenever a caller came late: a PostgreSQL store's incremental sync, search-bound,
took 1.65x SQLite's at 10,000 contacts.) The times come from PostgreSQL's clock, the one clock
all replicas share.

The fast lane (`ratelimit.fast_lane`, the webhook fast path) goes first across processes too:
a bulk caller takes a slot only while more than `reserve` are free, a fast-lane caller down to
the last. A 429 holds the window shut for its Retry-After: every replica backs off. The table
is created on first use (like procrastinate's): it is not part of the store's migrations, and a
SQLite store never has it.
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
TABLE = "handoff_rate_window"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (bucket text PRIMARY KEY, "
    "granted double precision[] NOT NULL DEFAULT '{}', "
    "held_until double precision NOT NULL DEFAULT 0)"
)
NOW = "extract(epoch from clock_timestamp())::double precision"
CREATE_LOCK = 7220314  # advisory lock id: replicas starting together create the table once

# One statement a grant (a second, `settle`, once answered): the row locked, the grants older
# than the window dropped, a slot taken when fewer than `room` are in use and no 429 holds the
# window; else the seconds until a slot frees (the oldest grant that must leave first) or the
# hold ends.
_GRANT = f"""
WITH now_ AS (SELECT {NOW} AS t),
cur AS (
    SELECT b.held_until, now_.t,
           ARRAY(SELECT s FROM unnest(b.granted) AS s WHERE s > now_.t - %(window)s ORDER BY s)
           AS kept
    FROM {TABLE} AS b, now_ WHERE b.bucket = %(bucket)s FOR UPDATE OF b
), verdict AS (
    SELECT kept, t, held_until,
           (held_until <= t AND cardinality(kept) < %(room)s) AS ok
    FROM cur
)
UPDATE {TABLE} SET granted = CASE WHEN verdict.ok THEN verdict.kept || verdict.t
                                  ELSE verdict.kept END
FROM verdict WHERE bucket = %(bucket)s
RETURNING verdict.ok, verdict.t,
          GREATEST(verdict.held_until - verdict.t,
                   COALESCE(verdict.kept[cardinality(verdict.kept) - %(room)s + 1]
                            + %(window)s - verdict.t, 0))
"""


class SharedBudget:
    """One window (e.g. `hubspot/<connection>/burst`) of at most `limit` calls per `period` s."""

    def __init__(
        self,
        connect: Callable[[], Any],
        bucket: str,
        *,
        limit: int,
        period: float,
        send_within: float = 0.05,
        reserve: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= reserve < limit:
            raise ValueError(f"budget {bucket}: needs 0 <= reserve < limit ({limit})")
        self.bucket = bucket
        self.limit = limit
        self.window = period + send_within
        self.reserve = reserve
        self._connect = connect
        self._sleep = sleep
        self._connection: Any = None
        self._db = threading.Lock()  # one round trip at a time on the one connection
        self.grants = 0  # round trips made (usage, tests)
        self.waited = 0.0

    @property
    def pace(self) -> float:
        """Calls a second a bulk caller gets when it has the window to itself."""
        return (self.limit - self.reserve) / self.window

    # -- spending ------------------------------------------------------------------------------
    def take(self) -> float:
        """Take a slot for one call sent now, waiting until one is free; the grant's time (the
        store's clock, epoch seconds)."""
        room = self.limit if in_fast_lane() else self.limit - self.reserve
        while True:
            granted, wait = self._grant(room)
            if granted is not None:
                return granted
            self.waited += wait
            self._sleep(wait)

    def settle(self, granted: float) -> None:
        """The call granted at `granted` got its answer: count it from now instead.

        HubSpot counts a call when it arrives, which under load can be well after its grant (a
        thread kept waiting for the CPU, a connection opened); its answer is after its arrival,
        so a window of answer times is at least as strict as the server's (as the client
        limiter's is: `RateLimiter.settle`). A grant already out of the window is left out."""
        try:
            self._run(
                f"UPDATE {TABLE} SET granted = array_replace(granted, %(granted)s, {NOW}) "
                "WHERE bucket = %(bucket)s",
                {"granted": granted, "bucket": self.bucket},
            )
        except Exception as error:  # the call's own outcome stands; its slot counts from grant
            log.warning("budget.settle_failed", bucket=self.bucket, error=str(error))

    def penalise(self, seconds: float) -> None:
        """After a 429: no process gets a slot for `seconds`."""
        self._run(
            f"UPDATE {TABLE} SET held_until = GREATEST(held_until, {NOW} + %(seconds)s) "
            "WHERE bucket = %(bucket)s",
            {"seconds": seconds, "bucket": self.bucket},
        )

    # -- the row ---------------------------------------------------------------------------------
    def _grant(self, room: int) -> tuple[float | None, float]:
        """(the grant's time, 0) when a slot was taken, else (None, seconds to wait)."""
        row = self._run(_GRANT, {"bucket": self.bucket, "window": self.window, "room": room})
        self.grants += 1
        if row is None:  # no row yet: the first call on this window makes it
            self._run(
                f"INSERT INTO {TABLE} (bucket) VALUES (%(bucket)s) ON CONFLICT (bucket) DO NOTHING",
                {"bucket": self.bucket},
            )
            return self._grant(room)
        if row[0]:
            return float(row[1]), 0.0
        return None, max(0.002, float(row[2]))

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
        # a grant is a commit: not waiting for its WAL flush (the row is pacing, not data; a
        # crash loses at most the last grants' times), so a grant is a round trip, not a round
        # trip plus an fsync queued behind the store's own writes
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
