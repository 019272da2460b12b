"""Incremental pull of Leads and Contacts with SOQL, plus deletes, merges and conversions.

- Window: `SystemModstamp >= since - overlap AND SystemModstamp <= until` (closed start, so
  records sharing the cursor's timestamp are read again rather than lost), `ORDER BY
  SystemModstamp, Id`; `since=None` is a full resync. Pages follow `nextRecordsUrl`
  (`query_all_iter`, up to 2,000 records per page); one `ContactBatch` per page so memory stays
  flat and the cursor can be committed page by page.
- Dedup by id among records sharing the newest timestamp (where a re-read can repeat one); the
  stream is sorted, so that is the only place a duplicate can sit.
- Cursor: the last key's timestamp, never below `since`, never above `until` (the run's start);
  the final batch carries `until` itself.
- A malformed value is dropped (the person is kept) and reported in `problems`.
- A converted Lead (`IsConverted`) is not a person any more: it becomes a CONVERTED event whose
  survivor is `ConvertedContactId`.
- Deletes: the window is read with `queryAll` (REST API "QueryAll": live and deleted records in
  one stream, with `IsDeleted`), so a deleted record comes in its place in the stream; one with a
  `MasterRecordId` lost a merge (MERGED, survivor = master), the others are DELETED. One query an
  object (the live-only query and a second `IsDeleted = true` query took two).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.accounts import domain_of
from connectors.base import ContactBatch
from connectors.errors import SkippableError
from connectors.mapping import FieldCodec, parse_timestamp
from connectors.records import Contact, RecordEvent, RecordEventKind
from connectors.salesforce.accounts import FIELD_REFUSALS, AccountReader
from connectors.salesforce.collections import describe_error
from connectors.salesforce.soql import datetime_literal, quote, select

SOBJECTS: dict[str, str] = {"lead": "Lead", "contact": "Contact"}
_SYSTEM_FIELDS = ("Id", "SystemModstamp", "CreatedDate", "IsDeleted", "MasterRecordId")
_LEAD_FIELDS = ("IsConverted", "ConvertedContactId", "ConvertedDate")
PAGE_SIZE = 2000
_REOPEN_ATTEMPTS = 3


@dataclass
class _Stream:
    """Dedups one pull's (SystemModstamp, Id)-sorted stream and tracks its cursor.

    Only the ids sharing the newest timestamp are remembered, so memory stays flat with N.
    """

    since: datetime | None
    until: datetime
    newest: datetime | None = None
    ids_at_newest: set[str] = field(default_factory=set)
    emitted: int = 0
    skipped: int = 0

    def accept(self, modified: datetime, record_id: str) -> bool:
        if self.newest is None or modified > self.newest:
            self.newest = modified
            self.ids_at_newest = {record_id}
        elif modified == self.newest:
            if record_id in self.ids_at_newest:
                self.skipped += 1
                return False
            self.ids_at_newest.add(record_id)
        self.emitted += 1
        return True

    def cursor(self, final: bool) -> datetime:
        moved = self.until if final or self.newest is None else min(self.newest, self.until)
        if self.since is not None and moved < self.since:
            return self.since
        return moved


@dataclass
class ContactPull:
    """One object type's pull (`lead` or `contact`) against one Salesforce org."""

    sf: Salesforce
    connection: str
    object_type: str
    codec: FieldCodec
    overlap: timedelta
    page_size: int = PAGE_SIZE
    problems: list[SkippableError] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    accounts: AccountReader | None = None  # a Contact's Account; a Lead's website for matching
    _website: str | None = None

    @property
    def sobject(self) -> str:
        return SOBJECTS[self.object_type]

    def soql(
        self, since: datetime | None, until: datetime, *, lower: datetime | None = None
    ) -> str:
        """The live-record query; `lower` (a resume point) replaces `since - overlap`."""
        fields = [*_SYSTEM_FIELDS, *self.codec.properties]
        if self.sobject == "Lead":
            fields += _LEAD_FIELDS
            self._website = self.accounts.lead_website_field() if self.accounts else None
            fields += [self._website] if self._website else []
        elif self.accounts is not None:
            fields += self.accounts.contact_select()
        start = lower if lower is not None else (since - self.overlap if since else None)
        where = self._window(start, until)
        return f"{select(fields)} FROM {self.sobject} WHERE {where} ORDER BY SystemModstamp, Id"

    @staticmethod
    def _window(start: datetime | None, until: datetime) -> str:
        upper = f"SystemModstamp <= {datetime_literal(until)}"
        if start is None:
            return upper
        return f"SystemModstamp >= {datetime_literal(start)} AND {upper}"

    def _records(self, since: datetime | None, until: datetime, stream: _Stream) -> Iterator[Any]:
        """The live records in order; a query cursor Salesforce dropped (INVALID_QUERY_LOCATOR:
        more than 10 open cursors, or it timed out) is reopened from the newest timestamp read,
        and the ids already read at that timestamp are skipped by the stream."""
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        lower: datetime | None = None
        attempt = 0
        while True:
            read = 0
            try:
                for raw in self.sf.query_all_iter(
                    self.soql(since, until, lower=lower), include_deleted=True, headers=headers
                ):
                    read += 1
                    yield raw
                return
            except SalesforceError as exc:
                code, _ = describe_error(exc)
                if (
                    code in FIELD_REFUSALS
                    and not read
                    and self.accounts
                    and self.accounts.recheck()
                ):
                    continue  # an account field the org lacks: sent again without it
                if code != "INVALID_QUERY_LOCATOR" or attempt == _REOPEN_ATTEMPTS:
                    raise
                attempt += 1
                lower = stream.newest if stream.newest is not None else lower

    def by_ids(self, ids: list[str]) -> list[Contact]:
        """These live records as a pull maps them (the change event fast path); deleted and
        converted ones are absent."""
        if not ids:
            return []
        until = datetime.max.replace(tzinfo=UTC)
        window = self.soql(None, until).split(" WHERE ", 1)[0]
        wanted = ", ".join(quote(i) for i in ids)
        found: list[Contact] = []
        for raw in self.sf.query_all_iter(f"{window} WHERE Id IN ({wanted})"):
            if not raw.get("IsConverted"):
                found.append(self._contact(raw, parse_timestamp(raw["SystemModstamp"])))
        return found

    def batches(self, since: datetime | None, until: datetime) -> Iterator[ContactBatch]:
        if since is not None and since > until:
            # a run starting before the saved cursor (clock skew): nothing to read, and the
            # cursor never moves backwards
            yield ContactBatch(self.object_type, [], [], since)
            return
        stream = _Stream(since=since, until=until)
        contacts: list[Contact] = []
        events: list[RecordEvent] = []
        for raw in self._records(since, until, stream):
            modified = parse_timestamp(raw["SystemModstamp"])
            if not stream.accept(modified, raw["Id"]):
                continue
            if raw.get("IsDeleted"):
                events.append(self._deleted(raw, modified))
            elif raw.get("IsConverted"):
                events.append(self._converted(raw, modified))
            else:
                contacts.append(self._contact(raw, modified))
            if len(contacts) + len(events) >= self.page_size:
                yield ContactBatch(self.object_type, contacts, events, stream.cursor(False))
                contacts, events = [], []
        self.stats = {"emitted": stream.emitted, "skipped_duplicates": stream.skipped}
        yield ContactBatch(self.object_type, contacts, events, stream.cursor(True))

    def _contact(self, raw: Mapping[str, Any], modified: datetime) -> Contact:
        record_id = str(raw["Id"])
        fields: dict[str, Any] = {}
        for name, mapping in self.codec.mappings.items():
            if mapping.property not in raw:
                continue
            try:
                fields[name] = self.codec.decode_value(name, raw[mapping.property], record_id)
            except SkippableError as exc:
                self.problems.append(exc)  # keep the person, drop the malformed value
        if self._website and fields.get("company_domain") in (None, ""):
            fields["company_domain"] = domain_of(raw.get(self._website))  # the lead's own site
        created = raw.get("CreatedDate")
        contact = Contact(
            connection=self.connection,
            object_type=self.object_type,
            id=record_id,
            modified_at=modified,
            fields=fields,
            created_at=parse_timestamp(created) if created else None,
        )
        if self.accounts is not None and self.sobject == "Contact":
            return self.accounts.for_contact(contact, dict(raw))
        return contact

    def _converted(self, raw: Mapping[str, Any], modified: datetime) -> RecordEvent:
        survivor = raw.get("ConvertedContactId")
        return RecordEvent(
            connection=self.connection,
            object_type=self.object_type,
            kind=RecordEventKind.CONVERTED,
            record_id=str(raw["Id"]),
            occurred_at=modified,
            survivor_id=str(survivor) if survivor else None,
            survivor_object_type="contact" if survivor else None,
        )

    def _deleted(self, raw: Mapping[str, Any], modified: datetime) -> RecordEvent:
        master = raw.get("MasterRecordId")
        return RecordEvent(
            connection=self.connection,
            object_type=self.object_type,
            kind=RecordEventKind.MERGED if master else RecordEventKind.DELETED,
            record_id=str(raw["Id"]),
            occurred_at=modified,
            survivor_id=str(master) if master else None,
            survivor_object_type=self.object_type if master else None,
        )
