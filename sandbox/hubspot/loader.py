"""Present a neutral `Portal` as HubSpot data: contacts, companies, owners, engagements, events.

Representation (documented in sandbox/fixtures/README.md):
- form submissions also become Forms API submissions (`forms_api`), page views versions of
  `hs_analytics_last_url`, email opens/clicks of `hs_email_last_open_date` / `_click_date`
  (`propertiesWithHistory`);
- contact signals become Events API instances: page_view `e_visited_page`, form_submission
  `e_submitted_form`, email_open `e_opened_email`, email_click `e_clicked_email`, webinars and
  trial milestones custom events `pe<portalId>_webinar_registered|_webinar_attended|_trial_milestone`;
- rep touches (call, email, meeting, note, task) become engagement objects associated with the
  contact (typeIds 194/198/200/202/204);
- each contact carries the analytics/conversion rollups HubSpot computes from those.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.forms_api import (
    HISTORY_OF_KIND,
    LAST_URL,
    record_history,
    record_submission,
    sort_forms,
)
from sandbox.hubspot.schema import LIFECYCLE_STAGES, PropertyDef, iso_of_ms, ms_of, parse_ms
from sandbox.hubspot.store import HsObject, OwnerRecord, PortalStore
from sandbox.portal import Portal, PortalActivity

OWNER_ID_BASE = 70_000_000
USER_ID_BASE = 9_000_000
EVENT_TYPES = {
    "page_view": "e_visited_page",
    "form_submission": "e_submitted_form",
    "email_open": "e_opened_email",
    "email_click": "e_clicked_email",
}
CUSTOM_EVENT_KINDS = ("webinar_registered", "webinar_attended", "trial_milestone")
ENGAGEMENT_OF_KIND = {
    "call": "calls",
    "email": "emails",
    "meeting": "meetings",
    "note": "notes",
    "task": "tasks",
}
# Portal activity property -> HubSpot event property name.
EVENT_PROPERTY_NAMES = {
    "url": "hs_url",
    "title": "hs_page_title",
    "form_name": "hs_form_title",
    "form_id": "hs_form_id",
    "subject": "hs_email_subject",
    "campaign": "hs_email_campaign_name",
}
STAGE_OF_CANONICAL = {
    "mql": "marketingqualifiedlead",
    "sal": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
}


def event_type_for(kind: str, portal_id: int) -> str | None:
    if kind in EVENT_TYPES:
        return EVENT_TYPES[kind]
    if kind in CUSTOM_EVENT_KINDS:
        return f"pe{portal_id}_{kind}"
    return None


def engagement_properties(
    kind: str, at_ms: int, owner: str | None, props: dict[str, str]
) -> dict[str, str]:
    stamp = iso_of_ms(at_ms)
    subject = props.get("subject", "")
    body = props.get("body", "")
    out = {"hs_timestamp": stamp}
    if owner:
        out["hubspot_owner_id"] = owner
    if kind == "call":
        out |= {
            "hs_call_title": subject,
            "hs_call_body": body,
            "hs_call_direction": "OUTBOUND",
            "hs_call_duration": props.get("duration_ms", "180000"),
            "hs_call_status": "COMPLETED",
        }
    elif kind == "email":
        out |= {
            "hs_email_subject": subject,
            "hs_email_text": body,
            "hs_email_direction": "EMAIL",
            "hs_email_status": "SENT",
        }
    elif kind == "meeting":
        out |= {
            "hs_meeting_title": subject,
            "hs_meeting_body": body,
            "hs_meeting_start_time": stamp,
            "hs_meeting_end_time": iso_of_ms(at_ms + 30 * 60_000),
            "hs_meeting_outcome": "COMPLETED",
        }
    elif kind == "note":
        out["hs_note_body"] = body or subject
    elif kind == "task":
        out |= {"hs_task_subject": subject, "hs_task_body": body, "hs_task_status": "COMPLETED"}
    return out


_LATEST = {  # kind -> rollups holding the latest time of that kind
    "page_view": ("hs_analytics_last_visit_timestamp",),
    "form_submission": ("recent_conversion_date",),
    "email_open": ("hs_email_last_open_date",),
    "email_click": ("hs_email_last_click_date",),
    "call": ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp"),
    "email": ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp"),
    "meeting": ("notes_last_updated", "notes_last_contacted", "hs_last_sales_activity_timestamp"),
    "note": ("notes_last_updated",),
    "task": ("notes_last_updated",),
}
_EARLIEST = {
    "page_view": "hs_analytics_first_visit_timestamp",
    "form_submission": "first_conversion_date",
}
_COUNTS = {
    "page_view": "hs_analytics_num_page_views",
    "form_submission": "num_conversion_events",
    "email_open": "hs_email_open",
    "email_click": "hs_email_click",
    "call": "num_contacted_notes",
    "email": "num_contacted_notes",
    "meeting": "num_contacted_notes",
}


def conversion_name(props: dict[str, str]) -> str:
    """`recent_conversion_event_name` / `first_conversion_event_name` of a form submission: the
    page's title and the form's name (`<page title>: <form name>`, as HubSpot shows a conversion
    on a page), the form's name alone when the submission names no page."""
    form = props.get("form_name") or "Form"
    page = props.get("page_title") or ""
    return f"{page}: {form}" if page else form


class RollupTally:
    """Per-contact analytics/conversion/sales-activity rollups HubSpot computes from activity.

    Tallied per activity kind while loading (counts, latest and earliest occurrence), written to
    the contact's properties once (`write`), merged with what the contact already holds.
    """

    __slots__ = ("counts", "first", "last", "visit_days")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last: dict[str, tuple[int, dict[str, str]]] = {}
        self.first: dict[str, tuple[int, dict[str, str]]] = {}
        self.visit_days: set[int] = set()

    def add(self, kind: str, at_ms: int, props: dict[str, str]) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        held = self.last.get(kind)
        if held is None or at_ms > held[0]:
            self.last[kind] = (at_ms, props)
        if kind in _EARLIEST:
            held = self.first.get(kind)
            if held is None or at_ms < held[0]:
                self.first[kind] = (at_ms, props)
        if kind == "page_view":
            self.visit_days.add(at_ms // 86_400_000)

    def write(self, contact: HsObject) -> None:
        p = contact.properties
        for kind, n in self.counts.items():
            counted = _COUNTS.get(kind)
            if counted:
                p[counted] = str(int(p.get(counted) or 0) + n)
        if self.visit_days:
            visits = int(p.get("hs_analytics_num_visits") or 0) + len(self.visit_days)
            p["hs_analytics_num_visits"] = str(visits)
        for kind, (ms, props) in self.last.items():
            for name in _LATEST.get(kind, ()):
                if (parse_ms(p.get(name)) or -1) < ms:
                    p[name] = iso_of_ms(ms)
                    if name == "hs_analytics_last_visit_timestamp":
                        p["hs_analytics_last_url"] = props.get("url", "")
                    elif name == "recent_conversion_date":
                        p["recent_conversion_event_name"] = conversion_name(props)
        for kind, (ms, props) in self.first.items():
            name = _EARLIEST[kind]
            held = parse_ms(p.get(name))
            if held is None or ms < held:
                p[name] = iso_of_ms(ms)
                if name == "first_conversion_date":
                    p["first_conversion_event_name"] = conversion_name(props)


def _contact_properties(
    store: PortalStore, person: Any, company: Any, owners: dict[str, str]
) -> dict[str, str]:
    stage = STAGE_OF_CANONICAL.get(person.lifecycle_stage, person.lifecycle_stage)
    props = {
        "firstname": person.first_name,
        "lastname": person.last_name,
        "email": person.email,
        "jobtitle": person.title,
        "lifecyclestage": stage if stage in LIFECYCLE_STAGES else "lead",
        "hs_lead_status": person.lead_status
        or ("IN_PROGRESS" if person.lifecycle_stage == "sal" else ""),
        "hs_email_optout": "true" if person.unsubscribed else "false",
    }
    if person.owner_id and person.owner_id in owners:
        props["hubspot_owner_id"] = owners[person.owner_id]
    if company is not None:
        props |= {
            "company": company.name,
            "website": company.domain,
            "industry": company.industry,
            "country": company.country,
            "state": company.state,
        }
    for name, value in person.properties.items():
        if name not in store.properties["contacts"]:
            store.properties["contacts"][name] = PropertyDef(
                name, name, group_name="fixture", hubspot_defined=False
            )
        props[name] = str(value)
    return {k: v for k, v in props.items() if v != ""}


def load_portal(
    store: PortalStore, portal: Portal, *, portal_id: int, now_ms: int
) -> dict[str, dict[str, int]]:
    """Fill an empty store; return the id maps {"owners"|"companies"|"people": portal id -> HubSpot id}."""
    store.indexing = False
    owners: dict[str, str] = {}
    for index, owner in enumerate(portal.owners):
        hs_id = str(OWNER_ID_BASE + index + 1)
        owners[owner.id] = hs_id
        store.owners[hs_id] = OwnerRecord(
            hs_id,
            USER_ID_BASE + index + 1,
            owner.email,
            owner.first_name,
            owner.last_name,
            owner.active,
            owner.territory,
            now_ms - 400 * 86_400_000,
        )
    by_company = {c.id: c for c in portal.companies}
    people: dict[str, HsObject] = {}
    for person in portal.people:
        employer = by_company.get(person.company_id or "")
        obj = store.insert(
            "contacts",
            _contact_properties(store, person, employer, owners),
            ms_of(person.modified_at),
            created_ms=ms_of(person.created_at),
        )
        people[person.id] = obj
    companies: dict[str, HsObject] = {}
    for company in portal.companies:
        props = {
            "name": company.name,
            "domain": company.domain,
            "industry": company.industry,
            "numberofemployees": str(company.employees),
            "country": company.country,
            "state": company.state,
        }
        if company.owner_id in owners:
            props["hubspot_owner_id"] = owners[company.owner_id]
        # an existing account, last changed when it was created a year ago: searchable by a run
        # replayed at any instant of the fixture (a run "as of" last week included)
        companies[company.id] = store.insert(
            "companies",
            {k: v for k, v in props.items() if v},
            now_ms - 365 * 86_400_000,
            created_ms=now_ms - 365 * 86_400_000,
        )
    for person in portal.people:  # contacts first so their ids are 1001, 1002, ... in order
        if person.company_id in companies:
            store.link(
                "contacts", people[person.id].id, "companies", companies[person.company_id].id, 1
            )
    mapped_props: dict[int, dict[str, str]] = {}
    tallies: dict[int, RollupTally] = {}
    for activity in portal.activities:
        contact = people.get(activity.person_id)
        if contact is not None:
            tally = tallies.get(contact.id)
            if tally is None:
                tally = tallies[contact.id] = RollupTally()
            record_activity(
                store,
                contact,
                activity,
                portal_id=portal_id,
                owners=owners,
                mapped=mapped_props,
                tally=tally,
            )
    store.sort_events()
    sort_forms(store)
    for task in portal.tasks:
        contact = people.get(task.person_id)
        if contact is None:
            continue
        props = {
            "hs_timestamp": iso_of_ms(ms_of(task.due_at)),
            "hs_task_subject": task.subject,
            "hs_task_status": task.status,
            "hs_task_type": "TODO",
            "hs_task_priority": "MEDIUM",
        }
        if task.owner_id in owners:
            props["hubspot_owner_id"] = owners[task.owner_id]
        if task.task_key and "handoff_task_key" in store.properties["tasks"]:
            props["handoff_task_key"] = task.task_key
        obj = store.insert("tasks", props, contact.updated_ms, created_ms=contact.updated_ms)
        store.link("tasks", obj.id, "contacts", contact.id)
        tallies.setdefault(contact.id, RollupTally()).add("task", obj.created_ms, {})
    for contact_id, tally in tallies.items():
        tally.write(store.objects["contacts"][contact_id])
    store.reindex()
    return {
        "owners": {k: int(v) for k, v in owners.items()},
        "companies": {k: v.id for k, v in companies.items()},
        "people": {k: v.id for k, v in people.items()},
    }


def record_activity(
    store: PortalStore,
    contact: HsObject,
    activity: PortalActivity,
    *,
    portal_id: int,
    owners: dict[str, str],
    mapped: dict[int, dict[str, str]] | None = None,
    tally: RollupTally | None = None,
    logged_ms: int | None = None,
) -> str:
    """Store one activity as an event or engagement; returns its HubSpot id.

    With `tally` (bulk load) rollups are only tallied; without, they are written at once.
    `logged_ms` is when it was recorded (an engagement's hs_lastmodifieddate), default when
    it happened.
    """
    at_ms = ms_of(activity.occurred_at)
    props = activity.properties
    event_type = event_type_for(activity.kind, portal_id)
    if event_type is not None:
        key = id(props)
        hs_props = mapped.get(key) if mapped is not None else None
        if hs_props is None:
            hs_props = {EVENT_PROPERTY_NAMES.get(k, k): v for k, v in props.items()}
            if mapped is not None:
                mapped[key] = hs_props
        event = store.add_event(contact.id, event_type, at_ms, hs_props, keep_sorted=tally is None)
        ident = str(event.id)
        if activity.kind == "form_submission":  # the Forms API holds it too, on every tier
            record_submission(store, contact, at_ms, props, keep_sorted=tally is None)
        elif activity.kind == "page_view" and props.get("url"):
            record_history(store, contact, LAST_URL, at_ms, props["url"])
        elif activity.kind in HISTORY_OF_KIND:
            record_history(store, contact, HISTORY_OF_KIND[activity.kind], at_ms, iso_of_ms(at_ms))
    else:
        engagement = ENGAGEMENT_OF_KIND.get(activity.kind)
        if engagement is None:
            raise ValueError(f"activity {activity.id}: unknown kind {activity.kind!r}")
        owner = owners.get(activity.owner_id or "") or contact.properties.get("hubspot_owner_id")
        obj = store.insert(
            engagement,
            engagement_properties(activity.kind, at_ms, owner, props),
            logged_ms or at_ms,
            created_ms=logged_ms or at_ms,
        )
        store.link(engagement, obj.id, "contacts", contact.id)
        ident = str(obj.id)
    if tally is not None:
        tally.add(activity.kind, at_ms, props)
    else:
        single = RollupTally()
        single.add(activity.kind, at_ms, props)
        single.write(contact)
    store.touch(contact, at_ms)
    return ident
