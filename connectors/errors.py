"""Connector errors, grouped by what the caller should do about them.

- `FatalError`: stop this connection's run and tell a human the fix (bad credentials, missing
  scope, misconfigured mapping). Never retried.
- `RetriableError`: transient (429, 5xx, timeout, reset); retried with backoff by the HTTP policy,
  honouring `retry_after`. If retries run out it surfaces and the run resumes next time.
- `QuotaExhaustedError`: the daily budget is spent; stop this connection cleanly, resume later.
- `SkippableError`: one record is bad (malformed payload, validation error); quarantine it with
  the reason and carry on.

Messages never contain tokens: build them from status codes, error codes and CRM messages only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar


class ConnectorError(Exception):
    """Base for every connector error. `connection` names the config entry involved."""

    def __init__(self, message: str, *, connection: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.connection = connection
        self.status = status

    def __str__(self) -> str:
        prefix = f"[{self.connection}] " if self.connection else ""
        return f"{prefix}{self.args[0]}"


class FatalError(ConnectorError):
    """Stop: a human has to fix something (the message says what)."""


class AuthError(FatalError):
    """Credentials were refused or revoked."""


class RetriableError(ConnectorError):
    def __init__(
        self,
        message: str,
        *,
        connection: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, connection=connection, status=status)
        self.retry_after = retry_after


class RateLimitedError(RetriableError):
    """A 429 (burst or secondly policy)."""


class UnknownOutcomeError(RetriableError):
    """A write whose outcome is unknown (timeout after sending): look up before resending."""


class QuotaExhaustedError(ConnectorError):
    """Daily API allocation spent (HubSpot DAILY 429, Salesforce REQUEST_LIMIT_EXCEEDED)."""


class SkippableError(ConnectorError):
    """One record cannot be processed; quarantine it and continue."""

    def __init__(self, message: str, *, connection: str = "", record_id: str = "") -> None:
        super().__init__(message, connection=connection)
        self.record_id = record_id


T = TypeVar("T")


def unless_refused(
    read: Callable[[], Iterator[T]],
    refused: Callable[[ConnectorError], bool],
    on_refused: Callable[[ConnectorError], None],
) -> Iterator[T]:
    """`read()`'s items, its first read before any is handed on: a source the token may not
    read (a missing scope, a tier) refuses its first call, and that refusal goes to
    `on_refused` (a warning) instead of failing the run; any other error is raised."""
    try:
        found = read()
        first = next(found, None)
    except ConnectorError as exc:
        if not refused(exc):
            raise
        on_refused(exc)
        return
    if first is not None:
        yield first
        yield from found
