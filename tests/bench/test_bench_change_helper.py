"""The benchmarks' "10% changed" step changes exactly the count asked for (it changed a whole
page of 100 when asked for 20, so peers' incremental runs read five times the changes)."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.e2e_sync import make_hubspot_changes
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal


def test_changes_exactly_the_contacts_asked_for() -> None:
    now = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    with Sandbox(generate_portal(7, 200, now), salesforce=False) as box:
        assert box.hubspot is not None
        before = {o.id: o.updated_ms for o in box.hubspot.store.objects["contacts"].values()}
        info = box.info
        calls = make_hubspot_changes(
            {"hubspot": {"token": info.hubspot_token, "base_url": info.hubspot_base_url},
             "ca_file": str(info.ca_file)},
            20,
        )  # fmt: skip
        after = {o.id: o.updated_ms for o in box.hubspot.store.objects["contacts"].values()}
    assert calls == 1
    assert sum(after[i] != before[i] for i in before) == 20
