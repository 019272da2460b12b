"""Salesforce's two error shapes.

Top-level REST errors are a JSON array `[{"message", "errorCode", "fields"?}]` (REST API Developer
Guide, "Status Codes and Error Responses"); per-record errors inside sObject Collections results use
`statusCode` instead of `errorCode` (crm-api-notes section 8).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode


class ApiError(Exception):
    """A whole request fails: HTTP `status` with the `[{"message", "errorCode"}]` array body."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]


class RecordError(Exception):
    """One record of a write fails; the request as a whole may still succeed."""

    def __init__(self, status_code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields or []

    def entry(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


# REST API: "In each REST call, the maximum length for the combined URI and headers is 16,384
# bytes": a longer URI answers 414 URI Too Long, longer headers 431 (Salesforce Help, "Maximum
# number of rows returned by SOQL queries over the REST API"). A long SOQL query in `q` is the
# usual way to reach it.
REQUEST_LINE_LIMIT = 16_384


def too_long(
    path: str, query: Mapping[str, Sequence[str]], headers: Mapping[str, str]
) -> int | None:
    """414 or 431 when the request's URI (or URI and headers) exceed Salesforce's limit."""
    uri = len(path) + (len(urlencode(query, doseq=True)) + 1 if query else 0)
    if uri > REQUEST_LINE_LIMIT:
        return 414
    sent = sum(len(name) + len(value) + 4 for name, value in headers.items())
    return 431 if uri + sent > REQUEST_LINE_LIMIT else None
