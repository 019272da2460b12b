"""Secret values never reach a store row: every statement's string parameters are redacted.

One engine hook (`before_cursor_execute`) instead of a redact() call at each writer: run errors,
outbox errors, a record field a CRM echoed a token into, whatever the table. The check is one pass
of C-speed substring searches over a statement's strings; only a statement that holds a secret
has its parameters rebuilt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from config.secrets import SECRETS


def _clean_row(row: Any) -> Any:
    if isinstance(row, Mapping):
        return {k: SECRETS.redact(v) if isinstance(v, str) else v for k, v in row.items()}
    return type(row)(SECRETS.redact(v) if isinstance(v, str) else v for v in row)


def redact_parameters(parameters: Any, executemany: bool) -> Any:
    """The statement's parameters with any secret value replaced by `***` (same shape)."""
    if not SECRETS.active or not parameters:
        return parameters
    rows: Sequence[Any] = parameters if executemany else [parameters]
    if not isinstance(rows[0], Mapping | Sequence) or isinstance(rows[0], str):
        return parameters
    if isinstance(rows[0], Mapping):
        strings = [v for row in rows for v in row.values() if type(v) is str]
    else:
        strings = [v for row in rows for v in row if type(v) is str]
    joined = "\x00".join(strings)
    if not SECRETS.found_in(joined):
        return parameters
    cleaned = [_clean_row(row) for row in rows]
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
