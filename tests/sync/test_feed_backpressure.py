"""A pull ahead of its decide stage waits for it instead of queueing every person it is ahead by.

The run's pull hands each stored page's person keys to the decide stage through the feed. At
1,000,000 contacts on SQLite the decide stage fell behind the pull (830,000 pulled, 741,000
decided) and the feed queued the 88,000 keys between them: memory growing with N. Here the
decide stage is held at its first chunk while a HubSpot pull (the real client against the
sandbox) runs on: the pull stops PAGES_AHEAD handings ahead, and the run still decides everyone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from sync import feed as feed_module
from sync import pipeline as pipeline_module
from sync import pull as pull_module
from sync.feed import PullFeed
from sync.store.tables import PersonRecord
from tests.faults.fault_stack import drill

CONTACTS = 1000
PAGE = 100  # the sandbox's contact list page; one handing per page below


def test_a_pull_ahead_of_its_decide_stage_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "HELD_PAGES", 1)  # each stored page handed on at once
    monkeypatch.setattr(pipeline_module, "CHECKPOINT_EVERY", PAGE)  # the first chunk: a page
    seen: dict[str, int] = {}
    ready = PullFeed.ready

    def held_back(feed: PullFeed, size: int) -> Iterator[list[str]]:
        for n, chunk in enumerate(ready(feed, size)):
            if n == 0:  # the decide stage busy with its first chunk: the pull goes on alone
                deadline = time.monotonic() + 60
                while (
                    any(t.is_alive() for t in feed._threads)
                    and not feed._pages.full()
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.05)
                seen["queued"] = sum(len(page) for page in list(feed._pages.queue) if page)
                with Session(feed.engine) as session:
                    seen["stored"] = session.exec(
                        select(func.count()).select_from(PersonRecord)
                    ).one()
            yield chunk

    monkeypatch.setattr(PullFeed, "ready", held_back)
    with drill(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", contacts=CONTACTS) as d:
        pipeline = d.pipeline()
        result = pipeline.run()
    assert not result.errors, result.errors
    assert result.tally.scored == CONTACTS  # everyone decided in the end
    # keys waiting in the feed: at most PAGES_AHEAD pages' worth, not the rest of the portal
    assert seen["queued"] <= feed_module.PAGES_AHEAD * PAGE, seen
    assert seen["stored"] < CONTACTS, seen  # the pull waited for the decide stage
