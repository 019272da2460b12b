"""PostgreSQL bulk writes: a batch of rows sent as one statement over column arrays.

`INSERT ... SELECT * FROM unnest(CAST(:a AS type[]), ...) ON CONFLICT ...`: one statement, one
round trip and one execution on the server for the whole batch. The arrays are sent in binary
(`%(c0)b`): psycopg's text format quotes each element and escapes its quotes and backslashes
with a regular expression in Python, a JSON text's every `"`, which made the arrays' encoding the
worker's largest PostgreSQL cost (29% of its CPU samples in a 10,000-contact full sync); in
binary an element is its length and bytes (JSON text sent as text[], cast to JSON[] by the server). The executemany it replaces sent
one execution per row (psycopg's pipeline: a Bind/Execute each, executed one by one by the
server) after SQLAlchemy had processed each row's parameters: at 10,000 contacts' 200,000
activities that was the pull thread's largest cost on PostgreSQL, and the server's.

The rows are the ones `sync/store/upsert.py` is given, with the values SQLAlchemy would bind:
JSON columns serialised by the engine's serializer (None as JSON `null`, as SQLAlchemy's JSON type
does), timestamps through their column type (tz-aware UTC, naive refused), missing columns filled
with their scalar defaults, secrets redacted (sync/store/redaction.py) before the arrays are made.
Rows that repeat a key within one batch are reduced to the one a row-by-row run would leave: the
last for an upsert, the first for an insert that ignores conflicts (PostgreSQL refuses a statement
that updates one row twice). `upsert_encoded` takes rows already in bound form (the pull's
activities); `bulk_update` is the same arrays for an UPDATE by key (the echo mirror).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session

from sync.store.engine import json_text
from sync.store.redaction import redact_parameters

BATCH_ROWS = 10_000  # rows encoded at once
STATEMENT_ROWS = 1000  # rows a statement


def bulk_write(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    update: bool,
    versioned_by: str | None = None,
) -> bool:
    """Insert `rows` into `table` (PostgreSQL), updating every non-key column given of rows whose
    primary key exists (`update`: with `versioned_by`, only where the stored row's version is not
    newer than the given one) or leaving those rows as they are. False, with nothing done,
    when a missing column's default is computed (the caller's executemany applies it)."""
    names = list(rows[0])
    fill: dict[str, Any] = {}
    for column in table.columns:
        if column.name in rows[0] or column.default is None:
            continue
        if not column.default.is_scalar:
            return False
        fill[column.name] = column.default.arg  # type: ignore[attr-defined]
    names += list(fill)
    keys = [c.name for c in table.primary_key.columns]
    dialect = session.get_bind().dialect
    encode = [_encoder(table.columns[name].type, dialect) for name in names]
    unique = _one_per_key(rows, keys, keep_last=update)
    statement = _statement(table, names, keys, update, versioned_by)
    _send(
        session,
        statement,
        unique,
        [(name, code, fill) for name, code in zip(names, encode, strict=True)],
    )
    return True


def bulk_update(
    session: Session, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Update the rows of `table` (PostgreSQL) whose `keys` columns match a row of `rows`, setting
    the other columns the rows give, in one statement over column arrays (`UPDATE ... FROM
    unnest(...)`): the executemany it replaces sent one execution a row. A key given twice ends
    with its last row, as row by row; a key matching no row changes nothing."""
    if not rows:
        return
    names = list(rows[0])
    dialect = session.get_bind().dialect
    encode = [_encoder(table.columns[name].type, dialect) for name in names]
    statement = _update_statement(table, names, list(keys))
    unique = _one_per_key(rows, list(keys), keep_last=True)
    _send(
        session,
        statement,
        unique,
        [(name, code, {}) for name, code in zip(names, encode, strict=True)],
    )


def _send(
    session: Session,
    statement: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, Any, dict[str, Any]]],
) -> None:
    """`rows` encoded column by column (`columns`: name, encoder, the defaults of missing
    columns), secrets redacted, sent as arrays of STATEMENT_ROWS rows a statement."""
    for start in range(0, len(rows), BATCH_ROWS):
        batch = [
            tuple(code(row[name] if name in row else fill[name]) for name, code, fill in columns)
            for row in rows[start : start + BATCH_ROWS]
        ]
        _send_encoded(session, statement, batch)


def upsert_encoded(
    session: Session, table: Table, names: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`bulk_write(update=True)` for rows already in the form they are bound in (the columns
    `names` in order, every one given, JSON as its text, times tz-aware): the pull's activities,
    ~20 a contact, skip the dicts and the per-column encoders. A key given twice: its last row."""
    keys = [c.name for c in table.primary_key.columns]
    at = [list(names).index(k) for k in keys]
    unique: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        key = tuple(row[i] for i in at)
        unique.pop(key, None)  # a kept last row moves to where it came: row order is kept
        unique[key] = row
    statement = _statement(table, list(names), keys, True, None)
    batch = rows if len(unique) == len(rows) else list(unique.values())
    for start in range(0, len(batch), BATCH_ROWS):
        _send_encoded(session, statement, list(batch[start : start + BATCH_ROWS]))


def _send_encoded(session: Session, statement: str, batch: list[tuple[Any, ...]]) -> None:
    batch = redact_parameters(batch, True)
    # statements of STATEMENT_ROWS sent as one pipelined executemany: the server runs one
    # while the driver encodes the next (two processes busy, not one after the other)
    session.connection().exec_driver_sql(
        statement,
        [
            {f"c{i}": list(values) for i, values in enumerate(zip(*part, strict=True))}
            for part in (
                batch[k : k + STATEMENT_ROWS] for k in range(0, len(batch), STATEMENT_ROWS)
            )
        ],
    )


def _one_per_key(
    rows: Sequence[dict[str, Any]], keys: list[str], *, keep_last: bool
) -> list[dict[str, Any]]:
    """The rows, one per primary key: the last of each key's rows, or the first."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if keep_last or key not in seen:
            seen.pop(key, None)  # a kept last row moves to where it came: row order is kept
            seen[key] = row
    if len(seen) == len(rows):
        return list(rows)
    return list(seen.values())


def _encoder(column_type: Any, dialect: Dialect) -> Any:
    """How one column's Python value becomes the value bound in its array."""
    if isinstance(column_type, JSON):
        serialize = getattr(dialect, "_json_serializer", None) or json_text
        return serialize  # None too: JSON's `null`, as SQLAlchemy binds it (none_as_null off)
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return process or _same  # a TypeDecorator's own step included (UtcDateTime: to UTC)


def _same(value: Any) -> Any:
    return value


_statements: dict[tuple[str, tuple[str, ...], bool, str | None], str] = {}


def _statement(
    table: Table, names: list[str], keys: list[str], update: bool, versioned_by: str | None
) -> str:
    cache_key = (table.name, tuple(names), update, versioned_by)
    if cache_key in _statements:
        return _statements[cache_key]
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"CAST(%(c{i})b AS {_array_type(table.columns[name].type, dialect)})"
        for i, name in enumerate(names)
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({arrays}) ON CONFLICT ({', '.join(quote(k) for k in keys)}) "
    )
    changed = [n for n in names if n not in keys]
    if update and changed:
        sql += "DO UPDATE SET " + ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in changed)
        if versioned_by is not None:
            version = quote(versioned_by)
            sql += f" WHERE {quote(table.name)}.{version} <= excluded.{version}"
    else:
        sql += "DO NOTHING"
    _statements[cache_key] = sql
    return sql


_updates: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}


def _update_statement(table: Table, names: list[str], keys: list[str]) -> str:
    cache_key = (table.name, tuple(names), tuple(keys))
    if cache_key in _updates:
        return _updates[cache_key]
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    quote = dialect.identifier_preparer.quote
    arrays = ", ".join(
        f"CAST(%(c{i})b AS {_array_type(table.columns[name].type, dialect)})"
        for i, name in enumerate(names)
    )
    target = quote(table.name)
    sql = (
        f"UPDATE {target} SET "
        + ", ".join(f"{quote(n)} = v.{quote(n)}" for n in names if n not in keys)
        + f" FROM unnest({arrays}) AS v({', '.join(quote(n) for n in names)}) WHERE "
        + " AND ".join(f"{target}.{quote(k)} = v.{quote(k)}" for k in keys)
    )
    _updates[cache_key] = sql
    return sql


def _array_type(column_type: Any, dialect: Dialect) -> str:
    if isinstance(column_type, JSON):
        return "JSON[]"
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    return f"{column_type.compile(dialect=dialect)}[]"
