"""A run that lists every contact matches the form submissions to them on its pages, by email:
no contacts batch read by email but for what no page took. Its decisions, read back through
hubspot-api-client, are field for field those of the same run looking every submitter up (the
control: the path an incremental run takes). And a run stopped after its first page of people
leaves the submissions' cursor where it was: the next run reads them again, and the portal ends
with the control's stages, scores and reasons.

The portal: the seeded one (seed 11, 250 contacts: three pages, its 90 days of form
submissions), three demo requests by new contacts (the submission makes them), and one by a
contact archived since (no page lists it, the lookup does not find it: it is dropped, as an
incremental run drops it). Every run of a test decides at one moment, a little after the test's
submissions, so their decisions compare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from crm_clients import CrmPerson, HubSpotClient
from demo_requests import hubspot_form, submit_form
from e2e_stack import SEED_NOW, Stack, build_stack
from sqlmodel import Session, select

from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest
from sync.pull import PullStage
from sync.store.tables import ActivityRecord, SyncCursor

pytestmark = pytest.mark.slow
DEMO = ("ava.reed", "ben.ortiz", "cleo.sato")  # new contacts, made by their demo request
GONE = "dana.vogel@northwind-analytics.com"
CONTACTS = 250


@dataclass
class Outcome:
    people: dict[str, CrmPerson]  # by email
    # form submissions stored, by contact (a planted one's id is the sandbox's random uuid)
    forms: Counter[str]
    lookups: int  # contacts batch reads by email


@contextmanager
def _stack(directory: Path) -> Iterator[Stack]:
    """The portal, planted (demo requests, the archived submitter), an SQLite store."""
    directory.mkdir()
    portal = generate_portal(11, CONTACTS, SEED_NOW)
    url = f"sqlite:///{directory / 'state.db'}"
    for stack in build_stack("hubspot", directory, url, portal=portal):
        api = HubSpotClient(stack.sandbox, stack.config).api
        form = hubspot_form(api)
        for name in DEMO:
            submit_form(stack.sandbox.info, form, f"{name}@northwind-analytics.com")
        submit_form(stack.sandbox.info, form, GONE)
        gone = api.crm.contacts.basic_api.get_by_id(GONE, id_property="email")
        api.crm.contacts.basic_api.archive(gone.id)
        yield stack


def _by_email(request: SandboxRequest) -> bool:
    return (
        request.method == "POST"
        and request.path.rstrip("/").endswith("/objects/contacts/batch/read")
        and (request.json() or {}).get("idProperty") == "email"
    )


def _outcome(stack: Stack, lookups: int) -> Outcome:
    client = HubSpotClient(stack.sandbox, stack.config)
    people: dict[str, CrmPerson] = {}
    after = None
    while True:
        page = client.api.crm.contacts.basic_api.get_page(
            limit=100, after=after, properties=["email"]
        )
        for contact in page.results:
            people[contact.properties["email"]] = client.person("contact", str(contact.id))
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    with Session(stack.engine) as session:
        forms = Counter(
            a.contact_id
            for a in session.exec(select(ActivityRecord))
            if a.crm_id.startswith("form:")
        )
    return Outcome(people, forms, lookups)


def _run(
    stack: Stack, as_of: datetime, *, lookup_all: bool, monkeypatch: pytest.MonkeyPatch
) -> int:
    """One run; how many contacts batch reads by email it made."""
    seen: list[SandboxRequest] = []
    stack.sandbox.server("hubspot").before_request.append(
        lambda r: seen.append(r) if _by_email(r) else None
    )
    with monkeypatch.context() as patch:
        if lookup_all:  # the control: every submitter looked up, as an incremental run does
            patch.setattr(PullStage, "_lists_everyone", lambda self: False)
        result = stack.pipeline().run(as_of=as_of)
    assert not result.errors, result.errors
    return len(seen)


def _control(tmp_path: Path, as_of: datetime, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    with _stack(tmp_path / "control") as stack:
        return _outcome(stack, _run(stack, as_of, lookup_all=True, monkeypatch=monkeypatch))


def _moment() -> datetime:
    """The test's runs' moment: after every submission the test makes (they take seconds)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=15)


def test_submissions_matched_on_pages_decide_as_looked_up_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = _moment()
    control = _control(tmp_path, as_of, monkeypatch)
    with _stack(tmp_path / "held") as stack:
        held = _outcome(stack, _run(stack, as_of, lookup_all=False, monkeypatch=monkeypatch))
    assert control.lookups >= 2  # every submitter, 100 a call
    assert held.lookups == 1  # the archived submitter alone: no page took it
    assert held.forms == control.forms
    assert held.forms.total() > len(DEMO)  # the seeded portal's submissions too
    assert held.people == control.people  # stage, score, reasons, owner, tasks: all of them
    for name in DEMO:  # the demo requests reached the decision
        person = held.people[f"{name}@northwind-analytics.com"]
        assert person.stage == "marketingqualifiedlead" and person.owner, person
        assert "Requested a demo" in person.reasons, person


def test_a_run_stopped_after_its_first_page_reads_the_submissions_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = _moment()
    control = _control(tmp_path, as_of, monkeypatch)
    with _stack(tmp_path / "stopped") as stack:
        pipeline = stack.pipeline()
        pages: list[SandboxRequest] = []

        def stop_after_first_page(request: SandboxRequest) -> None:
            if request.method == "GET" and request.path.rstrip("/").endswith("objects/contacts"):
                pages.append(request)
                if len(pages) == 2:  # the second page is read: stop the run
                    pipeline.stopping.set()

        stack.sandbox.server("hubspot").before_request.append(stop_after_first_page)
        first = pipeline.run(as_of=as_of)
        assert first.pulls["hubspot"].people < CONTACTS  # stopped before its last page
        with Session(stack.engine) as session:
            events = session.get(SyncCursor, ("hubspot", "events"))
        assert events is None  # held back: its submissions were not all taken
        stack.sandbox.server("hubspot").before_request.clear()
        pipeline.stopping.clear()
        _run(stack, as_of, lookup_all=False, monkeypatch=monkeypatch)
        resumed = _outcome(stack, 0)
    assert resumed.forms == control.forms
    # the same stage, score and reasons for everyone, an owner for whoever the control routed
    # (which rep: the round robin's turn, taken in another order by a run stopped halfway)
    assert _decided(resumed) == _decided(control)


def _decided(outcome: Outcome) -> dict[str, tuple[object, ...]]:
    return {
        email: (p.stage, p.score, p.reasons, p.owner is not None, len(p.tasks))
        for email, p in outcome.people.items()
    }
