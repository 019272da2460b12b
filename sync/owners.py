"""The CRM's owners (the reps) in the state store, by connection.

Every pull stores them first. A one-person decision (the webhook fast path, `handoff sync
--only`) reads them itself when its connection has none stored yet: in a deployment's first
seconds the first sync has not stored them, and a demo request routed against an empty
directory got its stage and score but no owner, then waited for the next scheduled sync.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, col, select

from connectors.base import CrmConnector
from sync.store.tables import OwnerRecord
from sync.store.upsert import upsert


def store_owners(session: Session, connector: CrmConnector) -> int:
    """The connection's owners as the CRM lists them now, stored (not committed); how many."""
    owners = connector.pull_owners()
    rows = [
        {
            "connection": connector.name,
            "crm_id": o.id,
            "email": o.email.lower() if o.email else None,
            "name": o.name,
            "active": o.active,
        }
        for o in owners
    ]
    upsert(session, OwnerRecord, rows)
    return len(owners)


def owners_for_new_connections(session: Session, connectors: Mapping[str, CrmConnector]) -> None:
    """Store the owners of each connection that has none stored yet, and commit."""
    for name, connector in sorted(connectors.items()):
        known = session.exec(
            select(OwnerRecord.crm_id).where(col(OwnerRecord.connection) == name).limit(1)
        ).first()
        if known is None:
            store_owners(session, connector)
            session.commit()
