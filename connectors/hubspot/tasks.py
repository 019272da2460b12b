"""HubSpot tasks: created 100 a call, each at most once.

Tasks go through `batch/create`. Each input carries its idempotency key twice: as the
`handoff_task_key` property (so the task can be found again) and as `objectWriteTraceId` (so a
207's `errors[].context.ids` name the task they refuse). A task is APPLIED only when a result
holds its key; a whole batch refused with a 400 is bisected (`connectors.bisection`) down to the
bad task. A resend (`TaskRequest.resend`: an earlier create's outcome was unknown) looks its keys
up first, 100 a search (`IN`), and creates only the tasks that are not there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.bisection import land
from connectors.errors import UnknownOutcomeError
from connectors.hubspot.transport import HubSpotRejected, HubSpotTransport, read_json
from connectors.hubspot.writes import BATCH, send_batch
from connectors.mapping import format_timestamp
from connectors.records import OutcomeStatus, TaskRequest, WriteOutcome

TASK_KEY = "handoff_task_key"
TASK_TO_CONTACT = 204  # HUBSPOT_DEFINED task -> contact


def _hint(reason: str) -> str:
    if TASK_KEY in reason:
        return f"{reason} (run `handoff crm setup` to create the task key property)"
    return reason


class TaskWriter:
    def __init__(self, transport: HubSpotTransport) -> None:
        tasks = transport.client.crm.objects.tasks
        self._batch = tasks.batch_api
        self._search = tasks.search_api

    def create(self, tasks: Sequence[TaskRequest]) -> list[WriteOutcome]:
        outcomes: dict[str, WriteOutcome] = {}
        try:
            found = self.find([t.task_key for t in tasks if t.resend])
        except HubSpotRejected as exc:  # e.g. the key property is missing: nothing can be sent
            return [
                WriteOutcome(t.task_key, OutcomeStatus.REJECTED, _hint(str(exc))) for t in tasks
            ]
        todo: dict[str, TaskRequest] = {}
        for task in tasks:
            existing = found.get(task.task_key.lower())
            if existing is not None:
                outcomes[task.task_key] = WriteOutcome(
                    task.task_key, OutcomeStatus.UNCHANGED, crm_id=existing
                )
            else:
                todo[task.task_key] = task
        keys = list(todo)
        for start in range(0, len(keys), BATCH):
            outcomes.update(self._create({k: todo[k] for k in keys[start : start + BATCH]}))
        return [outcomes[t.task_key] for t in tasks]

    def find(self, task_keys: Sequence[str]) -> dict[str, str]:
        """Task id by (lower-cased) key, for the keys that exist; 100 keys a search."""
        found: dict[str, str] = {}
        keys = sorted({k.lower() for k in task_keys})  # IN takes lower-case string values
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            request = {
                "filterGroups": [
                    {"filters": [{"propertyName": TASK_KEY, "operator": "IN", "values": chunk}]}
                ],
                "properties": [TASK_KEY],
                "limit": 200,
            }
            page = read_json(
                self._search.do_search(public_object_search_request=request, _preload_content=False)
            )
            for raw in page.get("results") or []:
                key = str((raw.get("properties") or {}).get(TASK_KEY) or "").lower()
                if key:
                    found.setdefault(key, str(raw["id"]))
        return found

    def _create(self, tasks: dict[str, TaskRequest]) -> dict[str, WriteOutcome]:
        created: dict[str, str] = {}  # key -> task id, from results

        def send(keys: Sequence[str]) -> dict[str, str]:
            body = {"inputs": [_input(tasks[k]) for k in keys]}
            page, refused = send_batch(
                lambda: self._batch.create(
                    batch_input_simple_public_object_batch_input_for_create=body,
                    _preload_content=False,
                )
            )
            for result in page.get("results") or []:
                key = str((result.get("properties") or {}).get(TASK_KEY) or "")
                if key in tasks:
                    created[key] = str(result.get("id"))
            return refused

        try:
            landing = land(list(tasks), send)
        except UnknownOutcomeError as exc:  # sent, answer lost: a resend looks the keys up
            return {
                key: WriteOutcome(key, OutcomeStatus.APPLIED, crm_id=created[key])
                if key in created
                else WriteOutcome(key, OutcomeStatus.UNKNOWN, str(exc))
                for key in tasks
            }
        outcomes = {
            key: WriteOutcome(key, OutcomeStatus.REJECTED, _hint(reason))
            for key, reason in landing.rejected.items()
        }
        for key in landing.landed:
            outcomes[key] = (
                WriteOutcome(key, OutcomeStatus.APPLIED, crm_id=created[key])
                if key in created
                else WriteOutcome(
                    key, OutcomeStatus.UNKNOWN, "HubSpot's answer did not mention this task"
                )
            )
        return outcomes


def _input(task: TaskRequest) -> dict[str, Any]:
    return {
        "properties": {
            "hs_timestamp": format_timestamp(task.due_at),
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hubspot_owner_id": task.owner_id,
            "hs_task_priority": task.priority.upper(),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
            TASK_KEY: task.task_key,
        },
        "associations": [
            {
                "to": {"id": task.record_id},
                "types": [
                    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}
                ],
            }
        ],
        "objectWriteTraceId": task.task_key,
    }
