"""The fast path's catch-up watermark (sync/catch_up.py): stored per connection, forward only;
a store from before it starts from the last webhook event handled; what a pass queues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from sync.catch_up import MARGIN, advance_watermark, read_watermark, to_decide
from sync.store.tables import WebhookEventSeen

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)


def test_the_watermark_moves_only_forward(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        assert read_watermark(session, "hubspot") is None
        advance_watermark(session, "hubspot", T0)
        session.commit()
        advance_watermark(session, "hubspot", T0 - timedelta(minutes=1))  # back: ignored
        advance_watermark(session, "other", T0 - timedelta(hours=1))
        session.commit()
        assert read_watermark(session, "hubspot") == T0
        advance_watermark(session, "hubspot", T0 + timedelta(seconds=3))
        session.commit()
        assert read_watermark(session, "hubspot") == T0 + timedelta(seconds=3)
        assert read_watermark(session, "other") == T0 - timedelta(hours=1)


def test_a_store_from_before_starts_from_the_last_event_handled(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        for n, at in enumerate((T0, T0 + timedelta(seconds=9))):
            session.add(WebhookEventSeen(connection="hubspot", event_key=f"e{n}", handled_at=at))
        session.commit()
        assert read_watermark(session, "hubspot") == T0 + timedelta(seconds=9)
        assert read_watermark(session, "other") is None


def test_a_pass_queues_conversions_after_the_mark_and_undecided_ones_before_it() -> None:
    mark = T0
    found = [
        ("decided-in-overlap", T0 - timedelta(seconds=30)),
        ("undecided-in-overlap", T0 - timedelta(seconds=20)),
        ("decided-too-early", T0 - timedelta(seconds=10)),
        ("after-the-mark", T0 + timedelta(seconds=5)),
        ("queued-already", T0 + timedelta(seconds=6)),
    ]
    decided = {
        "decided-in-overlap": T0 - timedelta(seconds=25),
        "decided-too-early": T0 - timedelta(seconds=10) + MARGIN - timedelta(milliseconds=1),
        "after-the-mark": T0 + timedelta(seconds=7),  # decided: its task may not be made
    }
    queued = to_decide(found, mark, decided, {"queued-already"})
    assert [c for c, _ in queued] == ["undecided-in-overlap", "decided-too-early", "after-the-mark"]


def test_a_pass_does_not_queue_again_whom_this_life_decided_after_their_conversion() -> None:
    # the watermark waits for the oldest event still queued: with the queue behind, conversions
    # after it include people this worker has decided since, rungs and all
    mark = T0
    found = [
        ("decided-here-since", T0 + timedelta(seconds=5)),
        ("converted-again-since", T0 + timedelta(seconds=8)),
        ("decided-by-a-life-before", T0 + timedelta(seconds=9)),
    ]
    finished = {  # this life's whole decisions: when each began
        "decided-here-since": T0 + timedelta(seconds=6),
        "converted-again-since": T0 + timedelta(seconds=7),
    }
    decided = {"decided-by-a-life-before": T0 + timedelta(seconds=10)}  # its task may not be made
    queued = to_decide(found, mark, decided, set(), finished)
    assert [c for c, _ in queued] == ["converted-again-since", "decided-by-a-life-before"]
