"""Salesforce accounts: a Contact's `Account` and lead-to-account matching for Leads.

- Contacts: the pull's SOQL selects `AccountId` and the account's fields through the parent
  relationship (`Account.OwnerId, Account.NumberOfEmployees, Account.Industry,
  Account.BillingCountry, Account.BillingState, Account.Website, Account.Name`; SOQL and SOSL
  Reference, "Relationship Queries"), so the account costs no extra call. The REST answer nests
  them: `"Account": {"attributes": {...}, "OwnerId": ...}`, or `"Account": null`.
- Leads have no account. `lead_to_account` matches each new Lead to an existing Account by
  domain, in the configured order (the LeanData pattern): the Lead's email domain, then its own
  website, against the domain of the Account's website. Free-mail domains never match. The
  Accounts are read for the domains of the run's new Leads and cached for the run: when those
  need more than one query of 40 domains (`Website LIKE '%domain%'`, then the exact domain
  compared here), every Account with a website is read instead (2,000 a page) if that takes no
  more calls: its first page's `totalSize` says how many pages it needs, and when it needs more
  the cursor is left (one call spent) for the LIKE queries; a batch with more than 400 new
  domains (a full sync) reads every Account with a website at once. Several Accounts on one
  domain: the oldest (CreatedDate, then Id) is the account.

The configured fields are taken to exist until a query naming them is refused (INVALID_FIELD, or
an object the integration user may not read): then Lead and Account are checked against `describe`
for the rest of the run, a mapped field the org lacks is a warning naming it and is left out, and
the refused query is sent again without it (`recheck`). A run whose fields all exist makes no
`describe` call (two a run before, per process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from config.accounts import AccountSettings
from config.scoring_defaults import FREE_MAIL
from connectors.accounts import Account, AccountFields, domain_of
from connectors.records import Contact
from connectors.salesforce.collections import describe_error
from connectors.salesforce.soql import chunks, quote, select

CONTACT_SOURCE = "Salesforce account"
DOMAIN_CHUNK = 40
# More new domains than this in one batch (a full sync): read every Account with a website once
# (2,000 a page) instead of one LIKE query per 40 domains.
ALL_ACCOUNTS_ABOVE = 400
PAGE = 2000
# what Salesforce answers a query naming a field the org lacks or an object the user cannot read
FIELD_REFUSALS = frozenset({"INVALID_FIELD", "INVALID_TYPE", "INSUFFICIENT_ACCESS"})
_PAGE = {"Sforce-Query-Options": f"batchSize={PAGE}"}


def _each(sf: Callable[[], Salesforce], queries: Sequence[str]) -> Iterator[dict[str, Any]]:
    for soql in queries:
        yield from sf().query_all_iter(soql, headers=_PAGE)


class AccountReader:
    def __init__(
        self,
        sf: Callable[[], Salesforce],
        settings: AccountSettings,
        warn: Callable[[str], None],
    ) -> None:
        self._sf = sf
        self.settings = settings
        self._warn = warn
        self._fields = AccountFields(
            settings.properties("salesforce"),
            settings.owner("salesforce"),
            warn,
            {name: f.mapping() for name, f in settings.custom_fields.items()},
        )
        self._present: dict[str, set[str]] = {}  # sObject -> its field names (lower case)
        self._checked = False  # a query was refused: fields are checked against describe
        self._by_domain: dict[str, Account | None] = {}  # for the run
        self._ignore = frozenset(FREE_MAIL)
        self._refused = False
        self._all_read = False  # every Account with a website is in `_by_domain`
        self.read = 0  # Account records Salesforce answered this run (lead matching)

    @property
    def enabled(self) -> bool:
        return self.settings.enabled and not self._refused

    def recheck(self) -> bool:
        """A query naming the configured fields was refused: check them against `describe` from
        now on. True the first time (the query is worth sending again without what is missing)."""
        if self._checked:
            return False
        self._checked = True
        return True

    def _has(self, sobject: str, field: str) -> bool:
        if not self._checked:
            return True  # until a query is refused: no describe call
        if sobject not in self._present:
            try:
                described = getattr(self._sf(), sobject).describe()
            except SalesforceError as exc:  # the integration user may not read Accounts
                code, message = describe_error(exc)
                self._refused = sobject == "Account" or self._refused
                self._warn(
                    f"Salesforce refused describing {sobject} ({code or exc.status}: {message}): "
                    "accounts are left out of this run; grant the integration user read access"
                )
                described = {}
            self._present[sobject] = {str(f["name"]).lower() for f in described.get("fields", [])}
        return field.lower() in self._present[sobject]

    def account_fields(self) -> list[str]:
        """The mapped Account fields the org has (a missing one warns, once)."""
        wanted = {**self._fields.properties, "account owner": self._fields.owner_property}
        present = []
        self._has("Account", "Id")
        if self._refused:
            return []
        for name, field in wanted.items():
            if self._has("Account", field):
                present.append(field)
            else:
                self._warn(
                    f"Salesforce Account field '{field}' (for {name}) does not exist or is hidden "
                    "from the integration user: fix connections[].accounts.fields"
                )
        return list(dict.fromkeys(present))

    # --- Contacts: the parent relationship ---------------------------------------------------

    def contact_select(self) -> list[str]:
        """What a Contact pull selects for its account."""
        fields = self.account_fields() if self.enabled else []
        return ["AccountId", *(f"Account.{f}" for f in fields)] if self.enabled else []

    def for_contact(self, contact: Contact, raw: dict[str, Any]) -> Contact:
        if not self.enabled:
            return contact
        parent = raw.get("Account")
        account = None
        if isinstance(parent, dict) and raw.get("AccountId"):
            values = {k: v for k, v in parent.items() if k != "attributes"}
            account = Account(str(raw["AccountId"]), values)
        return self._fields.apply(contact, account, CONTACT_SOURCE)

    # --- Leads: matched by domain ------------------------------------------------------------

    @property
    def matches_leads(self) -> bool:
        return self.enabled and self.settings.lead_to_account.enabled

    def lead_website_field(self) -> str | None:
        """The Lead field a `website` rule reads, when the org has it."""
        rules = self.settings.lead_to_account
        if not self.matches_leads or "website" not in rules.match:
            return None
        if self._has("Lead", rules.lead_website_field):
            return rules.lead_website_field
        self._warn(
            f"Salesforce Lead field '{rules.lead_website_field}' does not exist: lead-to-account "
            "matching uses the email domain only (fix accounts.lead_to_account.lead_website_field)"
        )
        return None

    def _domains(self, lead: Contact) -> list[tuple[str, str]]:
        """(rule, domain) candidates for one lead, in the configured order."""
        out: list[tuple[str, str]] = []
        for rule in self.settings.lead_to_account.match:
            value = lead.email if rule == "email_domain" else lead.fields.get("company_domain")
            domain = domain_of(value)
            if domain and domain not in self._ignore:
                out.append((rule, domain))
        return out

    def match_leads(self, people: Sequence[Contact]) -> list[Contact]:
        if not self.matches_leads:
            return list(people)
        leads = [p for p in people if p.object_type == "lead" and not p.archived]
        wanted = sorted(
            {d for lead in leads for _, d in self._domains(lead)} - set(self._by_domain)
        )
        if wanted and not self._all_read:
            self._read_accounts(wanted, every=len(wanted) > ALL_ACCOUNTS_ABOVE)
        out = []
        for person in people:
            if person.object_type != "lead" or person.archived:
                out.append(person)
                continue
            matched = next(
                (
                    (rule, account)
                    for rule, domain in self._domains(person)
                    if (account := self._by_domain.get(domain)) is not None
                ),
                None,
            )
            if matched is None:
                out.append(self._fields.apply(person, None, "Salesforce account (by domain)"))
            else:
                rule, account = matched
                how = "email domain" if rule == "email_domain" else "website"
                source = f"Salesforce account matched by {how}"
                out.append(self._fields.apply(person, account, source))
        return out

    def _read_accounts(self, domains: Sequence[str], *, every: bool = False) -> None:
        try:
            self._read_accounts_once(domains, every=every)
        except SalesforceError as exc:
            if describe_error(exc)[0] not in FIELD_REFUSALS or not self.recheck():
                raise
            self._read_accounts_once(domains, every=every)  # without the fields the org lacks

    def _read_accounts_once(self, domains: Sequence[str], *, every: bool) -> None:
        website = self.settings.lead_to_account.account_website_field
        if not self._has("Account", website):
            self._warn(
                f"Salesforce Account field '{website}' does not exist: Leads are not matched to "
                "accounts (fix accounts.lead_to_account.account_website_field)"
            )
            self._by_domain.update(dict.fromkeys(domains))
            return
        fields = select(["Id", "CreatedDate", website, *self.account_fields()])
        found: dict[str, list[dict[str, Any]]] = {}
        every_soql = f"{fields} FROM Account WHERE {website} != null"
        likes = [
            f"{fields} FROM Account WHERE "
            + " OR ".join(f"{website} LIKE {quote('%' + d + '%')}" for d in chunk)
            for chunk in chunks(list(domains), DOMAIN_CHUNK)
        ]
        if not every and len(likes) > 1:
            rows = self._every_within(every_soql, pages=len(likes))
            every = rows is not None
        else:
            rows = self._sf().query_all_iter(every_soql, headers=_PAGE) if every else None
        wanted = set(domains)
        for raw in rows if rows is not None else _each(self._sf, likes):
            self.read += 1
            domain = domain_of(raw.get(website))
            if domain is not None and (every or domain in wanted):
                found.setdefault(domain, []).append(raw)
        self._all_read = self._all_read or every
        self._keep(found, wanted)

    def _every_within(self, soql: str, pages: int) -> Iterator[dict[str, Any]] | None:
        """Every Account with a website when that is at most `pages` pages (its first page's
        `totalSize` says), else None: the LIKE queries take fewer calls."""
        sf = self._sf()
        first = sf.query(soql, headers=_PAGE)
        if -(-int(first.get("totalSize", 0)) // PAGE) > pages:
            return None

        def rows() -> Iterator[dict[str, Any]]:
            page = first
            while True:
                yield from page.get("records", [])
                if page.get("done", True) or not page.get("nextRecordsUrl"):
                    return
                page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, headers=_PAGE)

        return rows()

    def _keep(self, found: dict[str, list[dict[str, Any]]], wanted: set[str]) -> None:
        for domain in sorted(wanted | set(found)):
            rows = sorted(
                found.get(domain, []), key=lambda r: (r.get("CreatedDate") or "", r["Id"])
            )
            self._by_domain[domain] = (
                Account(str(rows[0]["Id"]), {k: v for k, v in rows[0].items() if k != "attributes"})
                if rows
                else None
            )
