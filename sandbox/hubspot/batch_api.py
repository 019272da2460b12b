"""`/crm/v3/objects/{objectType}/batch/{read,create,update,upsert,archive}`.

At most 100 inputs per request (else 400); 200/201 when every input worked, 207 with
`errors[]` (`StandardError` with `context.ids`) and `numErrors` when some failed (spec
`BatchResponseSimplePublicObjectWithErrors`; changelog "Simplifying batch update response
codes"). Upsert results carry `new`. `Knobs.batch_all_or_nothing` turns one bad input into a
400 for the whole request with nothing written.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx, flag
from sandbox.hubspot.forms_api import history_of
from sandbox.hubspot.objects_api import (
    body_of,
    checked_properties,
    create_one,
    object_type_of,
    shown_properties,
)
from sandbox.hubspot.schema import default_properties
from sandbox.hubspot.wire import (
    ApiError,
    batch_envelope,
    render_object,
    standard_error,
    validation_error,
)
from sandbox.server import SandboxRequest


def _inputs(ctx: Ctx, req: SandboxRequest) -> tuple[dict[str, Any], list[Any]]:
    body = body_of(req)
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("The batch body needs an inputs list.")
    inputs = body["inputs"]
    if len(inputs) > ctx.knobs.batch_max:
        raise validation_error(
            f"Too many inputs ({len(inputs)}): a batch takes at most {ctx.knobs.batch_max}; split it.",
            context={"inputs": [str(len(inputs))]},
        )
    for index, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise validation_error(f'inputs[{index}] must be an object, e.g. {{"id": "123"}}.')
    return body, inputs


def batch_read(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    body, inputs = _inputs(ctx, req)
    props = body.get("properties") or default_properties(object_type)
    with_history = body.get("propertiesWithHistory") or []
    if with_history and len(inputs) > ctx.knobs.history_batch_max:
        # HubSpot's own words, as reported in PipedreamHQ/pipedream#8462
        raise validation_error(
            "The maximum number of inputs supported in a batch request for property histories "
            f"is {ctx.knobs.history_batch_max}. Please reduce the number of items and try again"
        )
    id_property = body.get("idProperty")
    archived = flag(req, "archived")
    results, missing = [], []
    for item in inputs:
        key = str((item or {}).get("id"))
        obj = (
            ctx.store.find_by(object_type, id_property, key)
            if id_property
            else ctx.store.lookup(object_type, key, archived=archived)
        )
        if obj is None:
            missing.append(key)
        else:
            row = render_object(ctx.store, obj, props)
            if with_history:
                row["propertiesWithHistory"] = {
                    str(name): history_of(ctx.store, obj, str(name)) for name in with_history
                }
            results.append(row)
    errors = []
    if missing:
        errors.append(
            standard_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {object_type.upper()} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                missing,
            )
        )
    return batch_envelope(results, errors, ctx.now_ms)


def _problem_error(exc: ApiError, key: str) -> dict[str, Any]:
    return standard_error(exc.category, exc.message, [key], errors=exc.errors)


def _run_batch(ctx: Ctx, steps: list[tuple[str, Any]], *, created: bool) -> tuple[int, Any]:
    """Run per-input closures; collect per-input errors (or refuse all in all-or-nothing mode)."""
    results, errors = [], []
    if ctx.knobs.batch_all_or_nothing:
        for key, step in steps:
            try:
                step(True)
            except ApiError as exc:
                raise validation_error(
                    f"Input {key} is invalid, no input was written: {exc.message}",
                    errors=exc.errors,
                ) from None
    for key, step in steps:
        try:
            results.append(step(False))
        except ApiError as exc:
            errors.append(_problem_error(exc, key))
    status, payload = batch_envelope(results, errors, ctx.now_ms)
    return (201 if created and status == 200 else status), payload


def batch_update(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    _, inputs = _inputs(ctx, req)

    def step_for(item: Any) -> Any:
        def step(dry: bool) -> Any:
            key = str((item or {}).get("id"))
            id_property = (item or {}).get("idProperty")
            obj = (
                ctx.store.find_by(object_type, id_property, key)
                if id_property
                else ctx.store.lookup(object_type, key)
            )
            if obj is None:
                raise ApiError(404, "OBJECT_NOT_FOUND", f"Object {object_type} {key} not found.")
            values = checked_properties(ctx, object_type, (item or {}).get("properties"))
            refused = ctx.knobs.refuse_updates.get(key)
            if refused is not None:
                raise ApiError(400, "VALIDATION_ERROR", refused)
            if dry:
                return None
            ctx.store.apply(obj, values, ctx.now_ms)
            return render_object(ctx.store, obj, list(values) or ["hs_object_id"])

        return step

    return _run_batch(ctx, [(str((i or {}).get("id")), step_for(i)) for i in inputs], created=False)


def batch_create(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    _, inputs = _inputs(ctx, req)

    def step_for(index: int, item: Any) -> Any:
        def step(dry: bool) -> Any:
            if dry:
                checked_properties(ctx, object_type, (item or {}).get("properties") or {})
                return None
            obj = create_one(ctx, object_type, item)
            return render_object(ctx.store, obj, shown_properties(obj))

        return step

    steps = [
        (str((i or {}).get("objectWriteTraceId") or n), step_for(n, i))
        for n, i in enumerate(inputs)
    ]
    return _run_batch(ctx, steps, created=True)


def batch_upsert(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    _, inputs = _inputs(ctx, req)

    def step_for(item: Any) -> Any:
        def step(dry: bool) -> Any:
            key = str((item or {}).get("id"))
            id_property = (item or {}).get("idProperty") or "hs_object_id"
            values = checked_properties(ctx, object_type, (item or {}).get("properties") or {})
            if dry:
                return None
            obj = ctx.store.find_by(object_type, id_property, key)
            new = obj is None
            if obj is None:
                if id_property != "hs_object_id":
                    values.setdefault(id_property, key)
                obj = create_one(ctx, object_type, {"properties": values})
            else:
                ctx.store.apply(obj, values, ctx.now_ms)
            payload = render_object(ctx.store, obj, list(values) or ["hs_object_id"])
            payload["new"] = new
            return payload

        return step

    return _run_batch(ctx, [(str((i or {}).get("id")), step_for(i)) for i in inputs], created=False)


def batch_archive(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    object_type = object_type_of(object_type)
    _, inputs = _inputs(ctx, req)
    for item in inputs:
        obj = ctx.store.lookup(object_type, str((item or {}).get("id")))
        if obj is not None:
            ctx.store.archive(obj, ctx.now_ms)
    return 204, None
