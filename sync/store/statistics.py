"""The planner's statistics of the state store, kept current by the run that changes it.

PostgreSQL plans each statement from per-table statistics that ANALYZE gathers; autovacuum's
autoanalyze refreshes them once a table's rows changed by more than 50 + 10% of its size. A
server may run with `autovacuum = off` (the benchmark machine's does), or behind: then a store
that grew from nothing in one full sync is planned on default guesses all run long. So a run asks
for the same refresh itself, after each chunk of people it decides while the pull goes on (the
tables grow), after the pull and after the routing pass: only the tables past autoanalyze's own
threshold are analysed, so with autovacuum on and keeping up this costs one catalog read, and
while a store grows from nothing its tables are analysed each time they grew by a tenth.

Without it the default guesses turn quadratic as a first sync grows: an equality matches 0.5% of
a table, so `connection = 'hubspot'` looked selective and a 500-key list too costly to descend
the index for, and each chunk's reads scanned every row of the connection (people, written
values, activities, the pending outbox). At 374,000 of 1,000,000 people (2026-12-06, the
benchmark's store, autovacuum off): the written-values read of 500 people 1,048 ms -> 2.9 ms after
an ANALYZE of the five tables (3 s), the pending-outbox page 648 -> 47 ms, the activities read
474 -> 2.5 ms, the people read a sequential scan (422 ms) -> an index scan (19 ms); the pull went
from 8,800 to 18,000 people a minute.

The run does not wait for it: `StatisticsRefresher` ANALYZEs in a thread of its own, on its own
connection, while the decide stage goes on (an ANALYZE after a 10,000-contact pull took 2.3 s of
the decide thread, the routing pass waiting behind it). The statements planned before it ends
are planned as they were until then; PostgreSQL plans again those it cached once the statistics
change. The run waits for the last refresh at its end, so it leaves the statistics current.

Only the store's own tables (its migrations' metadata): the rate budget replicas share
(`handoff_rate_window`, one row per window, updated at every call) is past the threshold at
every look and needs no statistics; analysing it each chunk logged a line every few seconds.

SQLite has no statistics until ANALYZE is run and plans well without them (its planner assumes
indexes are selective, which the store's are): nothing to do there.
"""

from __future__ import annotations

import contextvars
import threading
import time
from functools import cache

import structlog
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from sync.store.schema import import_all_tables

log = structlog.get_logger("handoff.store")

# autoanalyze's defaults (autovacuum_analyze_threshold, autovacuum_analyze_scale_factor)
BASE_THRESHOLD = 50
SCALE_FACTOR = 0.1

# past the threshold, or never analysed and not empty: the activity counters lag the writes by
# up to a second or so (each backend reports them when idle), the table's size does not
_STALE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND "
    "s.relname = ANY(:tables) AND ("
    "s.n_mod_since_analyze > :base + :scale * greatest(c.reltuples, 0) "
    "OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL "
    "AND pg_relation_size(s.relid) > 0)"
    ") ORDER BY s.relname"
)


@cache
def store_tables() -> list[str]:
    """The tables the store's migrations make."""
    import_all_tables()
    return sorted(SQLModel.metadata.tables)


def stale_tables(engine: Engine) -> list[str]:
    """The store's tables whose rows changed past autoanalyze's threshold since last analysed,
    and those never analysed that hold rows (PostgreSQL; SQLite: none)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            _STALE, {"base": BASE_THRESHOLD, "scale": SCALE_FACTOR, "tables": store_tables()}
        )
        return [str(name) for (name,) in rows]


def refresh_statistics(engine: Engine) -> list[str]:
    """ANALYZE the store's tables whose statistics are out of date (see the module's note);
    the tables analysed. Outside any transaction of the run's: ANALYZE takes a lock that lets
    reads and writes go on."""
    stale = stale_tables(engine)
    if not stale:
        return []
    preparer = engine.dialect.identifier_preparer
    with engine.connect() as connection:
        for name in stale:
            connection.exec_driver_sql(f"ANALYZE {preparer.quote(name)}")
        connection.commit()
    log.info("store.analyzed", tables=stale)
    return stale


class StatisticsRefresher:
    """`refresh_statistics` in a background thread: `request()` asks for a refresh and returns at
    once (requests while one runs make one more after it), `close()` waits for the refreshes
    asked for and ends the thread. PostgreSQL only; on SQLite both do nothing. A refresh that
    fails is logged: statistics help the planner, the run does not depend on them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seconds = 0.0  # spent analysing, in the background
        self._wanted = threading.Condition()
        self._pending = False
        self._closing = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        with self._wanted:
            self._pending = True
            if self._thread is None:
                context = contextvars.copy_context()  # the run's log fields follow
                self._thread = threading.Thread(
                    target=context.run, args=(self._loop,), name="store-statistics", daemon=True
                )
                self._thread.start()
            self._wanted.notify_all()

    def close(self) -> None:
        """Wait for the refreshes asked for so far, then let the thread go."""
        with self._wanted:
            self._closing = True
            self._wanted.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _loop(self) -> None:
        while True:
            with self._wanted:
                self._wanted.wait_for(lambda: self._pending or self._closing)
                if not self._pending:
                    return
                self._pending = False
            tick = time.perf_counter()
            try:
                refresh_statistics(self.engine)
            except Exception as error:  # the planner keeps its older statistics
                log.warning("store.analyze_failed", error=str(error))
            self.seconds += time.perf_counter() - tick
