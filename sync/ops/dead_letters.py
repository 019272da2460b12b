"""`handoff outbox list|retry|drop`: dead letters, with the CRM's reason, put back or dropped.

Retry puts a dead item back to `pending` with its attempts reset: the next run (or `--now`) sends
it. Drop marks it `dropped`. Both record who and when (`outbox_actions`), both are idempotent (an
item already pending or dropped is left as it is and said so), and both run under the store's
writer lock like any other writer. A dead item is not put back when a newer decision for the same
field was planned since: sending the old value would undo it.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync.ops.tables import OutboxAction
from sync.store.tables import OutboxItem
from sync.store.types import utc_now

LISTED = ("dead", "rejected", "dropped", "pending", "sending")


class NotFound(Exception):
    """A key names no item (or several, when abbreviated)."""


def actor() -> str:
    """Who runs this command: HANDOFF_ACTOR, else user@host."""
    explicit = os.environ.get("HANDOFF_ACTOR")
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def as_row(item: OutboxItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "status": item.status,
        "connection": item.connection,
        "object_type": item.object_type,
        "record_id": item.record_id,
        "kind": item.kind,
        "field": item.field,
        "value": item.value,
        "attempts": item.attempts,
        "reason": item.last_error,
        "run_id": item.run_id,
        "created_at": item.created_at.isoformat() if item.created_at else None,
    }


def list_items(
    engine: Engine, statuses: Sequence[str] = ("dead",), connection: str | None = None
) -> list[dict[str, Any]]:
    with Session(engine) as session:
        query = select(OutboxItem).where(col(OutboxItem.status).in_(statuses))
        if connection:
            query = query.where(OutboxItem.connection == connection)
        items = session.exec(query.order_by(col(OutboxItem.created_at), OutboxItem.key)).all()
        return [as_row(i) for i in items]


@dataclass(frozen=True)
class Outcome:
    key: str
    done: bool  # changed now (False: nothing to do, `note` says why)
    note: str


def _resolve(session: Session, keys: Sequence[str]) -> list[OutboxItem]:
    found: list[OutboxItem] = []
    for key in keys:
        if len(key) < 8:
            raise NotFound(f"{key!r}: give at least 8 characters of the key")
        items = session.exec(
            select(OutboxItem).where(col(OutboxItem.key).startswith(key)).limit(2)
        ).all()
        if not items:
            raise NotFound(f"no outbox item with key {key}: see `handoff outbox list`")
        if len(items) > 1:
            raise NotFound(f"{key} names several outbox items: give more of the key")
        found.append(items[0])
    return found


def _select(
    session: Session, keys: Sequence[str], every: bool, connection: str | None
) -> list[OutboxItem]:
    if keys:
        return _resolve(session, keys)
    if not every:
        raise NotFound("name the items' keys, or --all for every dead letter")
    query = select(OutboxItem).where(OutboxItem.status == "dead")
    if connection:
        query = query.where(OutboxItem.connection == connection)
    return list(session.exec(query.order_by(col(OutboxItem.created_at))).all())


def _newer_decision(session: Session, item: OutboxItem) -> OutboxItem | None:
    if item.kind != "field":
        return None
    return session.exec(
        select(OutboxItem).where(
            OutboxItem.connection == item.connection,
            OutboxItem.record_id == item.record_id,
            OutboxItem.field == item.field,
            OutboxItem.kind == "field",
            OutboxItem.key != item.key,
            col(OutboxItem.created_at) > item.created_at,
            col(OutboxItem.status).not_in(("superseded", "dropped", "dead")),
        )
    ).first()


def _record(session: Session, item: OutboxItem, action: str, who: str, now: datetime) -> None:
    """Who did what to the item, when, from which status, and the CRM's last reason."""
    session.add(
        OutboxAction(
            outbox_key=item.key,
            action=action,
            actor=who,
            at=now,
            previous_status=item.status,
            reason=item.last_error,
        )
    )


def retry(
    engine: Engine,
    keys: Sequence[str] = (),
    *,
    every: bool = False,
    connection: str | None = None,
    who: str | None = None,
    now: datetime | None = None,
) -> list[Outcome]:
    """Dead items back to pending for the next run."""
    now = now or utc_now()
    who = who or actor()
    outcomes: list[Outcome] = []
    with Session(engine) as session:
        for item in _select(session, keys, every, connection):
            if item.status in ("pending", "sending", "rejected"):
                outcomes.append(Outcome(item.key, False, f"already {item.status}: sent next run"))
                continue
            if item.status != "dead":
                outcomes.append(Outcome(item.key, False, f"is {item.status}: only dead letters"))
                continue
            newer = _newer_decision(session, item)
            if newer is not None:
                outcomes.append(
                    Outcome(
                        item.key,
                        False,
                        f"a newer decision for {item.field} ({newer.key[:12]}, {newer.status}) "
                        "replaces it: drop this one instead",
                    )
                )
                continue
            _record(session, item, "retry", who, now)
            item.status, item.attempts, item.next_attempt_at = "pending", 0, None
            session.add(item)
            outcomes.append(Outcome(item.key, True, "pending: sent by the next run"))
        session.commit()
    return outcomes


def drop(
    engine: Engine,
    keys: Sequence[str] = (),
    *,
    every: bool = False,
    connection: str | None = None,
    who: str | None = None,
    now: datetime | None = None,
) -> list[Outcome]:
    """Dead (or still retried) items marked dropped: never sent."""
    now = now or utc_now()
    who = who or actor()
    outcomes: list[Outcome] = []
    with Session(engine) as session:
        for item in _select(session, keys, every, connection):
            if item.status == "dropped":
                last = session.exec(
                    select(OutboxAction)
                    .where(OutboxAction.outbox_key == item.key, OutboxAction.action == "drop")
                    .order_by(col(OutboxAction.at).desc())
                ).first()
                by = f" by {last.actor} at {last.at:%Y-%m-%d %H:%M}Z" if last else ""
                outcomes.append(Outcome(item.key, False, f"already dropped{by}"))
                continue
            if item.status not in ("dead", "rejected", "pending"):
                outcomes.append(Outcome(item.key, False, f"is {item.status}: nothing to drop"))
                continue
            _record(session, item, "drop", who, now)
            item.status = "dropped"
            session.add(item)
            outcomes.append(Outcome(item.key, True, f"dropped by {who}"))
        session.commit()
    return outcomes
