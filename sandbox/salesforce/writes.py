"""Validated writes: create, update and delete with Salesforce's per-record error codes.

Error codes and messages follow the REST API "Status Codes and Error Responses" and the SOAP API
StatusCode list: INVALID_FIELD (unknown field), INVALID_FIELD_FOR_INSERT_UPDATE (read-only field),
REQUIRED_FIELD_MISSING, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, INVALID_EMAIL_ADDRESS, MALFORMED_ID,
INVALID_CROSS_REFERENCE_KEY, INACTIVE_OWNER_OR_USER, ENTITY_IS_DELETED,
CANNOT_UPDATE_CONVERTED_LEAD, DUPLICATE_VALUE. A JSON value of the wrong type fails the whole request
with 400 JSON_PARSER_ERROR, as Salesforce's deserializer does. Writes go through a journal so an
allOrNone request can be rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sandbox.salesforce.errors import ApiError, RecordError
from sandbox.salesforce.ids import normalize, prefix_object
from sandbox.salesforce.org import SalesforceOrg, utc_ms
from sandbox.salesforce.predicates import Record
from sandbox.salesforce.schema import FieldSpec
from sandbox.salesforce.soql_lexer import parse_datetime

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_IGNORED_KEYS = frozenset({"attributes", "id"})
ACTIVITY_OBJECTS = ("Task", "Event", "CampaignMember")


def _json_error(kind: str, value: Any) -> ApiError:
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from VALUE_STRING value {value} or request may "
        "be missing a required field at [line:1, column:1]",
    )


@dataclass
class RecordWriter:
    """Applies validated writes to an org; the caller holds `org.lock` for a whole request."""

    org: SalesforceOrg
    failure_rules: dict[str, RecordError] = field(default_factory=dict)  # by 18-char id
    _journal: list[tuple[str, str, Record | None]] = field(default_factory=list)
    _log_mark: int = 0
    _change_mark: int | None = None

    # -- transactions (allOrNone) --------------------------------------------------------------
    def begin(self) -> None:
        self._journal.clear()
        self._log_mark = len(self.org.deleted_log)
        bus = self.org.change_bus
        self._change_mark = bus.mark() if bus is not None else None

    def rollback(self) -> None:
        for sobject, record_id, before in reversed(self._journal):
            if before is None:
                self.org.records[sobject].pop(record_id, None)
            else:
                self.org.records[sobject][record_id] = before
        del self.org.deleted_log[self._log_mark :]
        self.org.indexes.clear()
        self._journal.clear()
        bus = self.org.change_bus
        if bus is not None and self._change_mark is not None:
            bus.retract(self._change_mark)  # the rolled-back changes were never committed

    def _remember(self, sobject: str, record: Record) -> None:
        self._journal.append((sobject, record["Id"], dict(record)))

    # -- public operations ---------------------------------------------------------------------
    def create(self, sobject: str, body: dict[str, Any], at: datetime) -> Record:
        values = self.coerce(sobject, body, creating=True)
        obj = self.org.schema[sobject]
        missing = [
            f.name for f in obj.fields.values() if f.required and values.get(f.name) in (None, "")
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        if obj.get("OwnerId") is not None:
            values.setdefault("OwnerId", self.org.api_user_id)
        self._check_unique(sobject, values, None)
        if sobject == "CampaignMember":
            self._check_membership(values)
        record = self.org.insert(sobject, values, at=at)
        self._journal.append((sobject, record["Id"], None))
        self._after_write(sobject, record, {}, at)
        return record

    def update(
        self, sobject: str | None, record_id: Any, body: dict[str, Any], at: datetime
    ) -> Record:
        sobject, record = self.target(sobject, record_id)
        values = self.coerce(sobject, body, creating=False)
        if sobject == "Lead" and record["IsConverted"]:
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        self._check_unique(sobject, values, record["Id"])
        self._remember(sobject, record)
        before = dict(record)
        record.update(values)
        self.org.derive(sobject, record)
        self.org.touch(record, at)
        self._after_write(sobject, record, before, at)
        changed = [k for k, v in record.items() if before.get(k) != v]
        self.org.changed(sobject, "UPDATE", record, changed)
        return record

    def delete(self, sobject: str | None, record_id: Any, at: datetime) -> Record:
        sobject, record = self.target(sobject, record_id)
        if sobject == "User":
            raise RecordError("CANNOT_DELETE_OWNER", "Users cannot be deleted")
        self._remember(sobject, record)
        self.org.mark_deleted(sobject, record, at)
        return record

    def target(self, sobject: str | None, record_id: Any) -> tuple[str, Record]:
        """The live record an update/delete addresses, or the per-record error Salesforce gives."""
        label = sobject or "Record"
        if not isinstance(record_id, str) or normalize(record_id) is None:
            raise RecordError(
                "MALFORMED_ID", f"{label} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        found = self.org.find(record_id)
        if found is None or (sobject is not None and found[0] != sobject):
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        kind, record = found
        if record.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [])
        rule = self.failure_rules.get(record["Id"])
        if rule is not None:
            raise RecordError(rule.status_code, rule.message, list(rule.fields))
        return kind, record

    # -- validation ----------------------------------------------------------------------------
    def coerce(self, sobject: str, body: dict[str, Any], *, creating: bool) -> Record:
        obj = self.org.schema[sobject]
        values: Record = {}
        read_only: list[str] = []
        for key, raw in body.items():
            if key.lower() in _IGNORED_KEYS:
                continue
            spec = obj.get(key)
            if spec is None:
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject}", [key]
                )
            if not (spec.createable if creating else spec.updateable):
                read_only.append(spec.name)
                continue
            values[spec.name] = self._value(sobject, spec, raw)
        if read_only:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                read_only,
            )
        return values

    def _value(self, sobject: str, spec: FieldSpec, raw: Any) -> Any:
        kind, name = spec.type, spec.name
        if raw is None or raw == "":  # Salesforce stores empty text as null
            if spec.required:
                raise RecordError(
                    "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{name}]", [name]
                )
            if spec.restricted:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{name}: bad value for restricted picklist field: null",
                    [name],
                )
            return False if kind == "boolean" else None
        if kind == "boolean":
            if not isinstance(raw, bool):
                raise _json_error("boolean", raw)
            return raw
        if kind == "int":
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
                raise _json_error("int", raw)
            return int(raw)
        if kind in ("double", "currency", "percent"):
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise _json_error("double", raw)
            return float(raw)
        if kind in ("datetime", "date"):
            try:
                if kind == "datetime":
                    return utc_ms(parse_datetime(str(raw)))
                return date.fromisoformat(str(raw)[:10])
            except ValueError:
                raise _json_error(kind, raw) from None
        if isinstance(raw, dict | list):
            raise _json_error("String", raw)
        value = str(raw) if not isinstance(raw, bool) else str(raw).lower()
        if kind == "email" and not _EMAIL.match(value):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS", f"{name}: invalid email address: {value}", [name]
            )
        if kind == "picklist" and spec.restricted and value not in spec.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{name}: bad value for restricted picklist field: {value}",
                [name],
            )
        if kind == "reference":
            return self._reference(sobject, spec, value)
        return value

    def _reference(self, sobject: str, spec: FieldSpec, value: str) -> str:
        full = normalize(value)
        if full is None or prefix_object(full) not in spec.reference_to:
            raise RecordError(
                "FIELD_INTEGRITY_EXCEPTION" if full else "MALFORMED_ID",
                f"{spec.name}: id value of incorrect type: {value}",
                [spec.name],
            )
        found = self.org.find(full)
        if found is None:
            raise RecordError(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [spec.name]
            )
        kind, target = found
        if target.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [spec.name])
        if kind == "User" and not target["IsActive"]:
            raise RecordError(
                "INACTIVE_OWNER_OR_USER",
                f"operation performed with inactive user [{full}] as owner of {sobject.lower()}",
                [],
            )
        return full

    def _check_unique(self, sobject: str, values: Record, own_id: str | None) -> None:
        for spec in self.org.schema[sobject].fields.values():
            value = values.get(spec.name)
            if not spec.external_id or value is None:
                continue
            for other in self.org.live(sobject):
                other_value = other.get(spec.name)
                if other["Id"] != own_id and other_value and other_value.lower() == value.lower():
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {spec.name} duplicates value on record with id: "
                        f"{other['Id']}",
                        [],
                    )

    def _check_membership(self, values: Record) -> None:
        person = values.get("ContactId") or values.get("LeadId")
        if person is None:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [LeadOrContactId]", []
            )
        for member in self.org.live("CampaignMember"):
            if member["CampaignId"] == values["CampaignId"] and person in (
                member["LeadId"],
                member["ContactId"],
            ):
                raise RecordError("DUPLICATE_VALUE", "Already a campaign member.", [])

    # -- side effects --------------------------------------------------------------------------
    def _after_write(self, sobject: str, record: Record, before: Record, at: datetime) -> None:
        if sobject == "Task" and record["IsClosed"] and not before.get("IsClosed"):
            record["CompletedDateTime"] = record.get("CompletedDateTime") or at
        if sobject == "Event" and record.get("StartDateTime") is not None:
            record["ActivityDateTime"] = record["StartDateTime"]
            record["ActivityDate"] = record["StartDateTime"].date()
        if sobject in ACTIVITY_OBJECTS:
            self.bump_person(sobject, record, at)

    def bump_person(self, sobject: str, record: Record, at: datetime) -> None:
        """A new/changed Task, Event or CampaignMember touches its Lead/Contact: SystemModstamp
        moves (system update) and, for Task/Event, LastActivityDate (Lead/Contact reference)."""
        if sobject == "CampaignMember":
            who = record.get("ContactId") or record.get("LeadId")
        else:
            who = record.get("WhoId")
        found = self.org.find(who) if who else None
        if found is None:
            return
        kind, person = found
        self._remember(kind, person)
        self.org.touch(person, at, user=False)
        if sobject == "CampaignMember":
            record["FirstName"], record["LastName"] = person["FirstName"], person["LastName"]
            record["Email"], record["LeadOrContactOwnerId"] = person["Email"], person["OwnerId"]
            record["CompanyOrAccount"] = person.get("Company")
            if record["HasResponded"] and record.get("FirstRespondedDate") is None:
                record["FirstRespondedDate"] = at.date()
            return
        if kind == "Contact" and sobject == "Task":
            record["AccountId"] = person.get("AccountId")
        day = record.get("ActivityDate") or at.date()
        if person.get("LastActivityDate") is None or person["LastActivityDate"] < day:
            person["LastActivityDate"] = day
