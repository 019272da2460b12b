"""One writer per state store: `handoff sync`, `handoff run` and `handoff db upgrade` hold the
store while they run; a second writer is refused with a message naming the holder (exit 2).

- SQLite: an exclusive `fcntl.flock` on `<database>.lock` beside the database file. The kernel
  drops it when the holding process ends, however it ends, so a `kill -9` never leaves a stale
  lock. The holder writes who it is (command, pid, host, start time) into the file.
- PostgreSQL: a session-level advisory lock per connection of the config (`pg_try_advisory_lock`),
  held on a connection of its own whose `application_name` says who holds it. The server drops it
  when that connection ends (the process died, the server restarted). Per connection so replicas
  (`handoff run --replicas`) can share one database: each replica job holds its connection's lock
  while it runs, and a `handoff sync` beside them is refused while any of its connections is busy.
  Advisory locks live in one database, so the key is per store already.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from sync.store.schema import StoreUnavailable

if TYPE_CHECKING:
    from config.model import HandoffConfig

WRITER_LOCK = 7220314  # pg advisory lock namespace (first key): one writer per connection
APP_NAME_LIMIT = 63  # PostgreSQL truncates application_name to NAMEDATALEN - 1 bytes
HOLDER_WAIT = 2.0  # s a refused process waits for a new holder to write its name


class StoreBusy(Exception):
    """Another process writes this store (or this connection of it); the message names it."""


@dataclass(frozen=True)
class Holder:
    command: str
    pid: int | None = None
    host: str | None = None
    started: str | None = None

    def describe(self) -> str:
        """`handoff sync` (pid 4242 on worker-1, started 2026-11-20T15:00:00Z)"""
        where = " ".join(
            part
            for part in (
                f"pid {self.pid}" if self.pid else "",
                f"on {self.host}" if self.host else "",
            )
            if part
        )
        if self.started:
            where = f"{where}, started {self.started}" if where else f"started {self.started}"
        return f"`handoff {self.command}`" + (f" ({where})" if where else "")


def store_label(url: str) -> str:
    """The store as a user recognises it, without a password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or "").resolve()) if parsed.database else "(in memory)"
    return parsed.render_as_string(hide_password=True)


def busy_message(url: str, holder: Holder | None, connection: str | None = None) -> str:
    what = f"connection {connection!r} of the state store" if connection else "the state store"
    who = holder.describe() if holder else "another process (it has not said who it is yet)"
    return (
        f"{what} {store_label(url)} is in use by {who}: one process writes a store at a time. "
        "Wait for it to finish or stop it, then run again; for several workers on one store use "
        "PostgreSQL and `handoff run --replicas` (docs/deploy.md)"
    )


class StoreWriter:
    """Held while a process may write the store. `acquire()` raises `StoreBusy`, never waits."""

    def __init__(self, url: str, command: str, connections: Iterable[str]) -> None:
        self.url = url
        self.command = command
        self.connections = sorted(set(connections)) or ["*"]
        backend = make_url(url).get_backend_name()
        self._lock: _FileLock | _AdvisoryLocks | None
        if backend == "sqlite":
            database = make_url(url).database
            in_memory = not database or database == ":memory:" or database.startswith("file:")
            self._lock = None if in_memory else _FileLock(Path(database or ""))
        elif backend == "postgresql":
            self._lock = _AdvisoryLocks(url, self.connections)
        else:
            self._lock = None

    def acquire(self) -> StoreWriter:
        if self._lock is not None:
            self._lock.acquire(self)
        return self

    def reassert(self) -> None:
        """Before each job of a long-lived holder (`handoff run`): take the lock again if it was
        lost (PostgreSQL: the server restarted or ended the idle session). Raises `StoreBusy`
        when another writer took the store meanwhile."""
        if isinstance(self._lock, _AdvisoryLocks):
            self._lock.reassert(self)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> StoreWriter:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold_or_exit(config: HandoffConfig, command: str) -> StoreWriter:
    """The writer lock for every connection of `config`, or exit 2 with who holds it."""
    from config.cli import fail

    writer = StoreWriter(config.state.url, command, [c.name for c in config.connections])
    try:
        return writer.acquire()
    except (StoreBusy, StoreUnavailable) as exc:
        raise fail(str(exc)) from None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _FileLock:
    def __init__(self, database: Path) -> None:
        self.path = database.resolve().with_name(database.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self, writer: StoreWriter) -> None:
        if self._file is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the state store's lock file {self.path}: {exc.strerror}. Check "
                "state.url in handoff.yaml and that its directory exists and is writable."
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StoreBusy(busy_message(writer.url, self._holder_once_said())) from None
        handle.seek(0)
        handle.truncate()
        me = {
            "command": writer.command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _now(),
        }
        handle.write(json.dumps(me) + "\n")
        handle.flush()
        self._file = handle

    def _holder_once_said(self) -> Holder | None:
        """The holder writes who it is just after it takes the lock: a process refused in that
        instant waits up to HOLDER_WAIT seconds for the name rather than report nobody."""
        deadline = time.monotonic() + HOLDER_WAIT
        while (holder := self.holder()) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return holder

    def holder(self) -> Holder | None:
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not data.get("command"):
            return None
        return Holder(str(data["command"]), data.get("pid"), data.get("host"), data.get("started"))

    def release(self) -> None:
        if self._file is not None:
            self._file.truncate(0)  # the next holder's refusals never name this process
            self._file.flush()
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def connection_key(connection: str) -> int:
    """The second advisory key: a stable, non-negative 31-bit hash of the connection name."""
    return zlib.crc32(connection.encode()) & 0x7FFFFFFF


class _AdvisoryLocks:
    def __init__(self, url: str, connections: list[str]) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self.connections = connections
        self._session: Any = None

    def acquire(self, writer: StoreWriter) -> None:
        if self._session is not None:
            return
        import psycopg

        name = f"handoff|{os.getpid()}|{writer.command}|{socket.gethostname()}"
        try:
            session = psycopg.connect(
                self.conninfo,
                autocommit=True,
                application_name=name.encode()[:APP_NAME_LIMIT].decode("utf-8", "ignore"),
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot open the state store {store_label(writer.url)}: {str(exc).strip()}. "
                "Check state.url in handoff.yaml and that the database server is running."
            ) from None
        for connection in self.connections:
            row = session.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", (WRITER_LOCK, connection_key(connection))
            ).fetchone()
            if not (row and row[0]):
                holder = self._holder(session, connection)
                session.close()  # drops the locks this session took before
                label = None if connection == "*" else connection
                raise StoreBusy(busy_message(writer.url, holder, label))
        self._session = session

    def reassert(self, writer: StoreWriter) -> None:
        import psycopg

        if self._session is not None:
            try:
                self._session.execute("SELECT 1")
                return  # the session lives, so do its locks
            except psycopg.Error:
                with contextlib.suppress(Exception):
                    self._session.close()
                self._session = None
        self.acquire(writer)

    @staticmethod
    def _holder(session: Any, connection: str) -> Holder | None:
        row = session.execute(
            "SELECT a.application_name, a.pid, a.backend_start, a.client_hostname, "
            "host(a.client_addr) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (WRITER_LOCK, connection_key(connection)),
        ).fetchone()
        if row is None:
            return None
        app, backend_pid, started, client_host, client_addr = row
        parts = (app or "").split("|", 3)
        if len(parts) == 4 and parts[0] == "handoff":
            pid, command, host = int(parts[1]), parts[2], parts[3]
        else:  # not ours, or its name was cut: say what the server knows
            pid, command, host = backend_pid, app or "(unknown)", client_host or client_addr
        when = started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if started else None
        return Holder(command, pid, host or None, when)

    def release(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            with contextlib.suppress(Exception):  # the server went away: its locks went with it
                session.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):
                session.close()
