"""The account owner guess (`routing.account_owner_from_contacts`) for one person reads only
their domain's people, and finds what the whole store's map finds for that domain."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from sync.people import OwnerBook, account_owners
from sync.store.tables import OwnerRecord, PersonRecord

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _person(n: int, domain: str, owner: str, status: str = "active") -> PersonRecord:
    return PersonRecord(
        connection="crm",
        crm_id=f"c{n}",
        object_type="contact",
        person_key=f"email:p{n}@{domain.lower()}",
        fields={"company_domain": domain, "owner_id": owner},
        modified_at=NOW,
        status=status,
    )


def test_one_domain_is_read_alone_and_agrees_with_the_whole_store(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                OwnerRecord(connection="crm", crm_id="o1", email="ann@x.com"),
                OwnerRecord(connection="crm", crm_id="o2", email="bo@x.com"),
                _person(1, "BigCo.com", "o1"),
                _person(2, "bigco.com", "o2"),
                _person(3, "bigco.com", "o2"),
                _person(4, "bigco.com", "o1", status="deleted"),
                _person(5, "other.io", "o1"),
                _person(6, "gmail.com", "o1"),
            ]
        )
        session.commit()
        owners = OwnerBook.load(session)
        shared = frozenset({"gmail.com"})
        whole = account_owners(session, owners, shared)
        assert whole == {"bigco.com": "bo@x.com", "other.io": "ann@x.com"}
        assert account_owners(session, owners, shared, ["BIGCO.com"]) == {"bigco.com": "bo@x.com"}
        assert account_owners(session, owners, shared, ["gmail.com"]) == {}
        assert account_owners(session, owners, shared, []) == {}
