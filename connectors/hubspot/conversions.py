"""A contact's latest form submission, from the contact's own conversion properties.

HubSpot sends no "form submitted" webhook: a submission moves the contact's conversion rollups
(`recent_conversion_date`, `recent_conversion_event_name`, `num_conversion_events`, and on a
first one `first_conversion_*`), and a `contact.propertyChange` subscription on
`recent_conversion_date` (or `contact.creation`, when the form made the contact) is what fires
(docs/speed-to-lead.md, with HubSpot's sources). The fast path reads the contact anyway; with
these properties in that read it knows of the demo request without the portal-wide Forms API read
(one call per form) the scheduled sync makes (`forms.py`).

The submission found so is a *stand-in* (id `recent-conversion:<contact>:<epoch ms>`): the
Forms API submission the scheduled sync's stream reads later is the canonical activity (id
`form:<conversionId>`). The state store replaces the stand-in by it when it comes
(sync/store/conversions.py: same contact, same kind, same form, within `SAME_SUBMISSION`), so the
submission is scored once. A stand-in is made only

- for a form the Forms API lists (its name, read with the definitions; `recent_conversion_event_name`
  reads `<page title>: <form name>` on a page, the form's name alone otherwise), so a conversion
  that is no form (a meetings link, say) is left to the scheduled sync as before;
- for a conversion within `RECENT` (older ones were read by the scheduled sync's stream);
- by the one-person reads (`read`, the fast path and `handoff explain --live`), and handed on
  only while form submissions come from the run's stream (`streams_events`).

Its properties are what the contact carries of the submission: the form's name and id, and the
hidden fields named like a canonical key (`asset_stage`: a HubSpot form field is a contact
property, so the contact holds the last value submitted). The page URL is not on the contact: a
rule on it (`url_contains`, `hubspot.asset_stages`) sees the submission once the stream has
read it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from config.connections import ActivityMapping
from connectors import activity_keys as keys
from connectors.errors import ConnectorError
from connectors.hubspot.forms import FORM_KEYS
from connectors.hubspot.web import matches, signal
from connectors.mapping import parse_timestamp
from connectors.records import Activity

log = structlog.get_logger("handoff.hubspot")
RECENT_DATE = "recent_conversion_date"
RECENT_NAME = "recent_conversion_event_name"
CONVERSION_PROPERTIES = (RECENT_DATE, RECENT_NAME, "num_conversion_events", keys.ASSET_STAGE)
STAND_IN = keys.STAND_IN  # the id prefix of a submission known from the contact alone
RECENT = timedelta(days=1)
KEPT = 2_048  # contacts whose conversion properties are kept after a one-person read
FORMS_FRESH = 300.0  # seconds a read of the form definitions is trusted for an unknown name
HIDDEN = (keys.ASSET_STAGE,)


def stand_in_id(contact_id: str, at: datetime) -> str:
    return f"{STAND_IN}{contact_id}:{int(at.timestamp() * 1000)}"


def form_of(event_name: str, forms: dict[str, str]) -> tuple[str, str] | None:
    """(form name, form id) of a `recent_conversion_event_name`: the form whose name it is, or
    ends with after `: ` (the page's title first); the longest such name; None if no form's."""
    lowered = event_name.strip().lower()
    best: tuple[str, str] | None = None
    for name, form_id in forms.items():
        low = name.strip().lower()
        named = low and (lowered == low or lowered.endswith(": " + low))
        if named and (best is None or len(name) > len(best[0])):
            best = (name, form_id)
    return best


class RecentConversions:
    """The conversion properties of contacts read one by one, and the portal's form names."""

    def __init__(self, connection: str, mappings: Sequence[ActivityMapping]) -> None:
        self._connection = connection
        self._mappings = list(mappings)
        self.enabled = bool(self._mappings)  # form submissions are mapped
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._forms: dict[str, str] = {}  # form name -> id, from the last definitions read
        self._forms_read_at: float | None = None
        self._forms_guard = threading.Lock()
        self.read_forms: Callable[[], list[dict[str, Any]]] | None = None  # the Forms API's list

    # -- the form definitions -------------------------------------------------------------------
    def know_forms(self, forms: Iterable[dict[str, Any]]) -> None:
        """The portal's forms as a definitions read gave them (the stream's, or ours)."""
        found = {str(f.get("name") or ""): str(f.get("id") or "") for f in forms}
        with self._lock:
            self._forms = {k: v for k, v in found.items() if k}
            self._forms_read_at = time.monotonic()

    def _form(self, event_name: str) -> tuple[str, str] | None:
        with self._lock:
            found = form_of(event_name, self._forms)
            read_at = self._forms_read_at
        if found is not None or self.read_forms is None:
            return found
        if read_at is not None and time.monotonic() - read_at < FORMS_FRESH:
            return None  # not a form's name (a meetings link, a form made since: next read)
        with self._forms_guard:  # one definitions read at a time; the others use it
            with self._lock:
                fresh = self._forms_read_at != read_at
            if not fresh:
                try:
                    self.know_forms(self.read_forms())
                except ConnectorError as exc:  # refused (no forms scope) or failing: no stand-in
                    log.warning("hubspot.forms_unread", connection=self._connection, error=str(exc))
                    with self._lock:
                        self._forms_read_at = time.monotonic()  # asked again in FORMS_FRESH
                    return None
        with self._lock:
            return form_of(event_name, self._forms)

    # -- the contacts ---------------------------------------------------------------------------
    def keep(self, raws: Iterable[dict[str, Any]]) -> None:
        """Remember the conversion properties of these raw records (a one-person read)."""
        if not self.enabled:
            return
        with self._lock:
            for raw in raws:
                props = raw.get("properties") or {}
                if not props.get(RECENT_DATE) or not props.get(RECENT_NAME):
                    continue
                contact_id = str(raw["id"])
                self._kept[contact_id] = {k: props.get(k) for k in CONVERSION_PROPERTIES}
                self._kept.move_to_end(contact_id)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)

    def stand_ins(
        self, contact_ids: Sequence[str], now: datetime | None = None
    ) -> Iterator[Activity]:
        """The latest form submission of each of these contacts that a one-person read saw,
        when recent and of a form the Forms API lists, matched by the form mappings."""
        now = now or datetime.now(UTC)
        for contact_id in contact_ids:
            with self._lock:
                props = self._kept.get(contact_id)
            if props is None:
                continue
            at = parse_timestamp(str(props[RECENT_DATE]))
            if now - at > RECENT:
                continue
            form = self._form(str(props[RECENT_NAME]))
            if form is None:
                continue
            name, form_id = form
            raw: dict[str, Any] = {
                "formName": name,
                "formId": form_id,
                RECENT_NAME: props[RECENT_NAME],
            }
            raw.update({k: props[k] for k in HIDDEN if props.get(k)})
            mapping = next((m for m in self._mappings if matches(m, raw)), None)
            if mapping is None:
                continue
            properties = keys.translate(raw, FORM_KEYS)
            ident = stand_in_id(contact_id, at)
            yield signal(self._connection, ident, contact_id, mapping, at, properties)
