"""sObject Collections writes (`composite/sobjects`, <= 200 records a call, `allOrNone: false`).

Every record's outcome is read from the `SaveResult` array (`success: false` carries
`errors[].statusCode`). When Salesforce rejects a call whole (HTTP 400: one record breaks the
request), the shared `connectors.bisection.land` isolates the culprit: ceil(log2 n) probes plus
at most one final send for one bad record; the isolated record carries the rejection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest

from connectors.bisection import BatchRejected, land
from connectors.errors import FatalError
from connectors.salesforce.soql import chunks

COLLECTION_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Saved:
    """One record's outcome."""

    ok: bool
    id: str | None = None
    error: str | None = None
    status_code: str = ""


def describe_error(error: SalesforceError) -> tuple[str, str]:
    """(errorCode, "errorCode: message") of a whole-request Salesforce error."""
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        code = str(content[0].get("errorCode", ""))
        return code, f"{code}: {content[0].get('message', '')}"[:500]
    return "", f"HTTP {error.status}"


def _saved(result: Mapping[str, Any]) -> Saved:
    if result.get("success"):
        return Saved(True, id=str(result.get("id") or "") or None)
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    code = str(first.get("statusCode", "UNKNOWN_ERROR"))
    fields = first.get("fields") or []
    where = f" ({', '.join(map(str, fields))})" if fields else ""
    return Saved(
        False,
        id=str(result.get("id") or "") or None,
        error=f"{code}: {first.get('message', '')}{where}"[:500],
        status_code=code,
    )


@dataclass
class CollectionWriter:
    sf: Salesforce
    connection: str
    limit: int = COLLECTION_LIMIT
    calls: int = 0
    bisect_calls: int = 0

    def write(self, method: str, records: Sequence[Mapping[str, Any]]) -> list[Saved]:
        """Outcomes for `records`, in order (PATCH updates by `id`, POST creates)."""
        saved: dict[int, Saved] = {}

        def send(keys: Sequence[int]) -> dict[int, str]:
            try:
                results = self._call(method, [records[k] for k in keys])
            except SalesforceMalformedRequest as exc:
                raise BatchRejected(describe_error(exc)[1]) from None
            errors: dict[int, str] = {}
            for key, result in zip(keys, results, strict=True):
                saved[key] = result
                if not result.ok:
                    errors[key] = result.error or result.status_code
            return errors

        for batch in chunks(range(len(records)), self.limit):
            landing = land(batch, send)
            self.bisect_calls += max(landing.calls - 1, 0)
            for key, reason in landing.rejected.items():
                if key not in saved:
                    code = reason.split(":", 1)[0] if ":" in reason else ""
                    saved[key] = Saved(False, error=f"rejected whole: {reason}", status_code=code)
        return [saved[k] for k in range(len(records))]

    def _call(self, method: str, batch: Sequence[Mapping[str, Any]]) -> list[Saved]:
        self.calls += 1
        try:
            body = self.sf.restful(
                "composite/sobjects",
                method=method,
                json={"allOrNone": False, "records": list(batch)},
            )
        except SalesforceMalformedRequest:
            raise
        except SalesforceError as exc:
            _, message = describe_error(exc)
            raise FatalError(
                f"Salesforce refused a {method} composite/sobjects call ({message}): check the "
                "integration user's object and field permissions",
                connection=self.connection,
                status=exc.status,
            ) from None
        if not isinstance(body, list) or len(body) != len(batch):
            raise FatalError(
                f"Salesforce answered a {method} composite/sobjects call with "
                f"{len(body) if isinstance(body, list) else 'no'} results for {len(batch)} records",
                connection=self.connection,
            )
        return [_saved(result) for result in body]
