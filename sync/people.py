"""One person as the decision stage sees it: every CRM record of theirs, merged into one view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from config.model import HandoffConfig
from connectors.records import Activity, Contact, Owner
from routing.decision import RoutingLead
from routing.ledger import LastAssignment
from scoring.lifecycle import normalise_code
from sync.crm_values import same_in_crm
from sync.store.activities import read_activities
from sync.store.key_in import key_in
from sync.store.tables import OwnerRecord, PersonRecord

REJECTION_STAGES = ("recycled", "disqualified")
STAGES = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
CONVERTED_STAGE = "opportunity"  # Salesforce lead conversion creates the opportunity


class OwnerBook:
    """Owners of every connection: CRM owner id <-> email, and who is active."""

    def __init__(self, rows: Iterable[OwnerRecord]) -> None:
        self._email: dict[tuple[str, str], str] = {}
        self._id: dict[tuple[str, str], str] = {}
        self._active: dict[str, bool] = {}
        self.owners: list[Owner] = []
        for row in rows:
            if not row.email:
                continue
            email = row.email.lower()
            self._email[(row.connection, row.crm_id)] = email
            if row.active or (row.connection, email) not in self._id:
                self._id[(row.connection, email)] = row.crm_id
            self._active[email] = self._active.get(email, True) and row.active
            self.owners.append(Owner(row.connection, row.crm_id, email, row.name, row.active))

    @classmethod
    def load(cls, session: Session) -> OwnerBook:
        return cls(session.exec(select(OwnerRecord)).all())

    def email_for(self, connection: str, owner_id: Any) -> str | None:
        if owner_id in (None, ""):
            return None
        return self._email.get((connection, str(owner_id)))

    def id_for(self, connection: str, email: str) -> str | None:
        return self._id.get((connection, email.lower()))

    def is_active(self, email: str | None) -> bool:
        return bool(email) and self._active.get(str(email).lower(), False)


@dataclass
class PersonView:
    key: str
    records: list[PersonRecord]
    contact: Contact  # merged canonical view
    activities: list[Activity]
    owner_email: str | None
    owner_active: bool
    stage: str | None
    source_modified_at: datetime
    account_owner_email: str | None = None
    account_label: str | None = None  # "Acme (HubSpot company)": where the account owner is from
    account_note: str | None = None  # why the CRM gave no usable account owner
    lifecycle_from: str = ""
    owner_from: str = ""
    converted: bool = False
    # Handoff's own writes not confirmed yet (pending, in flight, to retry): (connection, record
    # id) -> canonical field -> value. Decisions read a record as it will be once they land.
    intended: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    source_owner_email: str | None = None  # the owning record's owner (ours in flight included)

    def held(self, record: PersonRecord, name: str) -> Any:
        """The record's `name` as the CRM will hold it once Handoff's own writes land."""
        ours = self.intended.get((record.connection, record.crm_id))
        if ours is not None and name in ours:
            return ours[name]
        return record.fields.get(name)

    def settle(
        self,
        intended: dict[tuple[str, str], dict[str, Any]],
        owners: OwnerBook,
        last: LastAssignment | None = None,
    ) -> None:
        """Read stage and owner through Handoff's own unconfirmed writes, and keep Handoff's last
        owner decision while the owning record still holds the owner that decision overrode
        (a record whose owner Handoff cannot write, or a write the CRM refused)."""
        self.intended = intended
        stage = owner = None
        for record in self.records:
            if record.connection == self.lifecycle_from and self.held(record, "lifecycle_stage"):
                stage = str(self.held(record, "lifecycle_stage"))
            if record.connection == self.owner_from and self.held(record, "owner_id"):
                owner = owners.email_for(record.connection, self.held(record, "owner_id"))
        if self.converted and (
            stage not in STAGES or STAGES.index(stage) < STAGES.index(CONVERTED_STAGE)
        ):
            stage = CONVERTED_STAGE  # a converted lead became a contact with an opportunity
        self.source_owner_email = owner
        if last is not None and owner != last.owner_email and owner == last.source_owner_email:
            owner = last.owner_email  # the owning record has not moved since Handoff decided
        self.stage = stage
        if self.contact.fields.get("lifecycle_stage") != stage:
            self.contact = replace(
                self.contact, fields={**self.contact.fields, "lifecycle_stage": stage}
            )
        self.owner_email = owner
        self.owner_active = owners.is_active(owner)

    @property
    def rejected(self) -> bool:
        return self.stage in REJECTION_STAGES

    @property
    def rejection_code_valid(self) -> bool:
        return bool(self.contact.fields.get("rejection_reason"))

    @property
    def summary_line(self) -> str:
        f = self.contact.fields
        who = " ".join(str(f.get(k) or "") for k in ("first_name", "last_name")).strip()
        return f"{who or self.contact.email or self.key} · {f.get('title') or '?'} at {f.get('company') or '?'}"

    def write_targets(self) -> list[PersonRecord]:
        """The records Handoff writes: per connection, a Contact is preferred over a Lead."""
        best: dict[str, PersonRecord] = {}
        for record in self.records:
            current = best.get(record.connection)
            if current is None or (
                current.object_type == "lead" and record.object_type == "contact"
            ):
                best[record.connection] = record
        return [best[name] for name in sorted(best)]

    def routing_lead(self) -> RoutingLead:
        f = self.contact.fields
        size = f.get("company_size")
        return RoutingLead(
            key=self.key,
            country=_text(f.get("country")),
            state=_text(f.get("state")),
            region=_text(f.get("region")),
            industry=_text(f.get("industry")),
            company_size=int(size) if isinstance(size, int | float) else None,
            company_domain=_text(f.get("company_domain")) or _domain(self.contact.email),
            current_owner_email=self.owner_email if self.owner_active else None,
            account_owner_email=self.account_owner_email,
            source_owner_email=self.source_owner_email,
            account_label=self.account_label,
            account_note=self.account_note,
            fields=f,
        )


def crm_account_owner(
    records: list[PersonRecord], owners: OwnerBook, owner_from: str
) -> tuple[str | None, str | None, str | None]:
    """(owner email, account label, note) from the company/account the CRM links the person to
    (connectors/accounts.py): the owner-of-record connection first. The owner may be inactive:
    the router says so and falls through to the territory."""
    notes: list[str] = []
    for record in sorted(records, key=lambda r: r.connection != owner_from):
        fields = record.fields
        source = fields.get("account_source")
        if not source:
            continue  # the lookup did not run for this record (or is switched off)
        name = fields.get("account_name") or fields.get("account_id")
        label = f"{name} ({source})"
        owner_id = fields.get("account_owner_id")
        if not fields.get("account_id"):
            notes.append(f"no {source} linked")
        elif not owner_id:
            notes.append(f"{label} has no owner")
        elif (email := owners.email_for(record.connection, owner_id)) is None:
            notes.append(
                f"{label} is owned by {owner_id}, not a {record.connection} user Handoff can "
                "assign (an integration user or a queue)"
            )
        else:
            return email, label, None
    return None, None, "; ".join(notes) or None


def guess_account_owner(view: PersonView, guesses: dict[str, str]) -> None:
    """The opt-in fallback (`routing.account_owner_from_contacts`): when the CRM names no account
    owner, the active owner most of the domain's people have."""
    domain = view.contact.fields.get("company_domain")
    if view.account_owner_email is None and domain:
        guess = guesses.get(str(domain).lower())
        if guess is not None:
            view.account_owner_email = guess
            view.account_label = f"{str(domain).lower()} (the owner most of its people have)"


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _domain(email: str | None) -> str | None:
    return email.rsplit("@", 1)[1].lower() if email and "@" in email else None


def account_owners(
    session: Session,
    owners: OwnerBook,
    shared_domains: frozenset[str],
    domains: Iterable[str] | None = None,
) -> dict[str, str]:
    """Company domain -> the active owner most of its people already have (the account owner).

    Free-mail and other shared domains are left out: gmail.com is nobody's account. With
    `domains`, only those domains' people are read (one person's decision: the whole store's
    were read and decoded for every fast-path decision: 3.2 s at 100,000 people)."""
    counts: dict[str, Counter[str]] = {}
    columns: tuple[Any, ...] = (PersonRecord.connection, PersonRecord.fields)
    query = sa_select(*columns).where(col(PersonRecord.status) == "active")
    if domains is not None:
        wanted = sorted({d.lower() for d in domains} - shared_domains)
        if not wanted:
            return {}
        domain_field = func.lower(PersonRecord.fields["company_domain"].as_string())  # type: ignore[index]
        query = query.where(domain_field.in_(wanted))
    rows = session.execute(query)
    for connection, fields in rows:
        domain = _text(fields.get("company_domain"))
        email = owners.email_for(connection, fields.get("owner_id"))
        if domain and email and owners.is_active(email):
            domain = domain.lower()
            if domain not in shared_domains:
                counts.setdefault(domain, Counter())[email] += 1
    return {
        domain: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for domain, c in counts.items()
    }


def load_people(
    session: Session,
    keys: list[str],
    config: HandoffConfig,
    owners: OwnerBook,
    *,
    with_activities: bool = True,
) -> dict[str, PersonView]:
    """Every person in `keys` with their active records and (unless told not to) activities."""
    records_by_key: dict[str, list[PersonRecord]] = {}
    converted: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for record in session.exec(
            select(PersonRecord).where(key_in(col(PersonRecord.person_key), chunk))
        ).all():
            if record.status == "active":
                records_by_key.setdefault(record.person_key, []).append(record)
            elif record.status == "converted":
                converted.add(record.person_key)
    ids: dict[str, list[str]] = {}  # by connection: the index is (connection, contact_id)
    for records in records_by_key.values() if with_activities else ():
        for r in records:
            ids.setdefault(r.connection, []).append(r.crm_id)
    activities: dict[tuple[str, str], list[Activity]] = {}
    for connection, crm_ids in sorted(ids.items()):
        for activity in read_activities(session, connection, crm_ids):
            activities.setdefault((connection, activity.contact_id), []).append(activity)
    order = [c.name for c in config.connections]
    return {
        key: _view(key, records, activities, config, owners, order, key in converted)
        for key, records in records_by_key.items()
    }


def load_person(
    session: Session, key: str, config: HandoffConfig, owners: OwnerBook
) -> PersonView | None:
    return load_people(session, [key], config, owners).get(key)


def _view(
    key: str,
    records: list[PersonRecord],
    activities_by_record: dict[tuple[str, str], list[Activity]],
    config: HandoffConfig,
    owners: OwnerBook,
    order: list[str],
    converted: bool = False,
) -> PersonView:
    records.sort(key=lambda r: (r.connection, r.object_type != "contact", r.crm_id))
    lifecycle_from = config.sync.lifecycle_owner or order[0]
    owner_from = config.sync.owner_owner or order[0]
    merged: dict[str, Any] = {}
    for record in sorted(
        records, key=lambda r: order.index(r.connection) if r.connection in order else 99
    ):
        for name, value in record.fields.items():
            if merged.get(name) in (None, "") and value not in (None, ""):
                merged[name] = value
    primary = records[0]
    contact = Contact(
        connection=primary.connection,
        object_type=primary.object_type,
        id=primary.crm_id,
        modified_at=max(r.modified_at for r in records),
        fields=merged,
        created_at=primary.created_at,
    )
    activities = sorted(
        (a for r in records for a in activities_by_record.get((r.connection, r.crm_id), [])),
        key=lambda a: (a.occurred_at, a.connection, a.id),
    )
    account_owner, account_label, account_note = crm_account_owner(records, owners, owner_from)
    view = PersonView(
        key=key,
        records=records,
        contact=contact,
        activities=activities,
        owner_email=None,
        owner_active=False,
        stage=None,
        source_modified_at=contact.modified_at,
        lifecycle_from=lifecycle_from,
        owner_from=owner_from,
        converted=converted,
        account_owner_email=account_owner,
        account_label=account_label,
        account_note=account_note,
    )
    view.settle({}, owners)
    return view


def _by_precedence(config: HandoffConfig, person: PersonView) -> list[PersonRecord]:
    order = [c.name for c in config.connections]
    return sorted(
        person.records, key=lambda r: order.index(r.connection) if r.connection in order else 99
    )


def _mapping(config: HandoffConfig, record: PersonRecord, name: str) -> Any:
    for connection in config.connections:
        if connection.name == record.connection:
            return connection.objects.get(record.object_type, {}).get(name)
    return None


def rejection_reason(config: HandoffConfig, person: PersonView) -> str | None:
    """The rejection code sales left on the person: none while the field holds a status of a
    lead being worked (`lifecycle.working_statuses`, e.g. HubSpot's NEW or CONNECTED)."""
    working = {normalise_code(s) for s in config.lifecycle.working_statuses}
    for record in _by_precedence(config, person):
        value = record.fields.get("rejection_reason")
        if value not in (None, "") and normalise_code(str(value)) not in working:
            return str(value)
    return None


def current_stage(config: HandoffConfig, person: PersonView, decided: str | None) -> str:
    """The CRM's stage; the one Handoff decided where the two share one CRM value (HubSpot's
    `other` is both recycled and disqualified, and reads back as the first listed); an MQL
    whose lead status says sales accepted it (`lifecycle.accepted_statuses`) is a SAL."""
    stage = _crm_stage(config, person, decided)
    if stage == "mql" and _status_in(config, person, config.lifecycle.accepted_statuses):
        return "sal"
    return stage


def _status_in(config: HandoffConfig, person: PersonView, statuses: list[str]) -> bool:
    wanted = {normalise_code(s) for s in statuses}
    return bool(wanted) and any(
        normalise_code(str(value)) in wanted
        for record in _by_precedence(config, person)
        if (value := record.fields.get("rejection_reason")) not in (None, "")
    )


def _crm_stage(config: HandoffConfig, person: PersonView, decided: str | None) -> str:
    if not person.stage or not decided or person.stage == decided:
        return person.stage or decided or "lead"
    for record in person.records:
        if record.connection == person.lifecycle_from:
            mapping = _mapping(config, record, "lifecycle_stage")
            if mapping is not None and same_in_crm(mapping, person.stage, decided):
                return decided
    return person.stage
