"""Field writes (sObject Collections PATCH) and reads of current values (SOQL by Id).

Changes to the same record are sent as one record (Salesforce saves a record whole, so they
share its outcome); records go 200 to a call, mixed Lead and Contact; above
`salesforce.bulk_threshold` records they go through Bulk API 2.0 update jobs instead. Values go through the
connection's `FieldCodec` (JSON wire): Lead `Status` through `FieldMapping.values`, owners as
`OwnerId`. A value the codec cannot encode is rejected on its own and never sent; a value the
CRM is known to hold already (`FieldChange.previous`) is UNCHANGED without a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce

from connectors.errors import SkippableError
from connectors.mapping import FieldCodec
from connectors.records import FieldChange, OutcomeStatus, WriteOutcome
from connectors.salesforce.bulk import BulkUpdater
from connectors.salesforce.collections import CollectionWriter, Saved
from connectors.salesforce.pull import SOBJECTS
from connectors.salesforce.soql import chunks, in_list, select

UNPROCESSED = "UNPROCESSED"


@dataclass
class FieldWriter:
    sf: Salesforce
    connection: str
    codecs: Mapping[str, FieldCodec]
    writer: CollectionWriter
    bulk: BulkUpdater | None = None
    bulk_threshold: int = 2000

    def apply(self, changes: Sequence[FieldChange]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome | None] = [None] * len(changes)
        records: dict[tuple[str, str], dict[str, Any]] = {}
        members: dict[tuple[str, str], list[int]] = {}
        for index, change in enumerate(changes):
            codec = self.codecs.get(change.object_type)
            if codec is None:
                outcomes[index] = WriteOutcome(
                    change.key,
                    OutcomeStatus.REJECTED,
                    f"object '{change.object_type}' is not mapped for connection "
                    f"'{self.connection}': add it under connections[].objects",
                )
                continue
            try:
                prop = codec.property_for(change.field)
                value = codec.encode(change.field, change.value, change.record_id)
            except SkippableError as exc:
                outcomes[index] = WriteOutcome(change.key, OutcomeStatus.REJECTED, str(exc))
                continue
            if self._already_held(codec, change, value):
                outcomes[index] = WriteOutcome(
                    change.key, OutcomeStatus.UNCHANGED, crm_id=change.record_id
                )
                continue
            ident = (change.object_type, change.record_id)
            record = records.setdefault(
                ident,
                {"attributes": {"type": SOBJECTS[change.object_type]}, "id": change.record_id},
            )
            record[prop] = value
            members.setdefault(ident, []).append(index)
        order = list(records)
        if self.bulk is not None and len(order) > self.bulk_threshold:
            saved = self._bulk(order, records)
        else:
            saved = self.writer.write("PATCH", [records[ident] for ident in order])
        for ident, result in zip(order, saved, strict=True):
            status = (
                OutcomeStatus.APPLIED
                if result.ok
                else OutcomeStatus.UNKNOWN
                if result.status_code == UNPROCESSED
                else OutcomeStatus.REJECTED
            )
            for index in members[ident]:
                outcomes[index] = WriteOutcome(
                    changes[index].key, status, result.error, crm_id=ident[1]
                )
        return [outcome for outcome in outcomes if outcome is not None]

    def _bulk(
        self, order: Sequence[tuple[str, str]], records: Mapping[tuple[str, str], dict[str, Any]]
    ) -> list[Saved]:
        """One Bulk API 2.0 update job per object; records the job did not process are unknown."""
        assert self.bulk is not None
        by_id: dict[tuple[str, str], Saved] = {}
        for object_type in dict.fromkeys(ident[0] for ident in order):
            group = [ident for ident in order if ident[0] == object_type]
            results = self.bulk.update(SOBJECTS[object_type], [records[i] for i in group])
            for ident in group:
                by_id[ident] = results.get(ident[1]) or Saved(
                    False,
                    error="not processed by the bulk job: send it again",
                    status_code=UNPROCESSED,
                )
        return [by_id[ident] for ident in order]

    @staticmethod
    def _already_held(codec: FieldCodec, change: FieldChange, encoded: Any) -> bool:
        """The CRM is known to hold the value (`previous`), so nothing needs sending."""
        if change.previous is None or change.clear_first:
            return False
        try:
            return bool(codec.encode(change.field, change.previous, change.record_id) == encoded)
        except SkippableError:
            return False

    def read(
        self, object_type: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        codec = self.codecs.get(object_type)
        if codec is None or not ids:
            return {}
        props = [codec.property_for(name) for name in fields]
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(list(dict.fromkeys(ids))):
            soql = f"{select(['Id', *props])} FROM {SOBJECTS[object_type]} WHERE Id IN {in_list(chunk)}"
            for raw in self.sf.query_all_iter(soql):
                record_id = str(raw["Id"])
                found[record_id] = {
                    name: codec.decode_value(name, raw.get(prop), record_id)
                    for name, prop in zip(fields, props, strict=True)
                }
        return found
