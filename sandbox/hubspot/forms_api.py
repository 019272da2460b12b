"""Forms: the portal's form definitions and their submissions, on every tier.

- `GET /marketing/v3/forms` (spec `Marketing/Forms/Rollouts/144909/v3/forms.json`, tier FREE on
  every hub): `after`, `limit`, `archived`, `formTypes` -> `{results: [HubSpotFormDefinition],
  paging.next.after}`. The spec gives no default or maximum for `limit`; the sandbox pages 20 by
  default and serves at most `Knobs.forms_max` (100) a page.
- `GET /form-integrations/v1/submissions/forms/{form_guid}` (HubSpot's reference page "Get
  submissions for a form", forms v1): newest first, `limit` default 20, 1..50, `after` cursor
  from `paging.next.after` -> `{results: [{conversionId, submittedAt (epoch ms), values:
  [{name, value}], pageUrl}], paging}`. A limit outside 1..50 is a 400 VALIDATION_ERROR; an
  unknown form a 404.

Fixture form submissions feed both this API and (on Enterprise) the Events API; each form name
is one form whose guid is the fixture's `form_id` or derived from the name.
"""

from __future__ import annotations

import base64
import bisect
import uuid
from typing import Any

from sandbox.hubspot.context import Ctx, flag, multi_param
from sandbox.hubspot.schema import iso_of_ms
from sandbox.hubspot.store import FormRecord, FormSubmission, HsObject, PortalStore
from sandbox.hubspot.wire import ApiError, validation_error
from sandbox.server import SandboxRequest

SUBMISSIONS_DEFAULT = 20
SUBMISSIONS_MAX = 50
FORMS_DEFAULT = 20
_FORM_NAMESPACE = uuid.UUID("6f1c1a52-7f39-4c34-9a0e-2b7d1f0c5e11")
# Fixture activity properties sent as hidden form fields (canonical activity keys).
HIDDEN_FIELDS = ("asset_stage",)
# Contact analytics properties whose history the sandbox keeps (propertiesWithHistory).
LAST_URL = "hs_analytics_last_url"
HISTORY_OF_KIND = {
    "email_open": "hs_email_last_open_date",
    "email_click": "hs_email_last_click_date",
}


def form_guid(name: str, given: str | None = None) -> str:
    return given or str(uuid.uuid5(_FORM_NAMESPACE, name.strip().lower()))


def record_submission(
    store: PortalStore,
    contact: HsObject,
    at_ms: int,
    props: dict[str, str],
    *,
    keep_sorted: bool = True,
) -> None:
    """A fixture form submission, as the form's submission list holds it."""
    name = props.get("form_name") or "Form"
    guid = form_guid(name, props.get("form_id"))
    form = store.forms.get(guid)
    if form is None:
        store.forms[guid] = FormRecord(guid, name, at_ms, at_ms)
    else:
        form.created_ms = min(form.created_ms, at_ms)
        form.updated_ms = max(form.updated_ms, at_ms)
    values = [
        {"name": field, "value": contact.properties.get(field, "")}
        for field in ("email", "firstname", "lastname")
        if contact.properties.get(field)
    ]
    values += [{"name": k, "value": props[k]} for k in HIDDEN_FIELDS if props.get(k)]
    conversion = str(uuid.uuid5(_FORM_NAMESPACE, f"{guid}:{contact.id}:{at_ms}"))
    item = FormSubmission(conversion, at_ms, values, props.get("url", ""))
    rows = store.submissions.setdefault(guid, [])
    if keep_sorted and rows and rows[-1].submitted_ms > at_ms:
        bisect.insort(rows, item, key=lambda s: (s.submitted_ms, s.conversion_id))
    else:
        rows.append(item)


def record_history(
    store: PortalStore, contact: HsObject, name: str, at_ms: int, value: str
) -> None:
    versions = store.history.setdefault((contact.id, name), [])
    bisect.insort(versions, (at_ms, value))


def sort_forms(store: PortalStore) -> None:
    """After a bulk load."""
    for rows in store.submissions.values():
        rows.sort(key=lambda s: (s.submitted_ms, s.conversion_id))
    for versions in store.history.values():
        versions.sort()


def history_of(store: PortalStore, obj: HsObject, name: str) -> list[dict[str, Any]]:
    """`propertiesWithHistory[name]`: versions newest first (spec `ValueWithTimestamp`)."""
    versions = store.history.get((obj.id, name))
    if versions is None:
        value = obj.value(name)
        versions = [(obj.updated_ms, value)] if value else []
    return [
        {"value": value, "timestamp": iso_of_ms(ms), "sourceType": "ANALYTICS"}
        for ms, value in reversed(versions)
    ]


def _limit(req: SandboxRequest, default: int, low: int, high: int, strict: bool) -> int:
    raw = req.param("limit")
    try:
        limit = int(raw) if raw else default
    except ValueError:
        raise validation_error("limit must be a number.") from None
    if strict and not low <= limit <= high:
        raise validation_error(f"limit must be between {low} and {high}; got {limit}.")
    return max(low, min(limit, high))


def _offset(req: SandboxRequest) -> int:
    raw = req.param("after")
    if not raw:
        return 0
    try:
        return int(base64.urlsafe_b64decode(raw.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise validation_error("after must be a cursor from paging.next.after.") from None


def _paging(path: str, offset: int) -> dict[str, Any]:
    token = base64.urlsafe_b64encode(str(offset).encode()).decode()
    return {"next": {"after": token, "link": f"{path}?after={token}"}}


def render_form(form: FormRecord) -> dict[str, Any]:
    return {
        "id": form.id,
        "name": form.name,
        "formType": "hubspot",
        "createdAt": iso_of_ms(form.created_ms),
        "updatedAt": iso_of_ms(form.updated_ms),
        "archived": False,
        "fieldGroups": [
            {
                "groupType": "default_group",
                "richTextType": "text",
                "fields": [
                    {
                        "objectTypeId": "0-1",
                        "name": "email",
                        "label": "Email",
                        "required": True,
                        "hidden": False,
                        "fieldType": "email",
                    },
                ],
            }
        ],
        "configuration": {"language": "en", "createNewContactForNewEmail": False},
        "displayOptions": {
            "renderRawHtml": False,
            "theme": "default_style",
            "submitButtonText": "Submit",
            "style": {},
        },
        "legalConsentOptions": {"type": "none"},
    }


def list_forms(ctx: Ctx, req: SandboxRequest) -> tuple[int, Any]:
    limit = _limit(req, FORMS_DEFAULT, 1, ctx.knobs.forms_max, strict=False)
    types = set(multi_param(req, "formTypes")) or {"hubspot"}
    archived = flag(req, "archived")
    forms = [] if archived or not types & {"hubspot", "all"} else list(ctx.store.forms.values())
    start = _offset(req)
    payload: dict[str, Any] = {"results": [render_form(f) for f in forms[start : start + limit]]}
    if start + limit < len(forms):
        payload["paging"] = _paging(req.path, start + limit)
    return 200, payload


def form_submissions(ctx: Ctx, req: SandboxRequest, form_guid: str) -> tuple[int, Any]:
    if form_guid not in ctx.store.forms:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No form with guid {form_guid} in this portal.")
    limit = _limit(req, SUBMISSIONS_DEFAULT, 1, SUBMISSIONS_MAX, strict=True)
    rows = ctx.store.submissions.get(form_guid, [])
    start = _offset(req)
    newest_first = rows[::-1][start : start + limit]
    payload: dict[str, Any] = {
        "results": [
            {
                "conversionId": s.conversion_id,
                "submittedAt": s.submitted_ms,
                "values": s.values,
                "pageUrl": s.page_url,
            }
            for s in newest_first
        ]
    }
    if start + limit < len(rows):
        payload["paging"] = _paging(req.path, start + limit)
    return 200, payload


def submit_form(ctx: Ctx, req: SandboxRequest, portal_id: str, form_guid: str) -> tuple[int, Any]:
    """`POST /submissions/v3/integration/submit/{portalId}/{formGuid}` (Forms API v3 legacy,
    "Submit data to a form", unauthenticated): `{fields: [{objectTypeId, name, value}],
    submittedAt?, context?: {pageUri, pageName}}` -> 200 `{inlineMessage}`. The contact is found
    by its `email` field or created; the contact fields are written (webhooks: creation or
    property changes), the submission is recorded on the form, and the conversion rollups move
    (`recent_conversion_date`, `num_conversion_events`, ...) as one more property change."""
    from sandbox.hubspot.loader import record_activity
    from sandbox.portal import PortalActivity

    store = ctx.store
    if str(portal_id) != str(ctx.portal_id) or form_guid not in store.forms:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Form {form_guid} not found in portal {portal_id}")
    body = _json_body(req)
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, list) or not fields:
        raise validation_error("The request is not valid: 'fields' must be a non-empty list")
    values = {
        str(f.get("name")): str(f.get("value") or "")
        for f in fields
        if isinstance(f, dict) and f.get("objectTypeId", "0-1") == "0-1" and f.get("name")
    }
    email = values.get("email", "").strip()
    if "@" not in email:
        raise validation_error("Error in 'fields.email'. Invalid email address")
    known = store.properties["contacts"]
    props = {k: v for k, v in values.items() if k in known and not known[k].read_only and v}
    hidden = {k: values[k] for k in HIDDEN_FIELDS if values.get(k)}
    at_ms = int(body.get("submittedAt") or ctx.now_ms)
    contact = store.find_by("contacts", "email", email)
    if contact is None:
        contact = store.insert("contacts", {**props, "lifecyclestage": "lead"}, ctx.now_ms)
    else:
        store.apply(contact, props, ctx.now_ms)
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    form = store.forms[form_guid]
    before = dict(contact.properties)
    _hidden_properties(store, contact, hidden, ctx.now_ms)
    activity_props = {
        "form_name": form.name,
        "form_id": form_guid,
        "url": str(context.get("pageUri") or ""),
        "page_title": str(context.get("pageName") or ""),
        **hidden,
    }
    activity = PortalActivity("", "", "form_submission", _dt(at_ms), None, activity_props)
    record_activity(store, contact, activity, portal_id=ctx.portal_id, owners={})
    store.touch(contact, ctx.now_ms)
    rollups = {k: v for k, v in contact.properties.items() if before.get(k) != v}
    if rollups and store.observer is not None:
        store.observer("contact.propertyChange", contact, {**rollups, "_source": "FORM"})
    return 200, {"inlineMessage": "Thanks for submitting the form."}


def _hidden_properties(
    store: PortalStore, contact: HsObject, hidden: dict[str, str], now_ms: int
) -> None:
    """A HubSpot form field is a contact property: a hidden field's value lands on the contact
    (the property is made on first use, as a portal admin makes it to put it on a form)."""
    if not hidden:
        return
    from sandbox.hubspot.schema import PropertyDef

    known = store.properties["contacts"]
    for name in hidden:
        if name not in known:
            known[name] = PropertyDef(
                name, name, group_name="contactinformation", hubspot_defined=False
            )
    store.apply(contact, hidden, now_ms)


def _json_body(req: SandboxRequest) -> Any:
    import json

    try:
        return json.loads(req.body or b"{}")
    except ValueError:
        raise validation_error("Invalid input JSON: the body is not JSON") from None


def _dt(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC)
