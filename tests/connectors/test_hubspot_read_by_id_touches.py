"""A contact read by id with no activity rollup at all (no call, email, meeting or note ever
logged: HubSpot's Last activity / Last contacted / Last engagement / Next activity dates all
empty) needs no engagement read, even with no cursor (the fast path's one-person pull); one with a
rollup is read as before; a page of a full pull is read as before; the by-id read counts once."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.hubspot.last_touch import LastTouches

LOGGED = "2026-11-20T09:00:00Z"


def _touches() -> LastTouches:
    touches = LastTouches()
    touches.enabled = True
    return touches


def test_a_contact_read_by_id_with_no_rollup_needs_no_engagement_read() -> None:
    touches = _touches()
    touches.keep_read(
        [
            {"id": "new", "properties": {"email": "new@example.com"}},
            {"id": "called", "properties": {"notes_last_updated": LOGGED}},
        ]
    )
    assert touches.recent(["new", "called", "unread"], None) == ["called", "unread"]
    since = datetime(2026, 11, 21, tzinfo=UTC)
    assert touches.recent(["new", "called", "unread"], since) == ["unread"]
    touches.forget(["new", "called"])  # their activity read is done: read as before from now on
    assert touches.recent(["new", "called"], None) == ["new", "called"]


def test_a_full_pull_page_is_read_as_before() -> None:
    touches = _touches()
    touches.keep([{"id": "paged", "properties": {}}])
    assert touches.recent(["paged"], None) == ["paged"]
