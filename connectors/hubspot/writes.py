"""Writing fields to HubSpot: batch updates that read every item's outcome (tasks: `tasks.py`).

Field updates go through `batch/update`, 100 inputs a call, one input per record (all of a
record's changed fields together). A 2xx is never taken for success: each input is APPLIED only
when its id is among `results`; a 207's `errors[].context.ids` reject their inputs with the CRM's
message; an input missing from both is UNKNOWN. A whole batch refused with a 400 is bisected
(`connectors.bisection`) so the good records land and the bad one is quarantined with its reason.
Values equal to what Handoff believes the CRM holds (`FieldChange.previous`) are not sent.
`clear_first` changes (lifecycle regressions) are cleared ("") in one request, then set in the next.
A write of several batches sends up to four at once (the rate limiter paces them).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.bisection import BatchRejected, land
from connectors.errors import SkippableError, UnknownOutcomeError
from connectors.hubspot.transport import HubSpotRejected, HubSpotTransport, read_json
from connectors.mapping import FieldCodec, parse_timestamp
from connectors.records import FieldChange, OutcomeStatus, WriteOutcome

BATCH = 100
SENDERS = 8  # batch updates in flight at once (a 2,000-record chunk: 20 batches, 3 rounds)


def error_ids(error: Mapping[str, Any]) -> list[str]:
    context = error.get("context") or {}
    ids = context.get("ids") or context.get("id") or []
    return [str(i) for i in ids]


def error_text(error: Mapping[str, Any]) -> str:
    message = str(error.get("message", "rejected"))
    category = error.get("category")
    return f"{category}: {message}"[:500] if category else message[:500]


def send_batch(call: Callable[[], Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """One batch request: its parsed answer and the inputs its 207 refused (input key -> why).
    A whole batch refused (400) raises `BatchRejected` with the inputs it names, for bisection."""
    try:
        page = read_json(call())
    except HubSpotRejected as exc:
        culprits = [i for e in exc.body.get("errors", []) or [] for i in error_ids(e)]
        raise BatchRejected(str(exc.args[0]), culprits + error_ids(exc.body)) from None
    refused = {key: error_text(e) for e in page.get("errors") or [] for key in error_ids(e)}
    return page, refused


@dataclass
class _Plan:
    clears: dict[str, dict[str, str]] = field(default_factory=dict)  # record -> props to ""
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)  # record -> props
    members: dict[str, list[int]] = field(default_factory=dict)  # record -> change indexes


class FieldWriter:
    def __init__(self, transport: HubSpotTransport, codecs: Mapping[str, FieldCodec]) -> None:
        self._t = transport
        self._codecs = codecs
        self._batch = transport.client.crm.contacts.batch_api
        self.calls = 0
        self.stamps: dict[str, datetime] = {}  # record id -> its modified time after our write
        self._pool = ThreadPoolExecutor(max_workers=SENDERS, thread_name_prefix="hs-write")

    def apply(self, changes: Sequence[FieldChange]) -> list[WriteOutcome]:
        outcomes: dict[int, WriteOutcome] = {}
        plans: dict[str, _Plan] = {}
        for index, change in enumerate(changes):
            codec = self._codecs.get(change.object_type)
            if codec is None:
                outcomes[index] = WriteOutcome(
                    change.key,
                    OutcomeStatus.REJECTED,
                    f"object '{change.object_type}' is not mapped for this connection",
                )
                continue
            try:
                prop = codec.property_for(change.field)
                value = codec.encode(change.field, change.value, change.record_id)
                if change.previous is not None and not change.clear_first:
                    held = codec.encode(change.field, change.previous, change.record_id)
                    if codec.same(change.field, change.value, held):
                        outcomes[index] = WriteOutcome(
                            change.key, OutcomeStatus.UNCHANGED, crm_id=change.record_id
                        )
                        continue
            except SkippableError as exc:
                outcomes[index] = WriteOutcome(change.key, OutcomeStatus.REJECTED, str(exc))
                continue
            plan = plans.setdefault(change.object_type, _Plan())
            if change.clear_first:
                plan.clears.setdefault(change.record_id, {})[prop] = ""
            plan.sets.setdefault(change.record_id, {})[prop] = value
            plan.members.setdefault(change.record_id, []).append(index)
        for plan in plans.values():
            self._run(plan, changes, outcomes)
        return [outcomes[i] for i in range(len(changes))]

    def _run(
        self, plan: _Plan, changes: Sequence[FieldChange], outcomes: dict[int, WriteOutcome]
    ) -> None:
        blocked: dict[str, str] = {}
        if plan.clears:
            cleared = self._send_all(plan.clears)
            blocked = {rid: why for rid, why in cleared.items() if why is not None}
        sets = {rid: props for rid, props in plan.sets.items() if rid not in blocked}
        results = self._send_all(sets) if sets else {}
        for record_id, indexes in plan.members.items():
            self._outcomes(record_id, indexes, blocked, results, changes, outcomes)
        self.stamps.clear()

    def _outcomes(
        self,
        record_id: str,
        indexes: Sequence[int],
        blocked: Mapping[str, str],
        results: Mapping[str, str | None],
        changes: Sequence[FieldChange],
        outcomes: dict[int, WriteOutcome],
    ) -> None:
        reason = blocked.get(record_id)
        for index in indexes:
            key = changes[index].key
            if reason is not None:
                outcomes[index] = WriteOutcome(key, OutcomeStatus.REJECTED, f"clearing: {reason}")
                continue
            verdict = results.get(record_id, "no answer for this input")
            if verdict is None:
                outcomes[index] = WriteOutcome(
                    key,
                    OutcomeStatus.APPLIED,
                    crm_id=record_id,
                    modified_at=self.stamps.get(record_id),
                )
            elif verdict.startswith("unknown:"):
                outcomes[index] = WriteOutcome(key, OutcomeStatus.UNKNOWN, verdict[8:])
            else:
                outcomes[index] = WriteOutcome(key, OutcomeStatus.REJECTED, verdict)

    def _send_all(self, inputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
        """record id -> None (applied) or the reason it was not. Batches go out side by side
        (`SENDERS` at a time; the rate limiter still paces them): each waits on HubSpot's
        answer, and the decisions behind them wait on all of them."""
        ids = list(inputs)
        chunks = [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]
        if len(chunks) <= 1:
            return self._land_chunk(inputs, ids) if ids else {}
        context = contextvars.copy_context()  # each call logs with the job's context
        verdicts: dict[str, str | None] = {}
        for landed in self._pool.map(
            lambda chunk: context.copy().run(self._land_chunk, inputs, chunk), chunks
        ):
            verdicts.update(landed)
        return verdicts

    def _land_chunk(
        self, inputs: Mapping[str, Mapping[str, Any]], chunk: list[str]
    ) -> dict[str, str | None]:
        answered: dict[str, str | None] = {}

        def send(batch: Sequence[str]) -> dict[str, str]:
            body = {"inputs": [{"id": rid, "properties": dict(inputs[rid])} for rid in batch]}
            self.calls += 1
            page, errors = send_batch(
                lambda: self._batch.update(
                    batch_input_simple_public_object_batch_input=body, _preload_content=False
                )
            )
            applied = set()
            for result in page.get("results", []) or []:
                rid = str(result.get("id"))
                applied.add(rid)
                stamp = (result.get("properties") or {}).get("lastmodifieddate") or result.get(
                    "updatedAt"
                )
                if stamp:
                    self.stamps[rid] = parse_timestamp(stamp)
            for rid in batch:
                if rid in applied and rid not in errors:
                    answered[rid] = None
                elif rid not in errors:
                    answered[rid] = "unknown: HubSpot's answer did not mention this record"
            return errors

        try:
            landing = land(chunk, send)
        except UnknownOutcomeError as exc:  # pragma: no cover - batch/update is idempotent
            return {rid: f"unknown: {exc}" for rid in chunk}
        verdicts: dict[str, str | None] = {rid: answered.get(rid) for rid in landing.landed}
        verdicts.update(landing.rejected)
        return verdicts
