"""Salesforce's two error shapes.

Top-level REST errors are a JSON array `[{"message", "errorCode", "fields"?}]` (REST API Developer
Guide, "Status Codes and Error Responses"); per-record errors inside sObject Collections results use
`statusCode` instead of `errorCode` (crm-api-notes section 8).
"""

from __future__ import annotations

from typing import Any


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
