"""Connections: which CRMs, how to reach them, and how their fields map to canonical ones."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from config.accounts import AccountSettings
from config.base import Duration, StrictModel
from config.custom_fields import CustomField, check_names
from connectors.records import ActivityKind

# Canonical fields the engine understands. A mapping that names anything else is a config error.
CANONICAL_FIELDS: frozenset[str] = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "title",
        "company",
        "company_domain",
        "company_size",
        "industry",
        "country",
        "state",
        "region",
        "phone",
        "lifecycle_stage",
        "lead_status",
        "rejection_reason",
        "owner_id",
        "unsubscribed",
        "lead_source",
        "tech_stack",
        "score",
        "score_fit",
        "score_behaviour",
        "score_reasons",
        "score_breakdown",
        "score_model",
        "out_of_office",
        "external_id",
        "account_id",
        "is_converted",
        "converted_contact_id",
    }
)


class FieldType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"
    ENUM = "enum"


class FieldMapping(StrictModel):
    """One canonical field <-> one CRM property."""

    property: str = Field(min_length=1, description="CRM property / field API name")
    type: FieldType = FieldType.STRING
    managed: bool = Field(False, description="Handoff writes this field back")
    drift: Literal["crm_wins", "handoff_wins"] = Field(
        "crm_wins", description="When a human changed a managed field since Handoff wrote it"
    )
    values: dict[str, str] = Field(
        default_factory=dict,
        description="canonical value -> CRM value (stages, statuses); when several share a CRM "
        "value, reading it back gives the first listed",
    )


class ActivityMapping(StrictModel):
    """Maps one CRM activity source onto a canonical activity kind."""

    source: str = Field(
        description="hubspot: calls|emails|meetings|notes|tasks|form_submissions|page_views|"
        "email_events; salesforce: Task|Event|CampaignMember"
    )
    kind: ActivityKind
    when: dict[str, str] = Field(
        default_factory=dict, description="property equals value filters, all must match"
    )


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class HubSpotSettings(StrictModel):
    access_token: SecretStr | None = Field(None, description="private app token: ${ENV_VAR}")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    base_url: str = "https://api.hubapi.com"
    ca_file: Path | None = Field(None, description="CA bundle to trust (the sandbox's CA)")
    portal_id: int | None = Field(
        None, gt=0, description="the HubSpot account (Hub) id: reports link each row to its record"
    )
    tier: Literal["free", "starter", "professional", "enterprise"] = Field(
        "professional",
        description="the portal's subscription: rate limits and behaviour sources (page views "
        "and email events need enterprise; docs/activity-properties.md)",
    )
    requests_per_10s: int | None = Field(None, gt=0, description="override the tier's burst limit")
    search_per_second: float = Field(5.0, gt=0)
    daily_limit: int | None = Field(None, gt=0)
    timeout_seconds: float = Field(30.0, gt=0)
    asset_stages: dict[Literal["top", "middle", "bottom"], list[str]] = Field(
        default_factory=dict,
        description="funnel stage of your pages by URL, e.g. {bottom: [/case-studies/, /compare/]}"
        " (any of these, case-insensitive; the first stage listed wins): HubSpot stores none, so "
        "page views and forms get their asset_stage from their url",
    )

    _blank_ca = field_validator("ca_file", "portal_id", mode="before")(_blank_is_none)

    @field_validator("asset_stages")
    @classmethod
    def _stage_urls(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for stage, needles in value.items():
            if not needles or any(not str(n).strip() for n in needles):
                raise ValueError(
                    f"asset_stages.{stage}: list URL parts such as /pricing or /case-studies/ "
                    "(no empty entries)"
                )
        return {stage: [n.strip().lower() for n in needles] for stage, needles in value.items()}

    @model_validator(mode="after")
    def _auth(self) -> HubSpotSettings:
        if self.access_token is None and self.refresh_token is None:
            raise ValueError(
                "no credentials: set access_token: ${HUBSPOT_TOKEN} or the OAuth trio "
                "client_id/client_secret/refresh_token"
            )
        if self.refresh_token is not None and (
            self.client_id is None or self.client_secret is None
        ):
            raise ValueError("OAuth refresh needs client_id and client_secret as well")
        return self


class AccountEngagementSettings(StrictModel):
    """Account Engagement (Pardot) API v5: web behaviour (page views, forms, email) of the
    org's leads and contacts, read with the Salesforce connection's access token."""

    business_unit_id: str | None = Field(
        None,
        description="18-character business unit id starting 0Uv (Setup > Account Engagement "
        "Business Unit Setup): ${PARDOT_BUSINESS_UNIT_ID}; empty = skipped with a warning",
    )
    base_url: str = Field(
        "https://pi.pardot.com", description="https://pi.demo.pardot.com for developer orgs"
    )
    page_size: int = Field(1000, ge=1, le=1000, description="visitor activities per request")

    _blank = field_validator("business_unit_id", mode="before")(_blank_is_none)

    @field_validator("business_unit_id")
    @classmethod
    def _unit(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"0Uv[0-9A-Za-z]{15}", value.strip()):
            raise ValueError(
                f"business_unit_id {value!r} is not an Account Engagement business unit id: "
                "18 characters starting 0Uv (Setup > Business Unit Setup)"
            )
        return value.strip() if value else None


class SalesforceSettings(StrictModel):
    auth: Literal["session", "password", "jwt", "client_credentials"] = "session"
    instance_url: str | None = None
    session_id: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    private_key_file: Path | None = None
    domain: str = "login"
    api_version: str = "59.0"
    ca_file: Path | None = None
    daily_budget_reserve: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="stop when less than this share of the daily API budget is left",
    )
    bulk_threshold: int = Field(2000, gt=0, description="writes above this go through Bulk API 2.0")
    campaign_stage_field: str | None = Field(
        None,
        description="Campaign field holding the funnel stage (top, middle, bottom) of the "
        "campaign's asset, e.g. Funnel_Stage__c: fills asset_stage of campaign responses and "
        "Account Engagement form fills",
    )
    account_engagement: AccountEngagementSettings | None = Field(
        None, description="read web behaviour from Account Engagement (Pardot) API v5"
    )
    timeout_seconds: float = Field(30.0, gt=0)
    change_events: bool = Field(
        False,
        description="`handoff run` subscribes to Change Data Capture for the mapped Leads and "
        "Contacts through the Pub/Sub API and decides each changed person at once (select "
        "them in Setup > Change Data Capture; docs/speed-to-lead.md)",
    )
    pubsub_endpoint: str = Field(
        "api.pubsub.salesforce.com:7443",
        description="the Pub/Sub API's host:port (gRPC over TLS; the sandbox prints its own)",
    )

    _blank_ca = field_validator("ca_file", "instance_url", mode="before")(_blank_is_none)

    @field_validator("pubsub_endpoint")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"pubsub_endpoint {value!r} is not host:port, e.g. api.pubsub.salesforce.com:7443"
            )
        return value.strip()

    @model_validator(mode="after")
    def _auth(self) -> SalesforceSettings:
        needed = {
            "session": ("instance_url", "session_id"),
            "password": ("username", "password", "security_token"),
            "jwt": ("username", "consumer_key", "private_key_file"),
            "client_credentials": ("consumer_key", "consumer_secret", "instance_url"),
        }[self.auth]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth '{self.auth}' needs {', '.join(missing)}")
        return self


class Connection(StrictModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="short id, e.g. hubspot")
    kind: Literal["hubspot", "salesforce"]
    hubspot: HubSpotSettings | None = None
    salesforce: SalesforceSettings | None = None
    objects: dict[str, dict[str, FieldMapping]] = Field(
        description="canonical object (contact, lead) -> canonical field -> CRM property"
    )
    custom_fields: dict[str, dict[str, CustomField]] = Field(
        default_factory=dict,
        description="object (contact, lead) -> a name you choose -> any CRM property with its "
        "type, e.g. employee_band: {property: acme_employee_band, type: enum, values: [small, "
        "mid, large]}: read with the person, usable in fit rules, fast-lane triggers and "
        "territory matches by that name, shown in reasons, reports and explain",
    )
    activities: list[ActivityMapping] = Field(default_factory=list)
    overlap: Duration = Field(
        default=timedelta(minutes=5), description="incremental pull looks back this much"
    )
    accounts: AccountSettings = Field(
        default_factory=AccountSettings,
        description="each person's company/account: its fields and owner (config/accounts.py)",
    )

    @field_validator("objects")
    @classmethod
    def _known_fields(
        cls, value: dict[str, dict[str, FieldMapping]]
    ) -> dict[str, dict[str, FieldMapping]]:
        for object_type, fields in value.items():
            if object_type not in ("contact", "lead"):
                raise ValueError(f"unknown object '{object_type}': use contact or lead")
            unknown = sorted(set(fields) - CANONICAL_FIELDS)
            if unknown:
                raise ValueError(
                    f"objects.{object_type}: unknown canonical field(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(CANONICAL_FIELDS))}"
                )
            if "email" not in fields:
                raise ValueError(f"objects.{object_type}: map 'email' (it matches people)")
        return value

    @field_validator("custom_fields")
    @classmethod
    def _custom_names(
        cls, value: dict[str, dict[str, CustomField]]
    ) -> dict[str, dict[str, CustomField]]:
        for object_type, fields in value.items():
            if object_type not in ("contact", "lead"):
                raise ValueError(f"unknown object '{object_type}': use contact or lead")
            check_names(fields, f"custom_fields.{object_type}")
        return value

    @model_validator(mode="after")
    def _custom_objects_mapped(self) -> Connection:
        for object_type in self.custom_fields:
            if object_type not in self.objects:
                raise ValueError(
                    f"custom_fields.{object_type}: '{object_type}' is not mapped under objects "
                    f"(map {', '.join(self.objects)} or move the fields there)"
                )
        return self

    def field_mappings(self, object_type: str) -> dict[str, FieldMapping]:
        """Canonical and custom fields of one object: what a pull reads and decodes."""
        out = dict(self.objects.get(object_type, {}))
        for name, custom in self.custom_fields.get(object_type, {}).items():
            out[name] = custom.mapping()
        return out

    def custom_names(self, object_type: str) -> frozenset[str]:
        return frozenset(self.custom_fields.get(object_type, {}))

    @model_validator(mode="after")
    def _settings_match_kind(self) -> Connection:
        settings = self.hubspot if self.kind == "hubspot" else self.salesforce
        if settings is None:
            raise ValueError(f"kind '{self.kind}' needs a '{self.kind}:' section")
        other = self.salesforce if self.kind == "hubspot" else self.hubspot
        if other is not None:
            raise ValueError(f"kind '{self.kind}' cannot carry settings for the other CRM")
        return self
