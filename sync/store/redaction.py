"""Secret values never reach a store row: every statement's string parameters are redacted.

One engine hook (`before_cursor_execute`) instead of a redact() call at each writer: run errors,
outbox errors, a record field a CRM echoed a token into, whatever the table. The check is one pass
of C-speed substring searches over a statement's strings; only a statement that holds a secret
has its parameters rebuilt.

On PostgreSQL a JSON column's value reaches the cursor wrapped for psycopg (`Json(obj)`: the
driver serialises it later), not as text as on SQLite: the strings inside the wrapped object are
searched too, and a wrapper holding a secret is rebuilt around a redacted copy.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from config.secrets import SECRETS, redact_deep


def _json_wrappers() -> tuple[type, ...]:
    """psycopg's `Json` / `Jsonb` (SQLAlchemy's JSON type binds them on PostgreSQL); none while
    psycopg is not imported, so an SQLite-only process never imports it for this."""
    module = sys.modules.get("psycopg.types.json")
    return () if module is None else (module.Json, module.Jsonb)


def _strings_in(value: Any) -> Iterator[str]:
    if type(value) is str:
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings_in(key)
            yield from _strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings_in(item)


def _clean(value: Any, wrappers: tuple[type, ...]) -> Any:
    if isinstance(value, str):
        return SECRETS.redact(value)
    if type(value) in wrappers:
        return type(value)(redact_deep(value.obj), value.dumps)
    return value


def _clean_row(row: Any, wrappers: tuple[type, ...]) -> Any:
    if isinstance(row, Mapping):
        return {k: _clean(v, wrappers) for k, v in row.items()}
    return type(row)(_clean(v, wrappers) for v in row)


def redact_parameters(parameters: Any, executemany: bool) -> Any:
    """The statement's parameters with any secret value replaced by `***` (same shape)."""
    if not SECRETS.active or not parameters:
        return parameters
    rows: Sequence[Any] = parameters if executemany else [parameters]
    if not isinstance(rows[0], Mapping | Sequence) or isinstance(rows[0], str):
        return parameters
    rows_values: Sequence[Iterable[Any]] = (
        [row.values() for row in rows] if isinstance(rows[0], Mapping) else rows
    )
    strings = [v for values in rows_values for v in values if type(v) is str]
    wrappers = _json_wrappers()
    if wrappers:
        strings += [
            text
            for values in rows_values
            for v in values
            if type(v) in wrappers
            for text in _strings_in(v.obj)
        ]
    joined = "\x00".join(strings)
    if not SECRETS.found_in(joined):
        return parameters
    cleaned = [_clean_row(row, wrappers) for row in rows]
    return type(parameters)(cleaned) if executemany else cleaned[0]  # type: ignore[call-arg]


def _before_execute(
    conn: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    return statement, redact_parameters(parameters, executemany)


def redact_store_writes(engine: Engine) -> None:
    """Install the hook on this engine (make_engine does, for every store)."""
    event.listen(engine, "before_cursor_execute", _before_execute, retval=True)
