"""A person's company/account as canonical fields, shared by the HubSpot and Salesforce adapters.

An adapter finds the person's account (HubSpot: the primary company; Salesforce: the Contact's
Account, or the Account a Lead's domain matches) and hands its raw values to `AccountFields`,
which returns the person with:

- the canonical fields of `accounts.fields` filled wherever the person lacks them (the person's
  own value wins): company, company_domain, company_size, industry, country, state;
- `account_id`, `account_name`, `account_owner_id` (the CRM owner id of the account) and
  `account_source` (where it came from, in the words a rep reads: "HubSpot company",
  "Salesforce account", "Salesforce account matched by email domain"), and `account_filled`,
  the fields that came from the account (blank on the person itself, so a re-pulled person
  whose own value is still blank is the same version).

A person who went through the lookup but has no account gets `account_source` with
`account_id` None, so routing can say so instead of staying silent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from config.connections import FieldMapping
from connectors.errors import SkippableError
from connectors.mapping import FieldCodec
from connectors.records import Contact

ACCOUNT_KEYS = (
    "account_id",
    "account_name",
    "account_owner_id",
    "account_source",
    "account_filled",
)


def domain_of(value: Any) -> str | None:
    """`https://www.Acme.com/about` -> `acme.com`; None for blanks and non-domains."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    if "@" in text and "/" not in text:
        text = text.rsplit("@", 1)[1]
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.").strip(".")
    return host if "." in host else None


def _integer(raw: Any) -> int:
    number = Decimal(str(raw).strip())
    if number != number.to_integral_value():
        raise ValueError("not a whole number")
    return int(number)


@dataclass(frozen=True, slots=True)
class Account:
    """One company/account as read from the CRM (raw values by property name)."""

    id: str
    values: Mapping[str, Any]


@dataclass
class AccountFields:
    """Canonical account fields of a person from one account's raw values."""

    properties: Mapping[str, str]  # canonical (and custom) field -> account property
    owner_property: str
    warn: Callable[[str], None]
    custom: Mapping[str, FieldMapping] = field(default_factory=dict)  # typed custom fields

    def __post_init__(self) -> None:
        self._codec = FieldCodec(self.custom, closed=frozenset(self.custom))

    def canonical(self, account: Account) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, prop in self.properties.items():
            raw = account.values.get(prop)
            if raw is None or str(raw).strip() == "":
                continue
            if name in self.custom:
                try:
                    out[name] = self._codec.decode_value(name, raw, f"account {account.id}")
                except SkippableError as exc:
                    self.warn(f"{exc}: {name} left out")
            elif name == "company_domain":
                out[name] = domain_of(raw)
            elif name == "company_size":
                try:
                    out[name] = _integer(raw)
                except (ValueError, InvalidOperation):
                    self.warn(
                        f"account {account.id}: '{prop}' holds {str(raw)[:40]!r}, not a whole "
                        "number: company size left out"
                    )
            else:
                out[name] = str(raw)
        return out

    def apply(self, person: Contact, account: Account | None, source: str) -> Contact:
        """The person with the account's fields where theirs are blank, and the account keys."""
        fields = dict(person.fields)
        fields["account_source"] = source
        if account is None:
            return replace(person, fields=fields)
        values = self.canonical(account)
        filled = []
        for name, value in values.items():
            if value not in (None, "") and fields.get(name) in (None, ""):
                fields[name] = value
                filled.append(name)
        fields["account_filled"] = filled  # blank on the person: the next pull's echo check
        owner = account.values.get(self.owner_property)
        fields["account_id"] = fields.get("account_id") or account.id
        fields["account_name"] = values.get("company") or values.get("company_domain")
        fields["account_owner_id"] = str(owner) if owner not in (None, "") else None
        return replace(person, fields=fields)
