"""Each pulled contact's primary company, read in batches and cached for the run.

1. Contact -> company ids: in a full sync from the contact list pages themselves
   (`inline_links.py`), otherwise (and for a contact with more companies than one page shows)
   through the v4 associations batch read
   (`POST /crm/v4/associations/contacts/companies/batch/read`, up to 1,000 ids a call). The
   primary company is the association of category HUBSPOT_DEFINED and typeId 1
   (PRIMARY_CONTACT_TO_COMPANY; hubspot-api-python `hubspot/crm/association_type.py`, see
   crm-api-notes §2); a contact with one company and no primary label gets that one. A contact
   with no company comes back in the 207's `errors` (NO_ASSOCIATIONS_FOUND) and has no account.
2. The companies not read yet in this run through the object batch read
   (`POST /crm/v3/objects/companies/batch/read`, 100 a call) with the mapped properties and
   `hubspot_owner_id`.

Calls go through the connection's transport, so the tier's rate limiter, retries and usage
counts apply as for contacts. The company properties are checked once against the portal
(`GET /crm/v3/properties/companies`): a mapped one that does not exist is a warning naming it.
A refused scope (403, e.g. no `crm.objects.companies.read`) is a warning and the run goes on
without companies: routing then says the contact has no account owner from HubSpot.

A contact with no company at all is matched to an existing company by domain when
`accounts.lead_to_account` allows it (the same rules as Salesforce Leads: the email domain, then
the contact's own `company_domain`; free-mail never matches): one CRM search per 100 new domains
(`POST /crm/v3/objects/companies/search`, `domain IN [...]`, lowercase values as the search guide
requires, oldest company first), through the transport's search limiter (5/s).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from config.accounts import AccountSettings
from config.scoring_defaults import FREE_MAIL
from connectors.accounts import Account, AccountFields, domain_of
from connectors.errors import FatalError
from connectors.hubspot.inline_links import InlineLinks, primary_company_of
from connectors.hubspot.transport import HubSpotRejected, HubSpotTransport, read_json
from connectors.records import Contact
from connectors.spill import DiskMap

log = structlog.get_logger("handoff.hubspot.companies")

ASSOCIATION_BATCH = 1000
READ_BATCH = 100
SEARCH_DOMAINS = 100
SEARCH_PAGE = 200
PRIMARY_COMPANY = ("HUBSPOT_DEFINED", 1)
SOURCE = "HubSpot company"
FREE_MAIL_DOMAINS = frozenset(FREE_MAIL)


def primary_company(targets: Sequence[dict[str, Any]]) -> str | None:
    """The primary company among one contact's association rows (`to[]`)."""
    for target in targets:
        for kind in target.get("associationTypes") or []:
            if (kind.get("category"), kind.get("typeId")) == PRIMARY_COMPANY:
                return str(target["toObjectId"])
    ids = {str(t["toObjectId"]) for t in targets if t.get("toObjectId") is not None}
    return ids.pop() if len(ids) == 1 else None


class CompanyReader:
    def __init__(
        self,
        transport: HubSpotTransport,
        settings: AccountSettings,
        warn: Callable[[str], None],
        inline: InlineLinks | None = None,
    ) -> None:
        self._t = transport
        self._inline = inline if inline is not None else InlineLinks()
        self._settings = settings
        self._warn = warn
        self._fields = AccountFields(
            settings.properties("hubspot"),
            settings.owner("hubspot"),
            warn,
            {name: f.mapping() for name, f in settings.custom_fields.items()},
        )
        self._assoc = transport.client.crm.associations.v4.batch_api
        self._batch = transport.client.crm.companies.batch_api
        self._search = transport.client.crm.companies.search_api
        # domain -> oldest company, and company id -> company, for the run: on disk (one
        # company per eight contacts or so: memory would grow with the portal)
        self._by_domain = DiskMap()
        self._properties_api = transport.client.crm.properties.core_api
        self._cache = DiskMap()
        self._wanted: list[str] | None = None
        self._refused = False
        self.read = 0  # company records HubSpot answered this run (batch reads, domain search)

    @property
    def enabled(self) -> bool:
        return self._settings.enabled and not self._refused

    def with_companies(self, contacts: Sequence[Contact]) -> list[Contact]:
        """The contacts with their primary company's fields and owner (see the module doc)."""
        live = [c.id for c in contacts if not c.archived]
        if not self.enabled or not live:
            return list(contacts)
        try:
            wanted = self._properties()
            primary = self._primary(live)
            companies = self._cache.get_many(primary.values())
            companies.update(self._read(sorted(set(primary.values()) - set(companies)), wanted))
            unlinked = [c for c in contacts if not c.archived and c.id not in primary]
            self._search_domains(unlinked, wanted)
        except (FatalError, HubSpotRejected) as exc:
            if exc.status != 403:
                raise
            self._refused = True
            self._warn(
                f"HubSpot companies unavailable ({exc}); account owners, company size and "
                "industry come from the contacts only for the rest of this run"
            )
            return list(contacts)
        out = []
        for contact in contacts:
            company_id = primary.get(contact.id)
            if company_id is not None or contact.archived:
                company = companies.get(company_id) if company_id else None
                out.append(self._fields.apply(contact, company, SOURCE))
                continue
            matched = next(
                (
                    (rule, found)
                    for rule, domain in self._domains(contact)
                    if (found := self._by_domain.get(domain)) is not None
                ),
                None,
            )
            if matched is None:
                out.append(self._fields.apply(contact, None, SOURCE))
            else:
                how = "email domain" if matched[0] == "email_domain" else "website"
                out.append(self._fields.apply(contact, matched[1], f"{SOURCE} matched by {how}"))
        return out

    def _domains(self, contact: Contact) -> list[tuple[str, str]]:
        """(rule, domain) for a contact with no company, in `lead_to_account.match` order."""
        rules = self._settings.lead_to_account
        if not rules.enabled:
            return []
        out: list[tuple[str, str]] = []
        for rule in rules.match:
            value = (
                contact.email if rule == "email_domain" else contact.fields.get("company_domain")
            )
            domain = domain_of(value)
            if domain and domain not in FREE_MAIL_DOMAINS:
                out.append((rule, domain))
        return out

    def _search_domains(self, contacts: Sequence[Contact], properties: list[str]) -> None:
        """The oldest company of each new domain, by CRM search (`domain IN [...]`)."""
        domains = {d for c in contacts for _, d in self._domains(c)}
        wanted = sorted(d for d in domains if d not in self._by_domain)
        if not wanted or "domain" not in properties:
            return
        for start in range(0, len(wanted), SEARCH_DOMAINS):
            chunk = wanted[start : start + SEARCH_DOMAINS]
            found: dict[str, Account | None] = dict.fromkeys(chunk)
            after: str | None = None
            while True:
                request: dict[str, Any] = {
                    "filterGroups": [
                        {"filters": [{"propertyName": "domain", "operator": "IN", "values": chunk}]}
                    ],
                    "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
                    "properties": properties,
                    "limit": SEARCH_PAGE,
                }
                if after:
                    request["after"] = after
                page = read_json(
                    self._search.do_search(
                        public_object_search_request=request, _preload_content=False
                    )
                )
                for raw in page.get("results", []):
                    self.read += 1
                    props = raw.get("properties") or {}
                    domain = domain_of(props.get("domain"))
                    if domain in found and found[domain] is None:
                        found[domain] = Account(str(raw["id"]), props)  # the oldest
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            self._by_domain.update(found)

    def _properties(self) -> list[str]:
        """The mapped company properties the portal has (checked once; a missing one warns)."""
        if self._wanted is None:
            page = read_json(self._properties_api.get_all("companies", _preload_content=False))
            existing = {str(p.get("name")) for p in page.get("results", [])}
            mapped = {**self._fields.properties, "account owner": self._fields.owner_property}
            for name, prop in mapped.items():
                if prop not in existing:
                    self._warn(
                        f"HubSpot company property '{prop}' (for {name}) does not exist in this "
                        "portal: fix connections[].accounts.fields or create the property"
                    )
            self._wanted = sorted(p for p in set(mapped.values()) if p in existing)
        return self._wanted

    def _primary(self, ids: Sequence[str]) -> dict[str, str]:
        """contact id -> primary company id (contacts without a company are absent)."""
        found: dict[str, str] = {}
        known, ids = self._inline.split("companies", ids)
        for contact_id, links in known.items():
            decided, company = primary_company_of(links)
            if not decided:
                ids.append(contact_id)  # several companies, no single primary label: ask v4
            elif company is not None:
                found[contact_id] = company
        for start in range(0, len(ids), ASSOCIATION_BATCH):
            inputs: list[dict[str, str]] = [
                {"id": i} for i in ids[start : start + ASSOCIATION_BATCH]
            ]
            targets: dict[str, list[dict[str, Any]]] = {}
            while inputs:  # a contact with more companies than one page: follow its `after`
                page = read_json(
                    self._assoc.get_page(
                        "contacts",
                        "companies",
                        batch_input_public_fetch_associations_batch_request={"inputs": inputs},
                        _preload_content=False,
                    )
                )
                inputs = []
                for row in page.get("results", []):
                    contact_id = str(row["from"]["id"])
                    targets.setdefault(contact_id, []).extend(row.get("to") or [])
                    after = ((row.get("paging") or {}).get("next") or {}).get("after")
                    if after and primary_company(targets[contact_id]) is None:
                        inputs.append({"id": contact_id, "after": str(after)})
            for contact_id, rows in targets.items():
                company = primary_company(rows)
                if company is not None:
                    found[contact_id] = company
        return found

    def _read(self, company_ids: Sequence[str], properties: list[str]) -> dict[str, Any]:
        """Read these companies into the cache; what was read (None: archived or gone)."""
        read: dict[str, Account | None] = {}
        for start in range(0, len(company_ids), READ_BATCH):
            chunk = company_ids[start : start + READ_BATCH]
            body = {"inputs": [{"id": i} for i in chunk], "properties": properties}
            page = read_json(
                self._batch.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            found: dict[str, Account | None] = dict.fromkeys(chunk)  # None: archived or gone
            for raw in page.get("results", []):
                company_id = str(raw["id"])
                found[company_id] = Account(company_id, raw.get("properties") or {})
                self.read += 1
            self._cache.update(found)
            read.update(found)
        log.debug("hubspot.companies", read=len(company_ids), cached=len(self._cache))
        return read
