"""sObject resources: single-record CRUD, upsert by external id, describe, getUpdated/getDeleted
and sObject Collections (`composite/sobjects`).

REST API Developer Guide: "sObject Rows" (GET 200, PATCH 204, DELETE 204), "sObject Basic
Information" POST (201 `{id, success, errors}`), "sObject Rows by External ID" (201 created / 200
updated), "sObject Describe", "sObject Get Updated" / "Get Deleted", and "sObject Collections"
(<= 200 records, `allOrNone` default false, SaveResults in request order, ALL_OR_NONE rollback);
crm-api-notes sections 7 and 8.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.salesforce.errors import ApiError, RecordError, not_found
from sandbox.salesforce.ids import normalize
from sandbox.salesforce.org import SalesforceOrg, format_value
from sandbox.salesforce.predicates import Record
from sandbox.salesforce.schema import ObjectSchema
from sandbox.salesforce.soql_lexer import parse_datetime
from sandbox.salesforce.writes import RecordWriter

COLLECTION_LIMIT = 200
ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)
Result = tuple[int, Any]


def object_schema(org: SalesforceOrg, name: str) -> ObjectSchema:
    for key, obj in org.schema.items():
        if key.lower() == name.lower():
            return obj
    raise not_found()


def record_json(sobject: str, record: Record, api_path: str, fields: list[str] | None) -> Record:
    names = fields or list(record)
    out: Record = {
        "attributes": {"type": sobject, "url": f"{api_path}/sobjects/{sobject}/{record['Id']}"}
    }
    out |= {name: format_value(record.get(name)) for name in names}
    return out


def _as_api_error(error: RecordError) -> ApiError:
    return ApiError(400, error.status_code, error.message, error.fields)


def describe_global(org: SalesforceOrg, api_path: str) -> Result:
    objects = []
    for obj in org.schema.values():
        info = obj.describe(api_path)
        objects.append({k: v for k, v in info.items() if k != "fields"})
    return 200, {"encoding": "UTF-8", "maxBatchSize": COLLECTION_LIMIT, "sobjects": objects}


def sobject_resource(
    org: SalesforceOrg,
    writer: RecordWriter,
    method: str,
    parts: list[str],
    body: Any,
    params: dict[str, list[str]],
    api_path: str,
) -> tuple[str, Result]:
    """Route `sobjects/{Type}/...`; returns (log label, (status, payload))."""
    obj = object_schema(org, parts[0])
    name, rest = obj.name, parts[1:]
    if not rest:
        if method == "POST":
            return "sobject.create", _create(org, writer, name, body)
        if method == "GET":
            info = {k: v for k, v in obj.describe(api_path).items() if k != "fields"}
            return "sobject.info", (200, {"objectDescribe": info, "recentItems": []})
        raise ApiError(
            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are GET,POST"
        )
    head = rest[0]
    if head == "describe" and method == "GET":
        return "sobject.describe", (200, obj.describe(api_path))
    if head in ("updated", "deleted") and method == "GET":
        start, end = _window(params)
        if head == "updated":
            return "sobject.updated", (200, org.updated_ids(name, start, end))
        return "sobject.deleted", (200, org.deleted_ids(name, start, end))
    if len(rest) == 2 and method == "PATCH":
        return "sobject.upsert", _upsert(org, writer, obj, rest[0], rest[1], body)
    if len(rest) != 1:
        raise not_found()
    if method == "GET":
        record = org.get(name, head)
        if record is None or record.get("IsDeleted"):
            raise not_found()
        fields = params.get("fields", [""])[0]
        names = [_field_name(obj, f) for f in fields.split(",") if f.strip()] if fields else None
        names = names or [spec.name for spec in obj.fields.values()]  # removed fields stay hidden
        return "sobject.get", (200, record_json(name, record, api_path, names))
    if method not in ("PATCH", "DELETE"):
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
    with org.lock:
        writer.begin()
        try:
            if method == "PATCH":
                writer.update(name, head, _object_body(body), org.now())
                return "sobject.update", (204, None)
            writer.delete(name, head, org.now())
            return "sobject.delete", (204, None)
        except RecordError as error:
            writer.rollback()
            if error.status_code in ("INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID"):
                raise not_found() from None
            if error.status_code == "ENTITY_IS_DELETED":
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted") from None
            raise _as_api_error(error) from None


def _field_name(obj: ObjectSchema, name: str) -> str:
    spec = obj.get(name.strip())
    if spec is None:
        raise ApiError(
            400, "INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type {obj.name}"
        )
    return spec.name


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def _window(params: dict[str, list[str]]) -> tuple[datetime, datetime]:
    try:
        start = parse_datetime(params["start"][0])
        end = parse_datetime(params["end"][0])
    except (KeyError, IndexError, ValueError):
        raise ApiError(
            400,
            "MALFORMED_QUERY",
            "start and end must be ISO 8601 date-times, e.g. 2026-11-20T15:00:00Z",
        ) from None
    return start.astimezone(UTC), end.astimezone(UTC)


def _create(org: SalesforceOrg, writer: RecordWriter, name: str, body: Any) -> Result:
    with org.lock:
        writer.begin()
        try:
            record = writer.create(name, _object_body(body), org.now())
        except RecordError as error:
            writer.rollback()
            raise _as_api_error(error) from None
    return 201, {"id": record["Id"], "success": True, "errors": []}


def _upsert(
    org: SalesforceOrg, writer: RecordWriter, obj: ObjectSchema, field: str, value: str, body: Any
) -> Result:
    spec = obj.get(field)
    if spec is None or not (spec.external_id or spec.type == "id"):
        raise ApiError(
            400,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field}",
        )
    with org.lock:
        matches = [
            r for r in org.live(obj.name) if str(r.get(spec.name) or "").lower() == value.lower()
        ]
        if len(matches) > 1:
            return 300, [f"{r['Id']}" for r in matches]
        writer.begin()
        at = org.now()
        try:
            if matches:
                writer.update(obj.name, matches[0]["Id"], _object_body(body), at)
                return 200, {
                    "id": matches[0]["Id"],
                    "success": True,
                    "errors": [],
                    "created": False,
                }
            values = dict(_object_body(body))
            if spec.type != "id":
                values[spec.name] = value
            record = writer.create(obj.name, values, at)
        except RecordError as error:
            writer.rollback()
            raise _as_api_error(error) from None
    return 201, {"id": record["Id"], "success": True, "errors": [], "created": True}


def collections(
    org: SalesforceOrg,
    writer: RecordWriter,
    method: str,
    body: Any,
    params: dict[str, list[str]],
) -> tuple[str, Result]:
    """sObject Collections create (POST), update (PATCH) and delete (DELETE ?ids=)."""
    if method == "DELETE":
        ids = [i for i in params.get("ids", [""])[0].split(",") if i]
        all_or_none = params.get("allOrNone", ["false"])[0].lower() == "true"
        items: list[Any] = ids
        label = "collections.delete"
    elif method in ("POST", "PATCH"):
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body needs a 'records' array")
        items, all_or_none = body["records"], bool(body.get("allOrNone", False))
        label = "collections.create" if method == "POST" else "collections.update"
    else:
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
    if len(items) > COLLECTION_LIMIT:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
        )
    with org.lock:
        writer.begin()
        at = org.now()
        results: list[dict[str, Any]] = []
        try:
            for item in items:
                results.append(_one(org, writer, method, item, at))
        except ApiError:
            writer.rollback()
            raise
        if all_or_none and any(not r["success"] for r in results):
            writer.rollback()
            results = [
                r if not r["success"] else {**r, "success": False, "errors": [ROLLED_BACK.entry()]}
                for r in results
            ]
            for r in results:
                if method == "POST":
                    r.pop("id", None)
    return label, (200, results)


def _one(
    org: SalesforceOrg, writer: RecordWriter, method: str, item: Any, at: datetime
) -> dict[str, Any]:
    record_id: str | None = None
    try:
        if method == "DELETE":
            record_id = normalize(str(item)) or str(item)
            record = writer.delete(None, item, at)
            return {"id": record["Id"], "success": True, "errors": []}
        if not isinstance(item, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        sobject = (item.get("attributes") or {}).get("type")
        if not isinstance(sobject, str):
            raise RecordError("INVALID_TYPE", "Must send a concrete entity type.", [])
        name = object_schema(org, sobject).name
        raw_id = item.get("id", item.get("Id"))
        if method == "POST":
            if raw_id:
                raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            record = writer.create(name, item, at)
        else:
            if not raw_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
            record_id = normalize(str(raw_id)) or str(raw_id)
            record = writer.update(name, raw_id, item, at)
        return {"id": record["Id"], "success": True, "errors": []}
    except RecordError as error:
        out: dict[str, Any] = {"success": False, "errors": [error.entry()]}
        if record_id is not None:
            out = {"id": record_id, **out}
        return out
    except ApiError as error:
        if error.status == 404:  # unknown attributes.type
            return {
                "success": False,
                "errors": [RecordError("INVALID_TYPE", "sObject type is not supported.").entry()],
            }
        raise
