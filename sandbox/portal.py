"""The sandbox's neutral data set: one believable B2B portal, served by both emulators.

A `Portal` is what the seed generator makes and what `--fixture FILE` loads; the HubSpot
emulator presents it as contacts/owners/engagements, the Salesforce one as Leads, Contacts,
Accounts, Users, Tasks, Events and CampaignMembers. Timestamps are tz-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class PortalOwner:
    id: str  # stable key, e.g. "o1"; emulators derive their own ids from it
    email: str
    first_name: str
    last_name: str
    active: bool = True
    territory: str = ""  # informational: which territory the demo config puts them in


@dataclass(slots=True)
class PortalCompany:
    id: str
    name: str
    domain: str
    employees: int
    industry: str
    country: str
    state: str = ""
    owner_id: str | None = None  # account owner (PortalOwner.id)


@dataclass(slots=True)
class PortalPerson:
    id: str
    first_name: str
    last_name: str
    email: str
    title: str
    company_id: str | None
    created_at: datetime
    modified_at: datetime
    owner_id: str | None = None
    lifecycle_stage: str = (
        "lead"  # canonical stage: subscriber, lead, mql, sal, sql, opportunity, customer
    )
    lead_status: str = ""  # sales' own status / rejection reason code when worked
    unsubscribed: bool = False
    kind: str = "lead"  # Salesforce side: "lead" (unconverted) or "contact"
    properties: dict[str, str] = field(default_factory=dict)  # extra raw CRM properties


@dataclass(slots=True)
class PortalActivity:
    id: str
    person_id: str
    kind: str  # connectors.records.ActivityKind value
    occurred_at: datetime
    owner_id: str | None = None  # the rep for calls/emails/meetings
    properties: dict[str, str] = field(default_factory=dict)  # url, form_name, asset_stage, subject


@dataclass(slots=True)
class PortalTask:
    id: str
    person_id: str
    owner_id: str
    subject: str
    due_at: datetime
    status: str = "NOT_STARTED"
    task_key: str | None = None


@dataclass(slots=True)
class Portal:
    owners: list[PortalOwner] = field(default_factory=list)
    companies: list[PortalCompany] = field(default_factory=list)
    people: list[PortalPerson] = field(default_factory=list)
    activities: list[PortalActivity] = field(default_factory=list)
    tasks: list[PortalTask] = field(default_factory=list)
    tier: str | None = None  # the HubSpot portal's subscription tier (None: the emulator's default)
