"""The owner directory built from pulled owners: merged by e-mail, deactivation wins."""

from __future__ import annotations

from datetime import datetime

import pytest
from routing_support import NOW

from connectors.records import Owner
from routing.directory import OwnerDirectory


def test_owners_merge_by_email_and_any_deactivation_wins() -> None:
    owners = [
        Owner("hubspot", "1", "Ann@X.com", active=True),
        Owner("salesforce", "005A", "ann@x.com", active=False),
        Owner("hubspot", "2", "bob@x.com"),
        Owner("salesforce", "005B", None),  # no e-mail: cannot be routed to
    ]
    directory = OwnerDirectory.from_owners(
        owners, NOW, out_of_office=["BOB@x.com"], open_leads={"Bob@x.com": 4}
    )
    assert set(directory.statuses) == {"ann@x.com", "bob@x.com"}
    assert not directory.is_active("ann@x.com")
    bob = directory.status(" bob@x.com ")
    assert bob is not None and bob.active and bob.out_of_office and bob.open_leads == 4
    assert directory.unknown(["bob@x.com", "carl@x.com"]) == ["carl@x.com"]
    assert not directory.is_active("carl@x.com")


def test_snapshot_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        OwnerDirectory(as_of=datetime(2026, 11, 23, 10, 0))
