"""Scopes a private app's token may lack (`Knobs.missing_scopes`), refused as HubSpot does.

HubSpot answers a call whose token lacks a scope with 403 and category MISSING_SCOPES; the body
(as quoted in HubSpot/hubspot-api-nodejs issue #268):
`{"status": "error", "message": "This app hasn't been granted all required scopes to make this
call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
"correlationId": ..., "errors": [{"message": "One or more of the following scopes are required.",
"context": {"requiredScopes": [...]}}], "links": {"scopes": "https://developers.hubspot.com/scopes"},
"category": "MISSING_SCOPES"}`. Only the company read scope is modelled: reading companies, their
properties, or associations to or from them needs `crm.objects.companies.read`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sandbox.hubspot.schema import OBJECT_TYPE_ALIASES

COMPANIES_READ = "crm.objects.companies.read"
_TYPE_PARAMS = ("object_type", "to_object_type", "from_object_type")


def required_scopes(params: Mapping[str, str]) -> list[str]:
    types = {
        OBJECT_TYPE_ALIASES.get(params[p].lower(), params[p]) for p in _TYPE_PARAMS if p in params
    }
    return [COMPANIES_READ] if "companies" in types else []


def refusal(params: Mapping[str, str], missing: set[str]) -> dict[str, Any] | None:
    """The 403 body when this call needs a scope in `missing`, else None."""
    needed = [s for s in required_scopes(params) if s in missing]
    if not needed:
        return None
    return {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. Read "
        "more about required scopes here: https://developers.hubspot.com/scopes.",
        "correlationId": str(uuid.uuid4()),
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredScopes": needed},
            }
        ],
        "links": {"scopes": "https://developers.hubspot.com/scopes"},
        "category": "MISSING_SCOPES",
    }
