"""Engines for the state store: SQLite (embedded default) or PostgreSQL (replicas)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from connectors import timing
from sync.store import write_turn
from sync.store.health import check_store_file
from sync.store.redaction import redact_store_writes

# per connection, allocated as used and kept while the connection is pooled: the pool hands out
# its most recently used connection first, so only as many as run at once (decide, pull, write-
# behind) grow their cache; 32 MiB each made the worker's RSS grow by ~100 MB at 100,000 people.
# Together they are held to the process's SQLite heap limit (sync/process_memory.py).
SQLITE_CACHE_KIB = 16384
SQLITE_BUSY_SECONDS = 30  # how long a statement waits for another writer ("database is locked")


def json_text(value: Any) -> str:
    """JSON columns are written by orjson (several times faster than `json` on the hot paths:
    activity properties, record fields, outbox payloads); keys need not be strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def json_value(text: Any) -> Any:
    """orjson's reader; a number comes back as itself (SQLite stores JSON numbers as numbers)."""
    if isinstance(text, int | float):
        return text
    return orjson.loads(text)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys on."""
    check_store_file(url)  # a foreign or truncated SQLite file: refused before SQLite reads it
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("json_deserializer", json_value)
    if url.startswith("sqlite"):
        if ":memory:" not in url and url.rstrip("/") != "sqlite:":  # a file: a QueuePool
            kwargs.setdefault("pool_use_lifo", True)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a person's activities are spread over the table (they arrive by time): a page
            # cache larger than SQLite's 2 MiB default keeps a chunk's index pages at hand
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        redact_store_writes(engine)
        time_statements(engine)
        write_turn.install(engine, SQLITE_BUSY_SECONDS)  # writers in the order they asked
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    redact_store_writes(engine)
    time_statements(engine)
    return engine


_TABLE_NAMED = re.compile(
    r"\b(?:FROM|INTO|UPDATE|ON|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?)\s+\"?(\w+)", re.IGNORECASE
)


def statement_label(sql: str) -> str:
    """A statement's table and operation ("activities select", "runs insert"): the first table
    it names after FROM, INTO, UPDATE, ..., and its first word."""
    words = sql.lstrip().split(None, 1)
    operation = words[0].lower() if words else "?"
    found = _TABLE_NAMED.search(sql)
    return f"{found.group(1)} {operation}" if found else operation


def time_statements(engine: Engine) -> None:
    """Each statement's seconds (SQLite's wait for the write lock included) go to the `store`
    part of a measured thread (connectors/timing.py: the fast path's decision), labelled with its
    table and operation (the decision's slowest statement is logged)."""

    def before(_conn: Any, _cursor: Any, sql: Any, _params: Any, context: Any, _many: Any) -> None:
        if context is not None:
            context.handoff_tick = timing.start()

    def after(_conn: Any, _cursor: Any, sql: Any, _params: Any, context: Any, _many: Any) -> None:
        if context is not None:
            tick = getattr(context, "handoff_tick", None)
            timing.stop("store", tick, statement_label(sql) if tick is not None else None)
            context.handoff_tick = None

    def failed(error: Any) -> None:
        context = error.execution_context
        if context is not None:
            tick = getattr(context, "handoff_tick", None)
            label = statement_label(str(error.statement)) if tick is not None else None
            timing.stop("store", tick, label)
            context.handoff_tick = None

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
