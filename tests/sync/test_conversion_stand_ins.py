"""A form submission known from the contact alone (a stand-in) and the Forms API's canonical one:
the store keeps one of the two (sync/store/conversions.py), on SQLite and PostgreSQL; and the
contact's `recent_conversion_event_name` names a form only when a listed form's name ends it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from config.connections import ActivityMapping
from connectors.errors import FatalError
from connectors.hubspot.conversions import RecentConversions, form_of, stand_in_id
from connectors.records import Activity, ActivityKind, Actor
from sync.store.activities import store_activities
from sync.store.tables import ActivityRecord

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
FORMS = {"Demo request": "f-demo", "Pricing request": "f-pricing", "Newsletter": "f-news"}


def _form(ident: str, contact: str, at: datetime, name: str, form_id: str | None) -> Activity:
    props = {"form_name": name, **({"form_id": form_id} if form_id else {})}
    return Activity(
        "hubspot", ident, contact, ActivityKind.FORM_SUBMISSION, at, Actor.CONTACT, "form", None,
        props,
    )  # fmt: skip


def _stand_in(contact: str, at: datetime, name: str = "Demo request") -> Activity:
    return _form(stand_in_id(contact, at), contact, at, name, FORMS[name])


def _stored(engine: Engine, contact: str) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(ActivityRecord.crm_id).where(col(ActivityRecord.contact_id) == contact)
        )
        return sorted(rows)


def _store(engine: Engine, activities: list[Activity]) -> None:
    with Session(engine) as session:
        store_activities(session, activities)
        session.commit()


def test_the_canonical_submission_replaces_its_stand_in(engine: Engine) -> None:
    other_form = _stand_in("c2", AT, "Pricing request")
    _store(engine, [_stand_in("c1", AT), other_form])
    assert _stored(engine, "c1") == [stand_in_id("c1", AT)]
    # the Forms API's read of the same submission, 200 ms apart; another form of another person
    _store(engine, [_form("form:conv-1", "c1", AT + timedelta(milliseconds=200), "Demo request",
                          "f-demo"),
                    _form("form:conv-2", "c2", AT, "Demo request", "f-demo")])  # fmt: skip
    assert _stored(engine, "c1") == ["form:conv-1"]
    assert _stored(engine, "c2") == ["form:conv-2", other_form.id]  # not the same form


def test_a_stand_in_of_a_submission_already_read_is_not_stored(engine: Engine) -> None:
    _store(engine, [_form("form:conv-1", "c1", AT, "Demo request", "f-demo")])
    _store(engine, [_stand_in("c1", AT)])  # the fast path reading the contact afterwards
    assert _stored(engine, "c1") == ["form:conv-1"]
    later = AT + timedelta(minutes=2)  # a second submission of the same form: not the same one
    _store(engine, [_stand_in("c1", later)])
    assert _stored(engine, "c1") == ["form:conv-1", stand_in_id("c1", later)]


def test_the_event_name_names_a_listed_form() -> None:
    assert form_of("Book a demo: Demo request", FORMS) == ("Demo request", "f-demo")
    assert form_of("demo request", FORMS) == ("Demo request", "f-demo")
    assert form_of("Meetings Link: avery-quinn", FORMS) is None  # a conversion, not a form
    assert form_of("Request: a demo", FORMS) is None


def test_a_contact_read_by_id_tells_of_its_latest_form_submission() -> None:
    mapping = ActivityMapping(source="form_submissions", kind=ActivityKind.FORM_SUBMISSION)
    conversions = RecentConversions("hubspot", [mapping])
    reads: list[int] = []

    def read_forms() -> list[dict[str, str]]:
        reads.append(1)
        return [{"name": k, "id": v} for k, v in FORMS.items()]

    conversions.read_forms = read_forms
    stamp = AT.isoformat().replace("+00:00", "Z")
    conversions.keep(
        [
            {"id": "7", "properties": {"recent_conversion_date": stamp, "asset_stage": "Bottom",
                                       "recent_conversion_event_name": "Book a demo: Demo request"}},
            {"id": "8", "properties": {"recent_conversion_date": stamp,
                                       "recent_conversion_event_name": "Meetings Link: x"}},
            {"id": "9", "properties": {"email": "no-conversion@example.com"}},
        ]
    )  # fmt: skip
    found = list(conversions.stand_ins(["7", "8", "9", "10"]))
    assert [(a.id, a.kind, a.occurred_at) for a in found] == [
        (stand_in_id("7", AT), ActivityKind.FORM_SUBMISSION, AT)
    ]
    props = found[0].properties
    assert (props["form_name"], props["form_id"], props["asset_stage"]) == (
        "Demo request",
        "f-demo",
        "bottom",
    )
    assert len(reads) == 1  # the definitions once, for the first name; trusted for the next


def test_forms_refused_means_no_stand_in_and_no_failed_decision() -> None:
    mapping = ActivityMapping(source="form_submissions", kind=ActivityKind.FORM_SUBMISSION)
    conversions = RecentConversions("hubspot", [mapping])

    def refused() -> list[dict[str, str]]:
        raise FatalError("forms scope missing", connection="hubspot", status=403)

    conversions.read_forms = refused
    stamp = AT.isoformat().replace("+00:00", "Z")
    conversions.keep(
        [{"id": "7", "properties": {"recent_conversion_date": stamp,
                                    "recent_conversion_event_name": "Demo request"}}]
    )  # fmt: skip
    assert list(conversions.stand_ins(["7"])) == []  # the scheduled sync's stream reads it
