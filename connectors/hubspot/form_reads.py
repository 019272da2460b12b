"""The Forms API as a run reads it (`forms.py`), on every tier.

- per batch of contacts (`for_contacts`: the contract suite, a connector not streaming events);
- as the run's one stream, each submitter looked up by email (`stream`: an incremental run);
- held for the pages of a run that lists every contact (`hold`, then `for_page` as each page's
  activities are read, then `unclaimed` after the last page: `held_forms.py`).

A page's contacts read while the stream is elsewhere also get their latest submission as a
stand-in from their own conversion properties (`conversions.py`): the fast path's one-person read
beside a run. A refused scope (the app lacks `forms`) is one warning, and no more reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from connectors.errors import ConnectorError, unless_refused
from connectors.hubspot.conversions import RecentConversions
from connectors.hubspot.forms import FormSubmissions
from connectors.hubspot.held_forms import HeldSubmissions
from connectors.records import Activity, Contact


class FormReads:
    def __init__(
        self,
        forms: FormSubmissions,
        conversions: RecentConversions | None,
        *,
        warn: Callable[[str], None],
        refused: Callable[[ConnectorError], bool],
    ) -> None:
        self._forms: FormSubmissions | None = forms
        self._conversions = conversions
        self._held: HeldSubmissions | None = None
        self._warn = warn
        self._refused = refused
        if conversions is not None:
            forms.on_forms = conversions.know_forms  # the form names stand-ins are of
            conversions.read_forms = forms.forms

    def for_contacts(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        """These contacts' submissions since `since` (read per batch)."""
        return self._read(lambda f: f.for_contacts(contacts, since))

    def for_page(self, contacts: Sequence[Contact], ids: list[str]) -> Iterator[Activity]:
        """A page's submissions while the run's stream reads them: those held for it by email
        (a run listing every contact), and each contact's latest as a stand-in (the stream reads
        the submissions later, or read them before this one came: a fast path beside a run that
        holds them), which the canonical submission replaces (sync/store/conversions.py)."""
        if self._forms is None:
            return
        if self._held is not None:
            yield from self._forms.signals(self._held.take((c.email, c.id) for c in contacts))
        if self._conversions is not None:
            yield from self._conversions.stand_ins(ids)

    def stream(self, since: datetime | None) -> Iterator[Activity]:
        """Every submission since `since`, ascending, its submitter looked up."""
        return self._read(lambda f: f.stream(since))

    def hold(self, since: datetime | None, until: datetime) -> None:
        """Every submission since `since` held for the pages (after `until`: the next run's)."""
        if self._forms is None:
            return
        self.release()
        try:
            self._held = self._forms.hold(since, until)
        except ConnectorError as exc:
            if not self._refused(exc):
                raise
            self._forms_refused(exc)

    def unclaimed(self) -> tuple[list[Activity], datetime | None]:
        """The held submissions no page took (their submitters looked up), and the newest
        submission held: where the stream's cursor goes. Nothing is held after this."""
        held, forms = self._held, self._forms
        if held is None or forms is None:
            return [], None
        try:
            return list(forms.unclaimed(held)), held.latest
        finally:
            self.release()

    def release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def _read(self, read: Callable[[FormSubmissions], Iterator[Activity]]) -> Iterator[Activity]:
        forms = self._forms
        if forms is None:
            return iter(())
        return unless_refused(lambda: read(forms), self._refused, self._forms_refused)

    def _forms_refused(self, exc: ConnectorError) -> None:
        self._warn(
            f"form submissions unavailable: the Forms API refused ({exc}); "
            "grant the app the forms scope"
        )
        self._forms = None
