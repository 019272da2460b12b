"""What the in-memory adapter does beyond the shared contract: events, refusals, setup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.memory import InMemoryConnector
from connectors.records import FieldChange, OutcomeStatus, RecordEventKind

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _connector() -> InMemoryConnector:
    connector = InMemoryConnector("memory", clock=lambda: T0 + timedelta(days=1), page_size=2)
    for n in range(5):
        connector.put_contact(
            f"c{n}", {"email": f"p{n}@x.example"}, modified_at=T0 + timedelta(minutes=n)
        )
    return connector


def test_pages_and_cursor_follow_modified_order() -> None:
    connector = _connector()
    batches = list(connector.pull_contacts("contact", None, T0 + timedelta(minutes=3)))
    assert [[c.id for c in b.contacts] for b in batches] == [["c0", "c1"], ["c2", "c3"]]
    assert [b.cursor for b in batches] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=3)]


def test_archive_merge_delete_are_events_in_the_window() -> None:
    connector = _connector()
    connector.archive("c0", T0 + timedelta(minutes=10))
    connector.merge("c1", "c2", T0 + timedelta(minutes=11))
    connector.delete("c3", T0 + timedelta(minutes=12))
    batches = list(
        connector.pull_contacts("contact", T0 + timedelta(minutes=10), T0 + timedelta(hours=1))
    )
    events = [e for b in batches for e in b.events]
    assert [(e.kind, e.record_id, e.survivor_id) for e in events] == [
        (RecordEventKind.ARCHIVED, "c0", None),
        (RecordEventKind.MERGED, "c1", "c2"),
        (RecordEventKind.DELETED, "c3", None),
    ]
    assert [c.id for b in batches for c in b.contacts] == ["c2"]  # the survivor changed


def test_refused_writes_are_rejected_with_the_reason_and_others_land() -> None:
    connector = _connector()
    connector.reject_writes("c1", "score", "score must be below 100")
    outcomes = connector.apply_changes(
        [
            FieldChange("memory", "contact", "c0", "score", 50, key="a"),
            FieldChange("memory", "contact", "c1", "score", 500, key="b"),
            FieldChange("memory", "contact", "nope", "score", 1, key="c"),
        ]
    )
    assert [o.status for o in outcomes] == [
        OutcomeStatus.APPLIED,
        OutcomeStatus.REJECTED,
        OutcomeStatus.REJECTED,
    ]
    assert outcomes[1].error == "score must be below 100"
    written = connector.contact("c0")
    assert written is not None and written.fields["score"] == 50
    assert written.modified_at == T0 + timedelta(days=1)


def test_setup_reports_and_creates_missing_fields() -> None:
    connector = InMemoryConnector("memory", clock=lambda: T0, fields=["score", "score_reasons"])
    assert connector.missing_fields() == ["score", "score_reasons"]
    assert connector.create_missing_fields() == ["score", "score_reasons"]
    assert connector.missing_fields() == []
