"""Who can take leads right now, as the CRMs report it: the owner directory the router reads.

Built by the pipeline from the owners the connectors pulled (e-mail -> active), the mapped CRM
out-of-office field when there is one, and the count of open, unworked leads per rep. Config
out-of-office ranges and working hours are applied by the router on top of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.records import Owner


@dataclass(frozen=True, slots=True)
class RepStatus:
    email: str
    active: bool = True
    out_of_office: bool = False  # the CRM's out-of-office field, when mapped
    open_leads: int = 0  # open, unworked leads when the directory was built


@dataclass(frozen=True, slots=True)
class OwnerDirectory:
    """A snapshot of owners as of `as_of`.

    `open_leads` counts are a snapshot: the router adds the assignments it recorded since `as_of`
    so a batch (or a second worker) does not overfill a rep between two pulls.
    """

    as_of: datetime
    statuses: Mapping[str, RepStatus] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("OwnerDirectory.as_of must be tz-aware UTC")

    @classmethod
    def from_owners(
        cls,
        owners: Iterable[Owner],
        as_of: datetime,
        *,
        out_of_office: Iterable[str] = (),
        open_leads: Mapping[str, int] | None = None,
    ) -> OwnerDirectory:
        """Merge owners from every connection by e-mail.

        An owner deactivated in any connection counts as inactive: assigning there would fail.
        Owners without an e-mail cannot be routed to and are left out.
        """
        active: dict[str, bool] = {}
        for owner in owners:
            if not owner.email:
                continue
            email = owner.email.strip().lower()
            active[email] = active.get(email, True) and owner.active
        away = {e.strip().lower() for e in out_of_office}
        counts = {k.strip().lower(): v for k, v in (open_leads or {}).items()}
        statuses = {
            email: RepStatus(
                email=email,
                active=is_active,
                out_of_office=email in away,
                open_leads=counts.get(email, 0),
            )
            for email, is_active in active.items()
        }
        return cls(as_of=as_of, statuses=statuses)

    def status(self, email: str) -> RepStatus | None:
        return self.statuses.get(email.strip().lower())

    def is_active(self, email: str) -> bool:
        status = self.status(email)
        return status is not None and status.active

    def unknown(self, emails: Iterable[str]) -> list[str]:
        """Configured people the CRMs do not know (for `config validate` with connections)."""
        return sorted(e for e in emails if self.status(e) is None)
