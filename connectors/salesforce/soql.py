"""SOQL text: literals, datetime bounds and IN lists chunked to keep query URLs short."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import TypeVar

T = TypeVar("T")

# 200 ids of 18 characters quoted is ~4.4 KB of SOQL (~5 KB URL-encoded): well under the 16 KB
# URL limit Salesforce applies to GET query requests.
IN_CHUNK = 200


def quote(value: str) -> str:
    """A SOQL string literal (backslash and quote escaped)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def in_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")"


def datetime_literal(value: datetime) -> str:
    """A SOQL datetime literal (unquoted ISO-8601 UTC with milliseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every timestamp must be tz-aware UTC")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    iterator = iter(values)
    while batch := list(islice(iterator, size)):
        yield batch


def select(fields: Sequence[str]) -> str:
    """`SELECT a, b` with duplicates removed, order kept."""
    return "SELECT " + ", ".join(dict.fromkeys(fields))
