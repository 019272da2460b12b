"""Which people a run decides, a page at a time (sync/dirty.py): a full run reads only who has
an active record, in the key index's order, and every such person comes once however the pages
cut through a person's records; an incremental run's pages give the same people as one page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from sync.dirty import dirty_people
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import PersonRecord, PersonState

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _store(url: str) -> tuple[Engine, set[str], set[str]]:
    engine = make_engine(url)
    upgrade(engine)
    active: set[str] = set()
    changed: set[str] = set()
    with Session(engine) as session:
        for person in range(23):
            key = f"p{person:02d}"
            for record in range(1 + person % 3):  # one to three records a person
                status = "archived" if person % 7 == 0 else "active"  # every record archived
                modified = NOW - timedelta(hours=person + record)
                session.add(
                    PersonRecord(
                        connection=f"crm{record}",
                        crm_id=f"{person}-{record}",
                        object_type="contact",
                        person_key=key,
                        modified_at=modified,
                        status=status,
                    )
                )
            if person % 7:
                active.add(key)
                seen = NOW - timedelta(hours=person) if person % 2 else NOW - timedelta(days=9)
                session.add(PersonState(person_key=key, computed_at=NOW, source_modified_at=seen))
                if not person % 2:  # its records changed after it was last decided
                    changed.add(key)
        session.commit()
    return engine, active, changed


def test_a_full_run_reads_every_active_person_once_whatever_the_pages(store_url: str) -> None:
    engine, active, changed = _store(store_url)
    with Session(engine) as session:
        for page in (1, 2, 5, 100):  # a full run's pages hold 10 x `page` records
            pages = list(dirty_people(session, NOW, full=True, page=page))
            found = [key for keys in pages for key in keys]
            assert sorted(found) == sorted(active), page  # each once, archived people not
            assert found == sorted(found)  # in key order
        whole = list(dirty_people(session, NOW, page=1000))
        assert len(whole) == 1
        assert set(whole[0]) == changed
        for page in (1, 4):
            assert [k for keys in dirty_people(session, NOW, page=page) for k in keys] == whole[0]
