"""Form submissions through the Forms API, on every HubSpot tier.

The portal's forms (`GET /marketing/v3/forms`, spec Marketing Forms v3, tier FREE), then each
form's submissions (`GET /form-integrations/v1/submissions/forms/{form_guid}`: newest first,
`limit` at most 50, `after` paging) until one is older than the cursor. A submission names no
contact: it carries the submitted `values` (email among them), so submissions are matched to
contacts by email through the contacts batch read (`idProperty: email`, 100 a call), or, in a run
that lists every contact, on its pages (`held_forms.py`). No call is made per contact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.hubspot.held_forms import Held, HeldSubmissions
from connectors.hubspot.transport import HubSpotTransport, read_json
from connectors.hubspot.web import matches, signal
from connectors.records import Activity, Contact
from connectors.spill import DiskSorted

FORMS_PAGE = 100
SUBMISSIONS_PAGE = 50  # the endpoint's maximum
EMAIL_BATCH = 100
SUBMISSIONS_PATH = "/form-integrations/v1/submissions/forms/{form_guid}"
# Raw names: the form's `name` and `id` (as formName, formId) and the submission's `pageUrl`.
FORM_KEYS: keys.Translation = {
    keys.FORM_NAME: ("formName",),
    keys.FORM_ID: ("formId",),
    keys.URL: ("pageUrl",),
}

Submission = tuple[int, dict[str, Any], dict[str, Any]]  # (submittedAt ms, form, submission)


def _email(submission: dict[str, Any]) -> str | None:
    for value in submission.get("values") or []:
        if str(value.get("name", "")).lower() == "email" and value.get("value"):
            return str(value["value"]).strip().lower()
    return None


def _raw(form: dict[str, Any], submission: dict[str, Any]) -> dict[str, Any]:
    """What a submission's activity is made of: the form, the page, hidden fields named like
    a canonical key."""
    raw: dict[str, Any] = {
        "formName": form.get("name"),
        "formId": form.get("id"),
        "pageUrl": submission.get("pageUrl"),
        "conversionId": submission.get("conversionId"),
    }
    for value in submission.get("values") or []:
        if value.get("name") in keys.CANONICAL_KEYS:
            raw[str(value["name"])] = value.get("value")
    return raw


class FormSubmissions:
    def __init__(self, transport: HubSpotTransport, mappings: list[ActivityMapping]) -> None:
        self._t = transport
        self._mappings = mappings
        self._forms_api = transport.client.marketing.forms.forms_api
        self._contacts = transport.client.crm.contacts.batch_api
        self.on_forms: Callable[[list[dict[str, Any]]], None] | None = None  # each read's forms

    def stream(self, since: datetime | None) -> Iterator[Activity]:
        """Every submission since `since`, ascending, matched to its contact by email. The
        portal's submissions are sorted on disk (`connectors.spill`), not in memory: every call
        is made before the first is handed on."""
        with DiskSorted() as found:
            for ms, form, submission in self._since(since):
                raw = _raw(form, submission)
                found.add((ms, str(submission.get("conversionId"))), (ms, raw), _email(submission))
            found.resolve(self._contact_ids, EMAIL_BATCH)
            # a submitter the look-up does not find is a visitor who is not a contact (yet)
            yield from self.signals((c, ms, raw) for c, (ms, raw) in found if c is not None)

    def for_contacts(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        """These contacts' submissions since `since` (read per batch, e.g. the contract suite)."""
        ids = {c.email.strip().lower(): c.id for c in contacts if c.email}
        if not ids:
            return
        found = sorted(self._since(since), key=lambda f: (f[0], str(f[2].get("conversionId"))))
        yield from self.signals(  # an unknown email: a visitor who is not a contact (yet)
            (ids[email], ms, _raw(form, submission))
            for ms, form, submission in found
            if (email := _email(submission) or "") in ids
        )

    def hold(self, since: datetime | None, until: datetime) -> HeldSubmissions:
        """Every submission since `since` held by submitter email, not looked up: a run that
        lists every contact matches them on its pages (`held_forms.py`)."""
        held = HeldSubmissions(until)
        try:
            for ms, form, submission in self._since(since):
                held.add(_email(submission), ms, _raw(form, submission))
        except BaseException:
            held.close()
            raise
        return held

    def signals(self, held: Iterable[Held]) -> Iterator[Activity]:
        """The activities of submissions matched to their contacts."""
        for contact_id, ms, raw in held:
            activity = self._signal(contact_id, ms, raw)
            if activity is not None:
                yield activity

    def unclaimed(self, held: HeldSubmissions) -> Iterator[Activity]:
        """What no page took, its submitters looked up as the stream looks them up."""
        return self.signals(held.rest(self._contact_ids, EMAIL_BATCH))

    def _signal(self, contact_id: str, ms: int, raw: dict[str, Any]) -> Activity | None:
        mapping = next((m for m in self._mappings if matches(m, raw)), None)
        if mapping is None:
            return None
        occurred = datetime.fromtimestamp(ms / 1000, tz=UTC)
        conversion = raw.get("conversionId") or f"{raw.get('formId')}:{ms}"
        props = keys.translate(raw, FORM_KEYS)
        return signal(self._t.name, f"form:{conversion}", contact_id, mapping, occurred, props)

    def forms(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": FORMS_PAGE, "_preload_content": False}
            if after:
                kwargs["after"] = after
            page = read_json(self._forms_api.get_page(**kwargs))
            out += page.get("results", [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                if self.on_forms is not None:
                    self.on_forms(out)
                return out

    def _since(self, since: datetime | None) -> Iterator[Submission]:
        floor = None if since is None else int(since.timestamp() * 1000)
        for form in self.forms():
            for submission in self._newest_first(str(form["id"]), floor):
                yield int(submission["submittedAt"]), form, submission

    def _newest_first(self, guid: str, floor: int | None) -> Iterator[dict[str, Any]]:
        after: str | None = None
        client = self._forms_api.api_client
        while True:
            query: list[tuple[str, Any]] = [("limit", SUBMISSIONS_PAGE)]
            if after:
                query.append(("after", after))
            response = client.call_api(
                SUBMISSIONS_PATH,
                "GET",
                {"form_guid": guid},
                query,
                {"Accept": "application/json"},
                response_types_map={},
                auth_settings=["oauth2"],
                _preload_content=False,
            )
            page = read_json(response)
            for submission in page.get("results", []):
                if floor is not None and int(submission.get("submittedAt") or 0) < floor:
                    return  # newest first: the rest is older than the cursor
                yield submission
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _contact_ids(self, emails: list[str]) -> dict[str, str]:
        ids: dict[str, str] = {}
        for start in range(0, len(emails), EMAIL_BATCH):
            chunk = emails[start : start + EMAIL_BATCH]
            body = {
                "inputs": [{"id": e} for e in chunk],
                "idProperty": "email",
                "properties": ["email"],
            }
            page = read_json(
                self._contacts.read(
                    batch_read_input_simple_public_object_id=body,
                    archived=False,
                    _preload_content=False,
                )
            )
            for row in page.get("results", []):
                email = str((row.get("properties") or {}).get("email") or "").strip().lower()
                if email:
                    ids[email] = str(row["id"])
        return ids
