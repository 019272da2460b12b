"""SLA escalations posted to a webhook (e.g. a Slack incoming webhook), through the outbox.

A NotifyManager rung with `webhook: true` plans one outbox item of kind `webhook` under the
reserved connection name `@webhook` (no configured connection can take it: names start with a
letter). The item holds the message, never the URL: the URL is a secret (a Slack webhook URL is
its own credential) and is read from `sla.webhook_url` when sending. Each post carries the item's
key as `Idempotency-Key`; 5xx, 429 and network errors are retried (Retry-After honoured), other
4xx answers reject the item with the status, and the outbox retries it on later runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
import structlog
import tenacity

from connectors.records import OutcomeStatus, WriteOutcome

WEBHOOK_CONNECTION = "@webhook"
log = structlog.get_logger("handoff.webhook")


class _Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _wait(state: tenacity.RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, _Transient) and error.retry_after is not None:
        return min(error.retry_after, 30.0)
    return float(min(2 ** (state.attempt_number - 1), 10))


class WebhookSender:
    """Posts planned webhook items to one URL."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 4,
        timeout: float = 10.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._session = session or requests.Session()
        self._retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            wait=_wait,
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=sleep,
            reraise=True,
        )

    def post(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[WriteOutcome]:
        """(outbox key, JSON body) pairs -> one outcome each."""
        return [self._post_one(key, body) for key, body in items]

    def _post_one(self, key: str, body: dict[str, Any]) -> WriteOutcome:
        try:
            status = self._retrying(self._send, key, body)
        except _Transient as exc:
            log.warning("webhook.failed", key=key, error=str(exc))
            return WriteOutcome(key, OutcomeStatus.REJECTED, f"webhook: {exc}, retried next run")
        if 200 <= status < 300:
            return WriteOutcome(key, OutcomeStatus.APPLIED)
        return WriteOutcome(
            key,
            OutcomeStatus.REJECTED,
            f"webhook answered HTTP {status}: check sla.webhook_url and the receiver's settings",
        )

    def _send(self, key: str, body: dict[str, Any]) -> int:
        try:
            answer = self._session.post(
                self._url, json=body, timeout=self._timeout, headers={"Idempotency-Key": key}
            )
        except requests.RequestException as exc:  # the URL is a secret: only the error's kind
            raise _Transient(f"{type(exc).__name__} while posting") from None
        if answer.status_code == 429 or answer.status_code >= 500:
            retry_after = answer.headers.get("Retry-After")
            raise _Transient(
                f"HTTP {answer.status_code}",
                float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        return answer.status_code


def escalation_message(
    *,
    rung: str,
    owner_email: str,
    manager: str | None,
    territory: str | None,
    record: tuple[str, str, str],
    due_at: str,
    reassigned: bool,
) -> dict[str, Any]:
    """The post's body: Slack's `text` plus the same facts as fields. The lead appears as its
    CRM record (connection, object, id), never by email or name: the receiver is outside."""
    connection, object_type, record_id = record
    where = f" in {territory}" if territory else ""
    text = (
        f"SLA escalation{where}: {owner_email} has not touched {object_type} {record_id} "
        f"({connection}); first touch was due {due_at}"
        + (". Reassigned to the backup." if reassigned else ".")
    )
    return {
        "text": text,
        "event": "sla.escalation",
        "rung": rung,
        "owner": owner_email,
        "manager": manager,
        "territory": territory,
        "connection": connection,
        "object": object_type,
        "record_id": record_id,
        "due_at": due_at,
        "reassigned": reassigned,
    }
