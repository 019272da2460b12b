"""Form submissions held for the pages of a run that lists every contact
(connectors/hubspot/held_forms.py): each goes to the contact whose email submitted it, once;
one after the run's start is the next run's; what no page took is looked up afterwards, a batch
of emails a call, and a submitter the look-up does not find is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.hubspot.held_forms import HeldSubmissions

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_a_page_takes_its_contacts_submissions_once_and_the_rest_is_looked_up() -> None:
    held = HeldSubmissions(START)
    early, later = START - timedelta(days=2), START - timedelta(hours=1)
    held.add("ava.reed@northwind.com", _ms(later), {"conversionId": "b"})
    held.add("ava.reed@northwind.com", _ms(early), {"conversionId": "a"})
    held.add("ben.ortiz@northwind.com", _ms(early), {"conversionId": "c"})
    held.add("visitor@nowhere.com", _ms(early), {"conversionId": "d"})
    held.add(None, _ms(early), {"conversionId": "e"})  # no email: nobody's
    held.add("ava.reed@northwind.com", _ms(START + timedelta(seconds=1)), {"conversionId": "f"})

    page = held.take([(" Ava.Reed@Northwind.com ", "101"), (None, "102"), ("x@y.z", "103")])
    assert [(c, ms, raw["conversionId"]) for c, ms, raw in page] == [
        ("101", _ms(early), "a"),  # oldest first
        ("101", _ms(later), "b"),  # "f" came after the run's start: the next run's
    ]
    assert held.take([("ava.reed@northwind.com", "101")]) == []  # taken once

    asked: list[list[str]] = []

    def lookup(emails: list[str]) -> dict[str, str]:
        asked.append(emails)
        return {e: "202" for e in emails if e.startswith("ben.")}

    rest = list(held.rest(lookup, size=1))
    assert asked == [["ben.ortiz@northwind.com"], ["visitor@nowhere.com"]]  # one email a call
    assert [(c, raw["conversionId"]) for c, _, raw in rest] == [("202", "c")]
    assert held.latest == later  # the newest held up to the run's start: the cursor's move
    held.close()
