"""Follow-up Tasks, created at most once each.

Every Task carries its `Handoff_Task_Key__c`. Before creating, tasks marked `resend` (an earlier
attempt's outcome is unknown) are looked up by key; those found are UNCHANGED. The rest are
created through sObject Collections POST (<= 200 a call). A create whose answer is lost
(timeout, reset, 5xx: `UnknownOutcomeError` from the transport, which never resends a POST
blindly) is followed by a key lookup, and only the tasks still missing are sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce import Salesforce

from connectors.errors import UnknownOutcomeError
from connectors.records import OutcomeStatus, TaskRequest, WriteOutcome
from connectors.salesforce.collections import CollectionWriter
from connectors.salesforce.soql import chunks, in_list

TASK_KEY_FIELD = "Handoff_Task_Key__c"
_PRIORITIES = {"HIGH": "High", "MEDIUM": "Normal", "NORMAL": "Normal", "LOW": "Low"}
_CREATE_ROUNDS = 3


def task_record(task: TaskRequest) -> dict[str, Any]:
    return {
        "attributes": {"type": "Task"},
        "WhoId": task.record_id,
        "OwnerId": task.owner_id,
        "Subject": task.subject[:255],
        "Description": task.body[:32000],
        "ActivityDate": task.due_at.date().isoformat(),
        "Priority": _PRIORITIES.get(task.priority.upper(), "Normal"),
        "Status": "Not Started",
        TASK_KEY_FIELD: task.task_key,
    }


@dataclass
class TaskWriter:
    sf: Salesforce
    connection: str
    writer: CollectionWriter
    lookups: int = 0

    def existing(self, keys: Sequence[str]) -> dict[str, str]:
        """Task id by task key, for the keys already stored in Salesforce."""
        found: dict[str, str] = {}
        for chunk in chunks(list(dict.fromkeys(keys))):
            self.lookups += 1
            soql = (
                f"SELECT Id, {TASK_KEY_FIELD} FROM Task WHERE {TASK_KEY_FIELD} IN {in_list(chunk)}"
            )
            for raw in self.sf.query_all_iter(soql):
                found[str(raw[TASK_KEY_FIELD])] = str(raw["Id"])
        return found

    def create(self, tasks: Sequence[TaskRequest]) -> list[WriteOutcome]:
        first: dict[str, TaskRequest] = {}
        for task in tasks:
            first.setdefault(task.task_key, task)
        result: dict[str, WriteOutcome] = {}
        resend = [key for key, task in first.items() if task.resend]
        if resend:
            for key, crm_id in self.existing(resend).items():
                result[key] = WriteOutcome(key, OutcomeStatus.UNCHANGED, crm_id=crm_id)
        pending = [task for key, task in first.items() if key not in result]
        for batch in chunks(pending, self.writer.limit):
            result.update(self._create_batch(batch))
        return [result[task.task_key] for task in tasks]

    def _create_batch(self, batch: Sequence[TaskRequest]) -> dict[str, WriteOutcome]:
        out: dict[str, WriteOutcome] = {}
        pending = list(batch)
        reason = ""
        for _round in range(_CREATE_ROUNDS):
            try:
                saved = self.writer.write("POST", [task_record(t) for t in pending])
            except UnknownOutcomeError as exc:
                reason = str(exc)
                found = self.existing([t.task_key for t in pending])
                for key, crm_id in found.items():
                    out[key] = WriteOutcome(key, OutcomeStatus.APPLIED, crm_id=crm_id)
                pending = [t for t in pending if t.task_key not in found]
                if not pending:
                    return out
                continue
            duplicates: list[str] = []
            for task, result in zip(pending, saved, strict=True):
                if result.ok:
                    out[task.task_key] = WriteOutcome(
                        task.task_key, OutcomeStatus.APPLIED, crm_id=result.id
                    )
                elif result.status_code == "DUPLICATE_VALUE":
                    duplicates.append(task.task_key)
                else:
                    out[task.task_key] = WriteOutcome(
                        task.task_key, OutcomeStatus.REJECTED, result.error
                    )
            if duplicates:
                found = self.existing(duplicates)
                for key in duplicates:
                    out[key] = (
                        WriteOutcome(key, OutcomeStatus.UNCHANGED, crm_id=found[key])
                        if key in found
                        else WriteOutcome(key, OutcomeStatus.REJECTED, "DUPLICATE_VALUE")
                    )
            return out
        for task in pending:
            out[task.task_key] = WriteOutcome(
                task.task_key,
                OutcomeStatus.UNKNOWN,
                f"no answer after {_CREATE_ROUNDS} attempts ({reason}); look the key up first",
            )
        return out
