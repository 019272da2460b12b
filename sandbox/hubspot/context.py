"""What every endpoint handler sees: the store, the run-time knobs and this request's `now`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.hubspot.search import SearchLimits
from sandbox.hubspot.store import PortalStore
from sandbox.server import SandboxRequest


@dataclass
class Knobs:
    """Run-time behaviour switches tests may flip while the server runs."""

    search_lag_seconds: float = 0.0  # records changed this recently are not yet searchable
    batch_all_or_nothing: bool = False  # one bad input -> 400 for the whole batch, nothing written
    search: SearchLimits = field(default_factory=SearchLimits)
    list_max: int = 100  # hubspot-api-client PAGE_MAX_SIZE
    batch_max: int = 100  # object batch endpoints: 100 inputs per request
    associations_page: int = 500  # v4 associations GET default limit
    events_page: int = 100
    events_max: int = 1000
    # Endpoint labels ("contacts.batch_update", "contacts.search") answered 400 with a body that
    # echoes the request's access token: a CRM error quoting a credential (secret redaction drill).
    echo_token_on: set[str] = field(default_factory=set)
    # scope -> endpoint label prefixes the token lacks it for (e.g. {"forms": ["forms."]}):
    # answered 403 MISSING_SCOPES, the refusal of a private app created without that scope
    missing_scopes: dict[str, list[str]] = field(default_factory=dict)
    forms_max: int = 100  # /marketing/v3/forms page size (no documented maximum)
    history_batch_max: int = 50  # batch read inputs when propertiesWithHistory is asked
    # Record id -> message: updates of these records are refused per input (VALIDATION_ERROR
    # in the batch's errors[]), as a portal's validation rule or a locked record would.
    refuse_updates: dict[str, str] = field(default_factory=dict)


@dataclass
class Ctx:
    store: PortalStore
    knobs: Knobs
    now_ms: int
    portal_id: int
    tier: str = "professional"  # the portal's subscription: starter | professional | enterprise


Handler = Callable[..., tuple[int, Any]]


def multi_param(req: SandboxRequest, name: str) -> list[str]:
    """A list query parameter sent repeated (`multi`) or comma separated."""
    out: list[str] = []
    for raw in req.query.get(name, []):
        out.extend(v for v in raw.split(",") if v)
    return out


def flag(req: SandboxRequest, name: str) -> bool:
    return (req.param(name) or "false").lower() == "true"
