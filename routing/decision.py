"""What the router is asked and what it answers: a lead's place and owners (`RoutingLead`), and
the owner chosen with the rule that chose it and the reason (`RoutingDecision`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from routing.territory import LeadPlace

Rule = Literal[
    "existing_owner", "account_owner", "escalation", "round_robin", "fallback", "held", "unassigned"
]


@dataclass(frozen=True, slots=True)
class RoutingLead:
    """What the router needs to know about a person (a contact or a CRM lead)."""

    key: str  # stable person key
    country: str | None = None
    state: str | None = None
    region: str | None = None
    industry: str | None = None
    company_size: int | None = None
    company_domain: str | None = None
    current_owner_email: str | None = None
    account_owner_email: str | None = None
    account_label: str | None = None  # "Acme (HubSpot company)": where the account owner is from
    account_note: str | None = None  # why there is no account owner from the CRM, for the reason
    is_mql: bool = True  # nurture leads are only routed once they are MQL
    decision_key: str | None = None  # one decision (lead, moment, purpose): recorded once
    # no decision was recorded under the key when its decider, holding the person, looked for
    # the chunk's keys at once (ledger.recorded): the router need not look again
    decision_unrecorded: bool = False
    source_owner_email: str | None = None  # the owner the owning CRM holds now
    fields: Mapping[str, Any] = field(default_factory=dict)  # every field, for match.fields

    @property
    def place(self) -> LeadPlace:
        return LeadPlace.of(
            country=self.country,
            state=self.state,
            region=self.region,
            industry=self.industry,
            company_size=self.company_size,
            company_domain=self.company_domain,
            fields=self.fields,
        )


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    owner_email: str | None
    territory: str | None
    rule: Rule
    reason: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (email, why)
    slot: int | None = None  # the territory's round-robin turn, for round_robin

    @property
    def assigned(self) -> bool:
        """A new owner was recorded (not kept, held or left unassigned)."""
        return self.rule not in ("existing_owner", "held", "unassigned")
