"""A damaged, foreign or full state store, said in words a user can act on.

`check_store_file` runs before an engine opens a SQLite store (`make_engine`): a file that is not
an SQLite database (a config, a CSV, a half-copied download) or one cut short (a copy interrupted,
a disk that filled while it was written) is refused with its path and what to do, before SQLite
reads a page of it. `store_failure` names what a database error met during a run means: a full
disk, a damaged file, a lost server.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from config.paths import where

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER = 100
PG_DISK_FULL = "53100"  # PostgreSQL SQLSTATE disk_full


class StoreDamaged(Exception):
    """The store's file is not a usable SQLite database; the message says which and what to do."""


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def no_store(url: str, config: str | Path | None = None) -> str | None:
    """Why a reader (which never creates a store) finds no SQLite file at `url`; None when there
    is one or the store is not SQLite. `config`: the config file, for a relative path's hint."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return None
    return f"no state store at {where(path, config)}: run `handoff sync` first, or check state.url"


def _restore_hint(path: Path) -> str:
    return (
        f"restore {path} from a backup, or move it away and run again to start a new store "
        "(Handoff then pulls everything again; routing history and SLA clocks start over)"
    )


_OPENED: list[str] = []


def last_store_url() -> str | None:
    """The store this process opened last (for naming it in an error)."""
    return _OPENED[-1] if _OPENED else None


def check_store_file(url: str) -> None:
    """Raise StoreDamaged when the SQLite file at `url` is foreign or truncated (cheap: 100 bytes
    and a stat, whatever the store's size). A missing or empty file is a new store: fine."""
    _OPENED.append(url)
    del _OPENED[:-1]
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as file:
        header = file.read(HEADER)
    if not header.startswith(SQLITE_MAGIC) and not SQLITE_MAGIC.startswith(header):
        raise StoreDamaged(
            f"the state store {path} is not an SQLite database (state.url points at another "
            f"kind of file): point state.url at the store, or move {path} away and run again to "
            "start a new store"
        )
    if len(header) < HEADER:
        raise StoreDamaged(
            f"the state store {path} is truncated ({size} bytes): " + _restore_hint(path)
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counter, valid_for = header[24:28], header[92:96]
    expected = pages * page_size if counter == valid_for else 0  # the size field is trusted then
    if size < expected or (page_size >= 512 and size % page_size):
        raise StoreDamaged(
            f"the state store {path} is truncated ({size:,} of {max(expected, size):,} bytes; a "
            "copy cut short, or a disk that filled while it was written): " + _restore_hint(path)
        )


def store_failure(exc: BaseException, url: str | None) -> str | None:
    """What a database error from the store means for the user, or None when it is not one."""
    if isinstance(exc, StoreDamaged):
        return str(exc)
    if not isinstance(exc, OperationalError) and type(exc) is not DatabaseError:
        return None  # an IntegrityError, a ProgrammingError...: a bug, shown as one
    reason = str(exc.orig).strip() if exc.orig is not None else str(exc)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    path = sqlite_path(url) if url else None
    where = (
        str(path)
        if path
        else make_url(url).render_as_string(hide_password=True)
        if url
        else "(state.url)"
    )
    if sqlstate == PG_DISK_FULL or "disk is full" in reason or "disk I/O error" in reason:
        return (
            f"the state store {where} cannot be written ({reason}): its disk is full, or the "
            "process may not grow the file. Free space there and run again: the next run resumes "
            "where this one stopped."
        )
    if "not a database" in reason or "malformed" in reason:
        return f"the state store {where} is damaged ({reason}): " + (
            _restore_hint(path) if path else "restore it from a backup"
        )
    return (
        f"the state store {where} failed: {reason}. Check state.url in handoff.yaml and that "
        "the database is reachable; the next run resumes where this one stopped."
    )
