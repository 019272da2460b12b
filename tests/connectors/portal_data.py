"""A small neutral portal the contract suite and the e2e tests load into every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sandbox.portal import (
    Portal,
    PortalActivity,
    PortalCompany,
    PortalOwner,
    PortalPerson,
)


def base_time() -> datetime:
    """Ten days ago, whole seconds (emulators stamp writes with the wall clock)."""
    return (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)


def demo_portal(base: datetime, *, people: int = 8) -> Portal:
    owners = [
        PortalOwner("o1", "ana@demo.example", "Ana", "Reyes"),
        PortalOwner("o2", "ben@demo.example", "Ben", "Okafor"),
        PortalOwner("o3", "cy@demo.example", "Cy", "Gone", active=False),
    ]
    companies = [PortalCompany("c1", "Acme Analytics", "acme.example", 300, "software", "US", "CA")]
    persons = []
    for n in range(1, people + 1):
        # p4 and p5 share one timestamp: ties must be neither lost nor duplicated
        minute = n if n != 5 else 4
        persons.append(
            PortalPerson(
                id=f"p{n}",
                first_name=f"First{n}",
                last_name=f"Last{n}",
                email=f"person{n}@acme.example",
                title="Director of Data" if n % 2 else "Analyst",
                company_id="c1",
                created_at=base - timedelta(days=30),
                modified_at=base + timedelta(minutes=minute),
                owner_id="o1" if n % 2 else "o2",
                kind="lead" if n % 3 else "contact",
            )
        )
    activities = [
        PortalActivity("a1", "p1", "call", base + timedelta(hours=1), "o1", {"subject": "Intro"}),
        PortalActivity(
            "a2", "p2", "page_view", base + timedelta(hours=2), None, {"url": "/pricing"}
        ),
        PortalActivity(
            "a3", "p2", "form_submission", base + timedelta(hours=3), None, {"form_name": "Demo"}
        ),
        PortalActivity("a4", "p1", "meeting", base + timedelta(days=2), "o1", {"subject": "Demo"}),
    ]
    return Portal(owners=owners, companies=companies, people=persons, activities=activities)
