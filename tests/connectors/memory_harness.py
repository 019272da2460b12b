"""Builds an `InMemoryConnector` holding a `Portal`, the way the emulators present it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.memory import InMemoryConnector
from connectors.records import Activity, ActivityKind, Actor, Owner
from sandbox.portal import Portal

REP_KINDS = {"call", "email", "meeting", "note", "task"}


def build_memory_connector(portal: Portal) -> tuple[InMemoryConnector, None, Callable[[], None]]:
    connector = InMemoryConnector("memory", clock=lambda: datetime.now(UTC))
    for owner in portal.owners:
        connector.add_owner(
            Owner(
                "memory",
                owner.id,
                owner.email,
                f"{owner.first_name} {owner.last_name}",
                owner.active,
            )
        )
    for person in portal.people:
        connector.put_contact(
            person.id,
            {
                "email": person.email,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "title": person.title,
                "owner_id": person.owner_id,
            },
            modified_at=person.modified_at,
            created_at=person.created_at,
        )
    for activity in portal.activities:
        rep = activity.kind in REP_KINDS
        connector.add_activity(
            Activity(
                "memory",
                activity.id,
                activity.person_id,
                ActivityKind(activity.kind),
                activity.occurred_at,
                Actor.REP if rep else Actor.CONTACT,
                owner_id=activity.owner_id if rep else None,
                properties=dict(activity.properties),
            )
        )
    return connector, None, connector.close
