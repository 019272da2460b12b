"""Companies and accounts: which CRM record is a person's account, and what it brings.

HubSpot: a contact's primary company (v4 associations, typeId 1) and its properties.
Salesforce: a Contact's `Account` (parent relationship fields in the pull's SOQL), and for Leads,
which have no account, lead-to-account matching by domain (the LeanData pattern): the lead's email
domain or its `Website` against the accounts' `Website`. A HubSpot contact with no company is
matched the same way against the companies' `domain`.

The account's fields fill the person's canonical fields wherever the person lacks them (a value
on the person wins), so fit rules and territories see company size, industry and country; the
account's owner is the person's account owner for routing (`routing.account_owner_first`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from config.base import StrictModel
from config.custom_fields import CustomField, check_names

MatchRule = Literal["email_domain", "website"]

# canonical field -> (HubSpot company property, Salesforce Account field): the defaults
ACCOUNT_FIELDS: dict[str, tuple[str, str]] = {
    "company": ("name", "Name"),
    "company_domain": ("domain", "Website"),
    "company_size": ("numberofemployees", "NumberOfEmployees"),
    "industry": ("industry", "Industry"),
    "country": ("country", "BillingCountry"),
    "state": ("state", "BillingState"),
}
ACCOUNT_OWNER = {"hubspot": "hubspot_owner_id", "salesforce": "OwnerId"}
INTEGER_FIELDS = frozenset({"company_size"})


class LeadToAccount(StrictModel):
    """People with no account matched to an existing one by domain: Salesforce Leads (they have
    no AccountId) and HubSpot contacts associated with no company."""

    enabled: bool = Field(True, description="match Leads to Accounts")
    match: list[MatchRule] = Field(
        default_factory=lambda: list[MatchRule](["email_domain", "website"]),
        min_length=1,
        description="in order: the lead's email domain, then the lead's own website field, "
        "each compared with the accounts' website domain; free-mail domains never match",
    )
    lead_website_field: str = Field(
        "Website", description="Salesforce: the Lead field holding its website"
    )
    account_website_field: str = Field(
        "Website", description="Salesforce: the Account field holding its website (or a domain)"
    )


class AccountSettings(StrictModel):
    """Where a person's company/account comes from and which of its fields Handoff reads."""

    enabled: bool = Field(
        True, description="read each pulled person's company (HubSpot) / account (Salesforce)"
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="canonical field -> company property / Account field, overriding the "
        "defaults: company name, domain/Website, numberofemployees/NumberOfEmployees, "
        "industry/Industry, country/BillingCountry, state/BillingState",
    )
    custom_fields: dict[str, CustomField] = Field(
        default_factory=dict,
        description="a name you choose -> any company property / Account field with its type, "
        "e.g. arr_band: {property: acme_arr_band, type: enum, values: [low, high]}: fills the "
        "person's field of that name (a person's own custom field of the name wins)",
    )
    owner_property: str | None = Field(
        None, description="the account owner property (default hubspot_owner_id / OwnerId)"
    )
    lead_to_account: LeadToAccount = Field(
        default_factory=LeadToAccount,
        description="Salesforce Leads, and HubSpot contacts with no company, matched by domain",
    )

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ACCOUNT_FIELDS))
        if unknown:
            raise ValueError(
                f"accounts.fields: unknown canonical field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(ACCOUNT_FIELDS))}"
            )
        return value

    @field_validator("custom_fields")
    @classmethod
    def _custom_names(cls, value: dict[str, CustomField]) -> dict[str, CustomField]:
        check_names(value, "accounts.custom_fields")
        return value

    def properties(self, kind: Literal["hubspot", "salesforce"]) -> dict[str, str]:
        """canonical (and custom) field -> the CRM's company/account property, defaults filled
        in."""
        column = 0 if kind == "hubspot" else 1
        out = {name: pair[column] for name, pair in ACCOUNT_FIELDS.items()}
        return out | self.fields | {n: f.property for n, f in self.custom_fields.items()}

    def owner(self, kind: Literal["hubspot", "salesforce"]) -> str:
        return self.owner_property or ACCOUNT_OWNER[kind]
