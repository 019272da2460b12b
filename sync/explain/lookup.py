"""Find one person in the state store by email, CRM record id or person key."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from sync.store.tables import PersonRecord


class PersonNotFound(LookupError):
    """No person, or several, answer to what was asked; the message says what to do."""


def find_person(session: Session, who: str) -> str:
    """The person key for an email, a CRM record id (any connection; `connection:id` to pick
    one) or a person key as the store holds it (`email:...`)."""
    wanted = who.strip()
    if not wanted:
        raise PersonNotFound("give an email or a CRM record id, e.g. dana@ledgerly.com")
    query = select(PersonRecord.person_key, PersonRecord.connection, PersonRecord.crm_id)
    if wanted.startswith(("email:", "id:", "record:")):
        rows = session.exec(query.where(col(PersonRecord.person_key) == wanted)).all()
    elif "@" in wanted:
        rows = session.exec(
            query.where(func.lower(col(PersonRecord.email)) == wanted.lower())
        ).all()
    else:
        connection, _, crm_id = wanted.rpartition(":")
        where = col(PersonRecord.crm_id) == crm_id
        if connection:
            where = where & (col(PersonRecord.connection) == connection)
        rows = session.exec(query.where(where)).all()
    keys = sorted({key for key, _, _ in rows})
    if not keys:
        raise PersonNotFound(
            f"nobody in the state store answers to {wanted!r}: check the email or record id, "
            "or run a full `handoff sync` first (people are found among those it mirrored)"
        )
    if len(keys) > 1:
        places = ", ".join(sorted(f"{connection}:{crm_id}" for _, connection, crm_id in rows))
        raise PersonNotFound(
            f"{wanted!r} matches several people ({places}): name one as connection:record_id"
        )
    return keys[0]
