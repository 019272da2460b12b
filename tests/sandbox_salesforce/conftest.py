"""Fixtures: a small deterministic Portal, a settable clock, and the emulator behind the real
simple-salesforce client over loopback HTTPS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from sandbox.portal import (
    Portal,
    PortalActivity,
    PortalCompany,
    PortalOwner,
    PortalPerson,
    PortalTask,
)
from sandbox.salesforce import SalesforceEmulator
from sandbox.server import SandboxCA, SandboxServer

SID = "00D5g0000000001!sandbox-session"
# simple_salesforce.Salesforce; typed Any because its dynamic attributes (sf.Lead, sf.bulk2.Lead)
# come out as unions mypy cannot call.
SalesforceClient = Any
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def first_error(caught: Any) -> dict[str, Any]:
    """The first entry of a Salesforce error array from `pytest.raises(SalesforceError)`."""
    entry: dict[str, Any] = caught.value.content[0]
    return entry


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_portal(leads: int = 30, contacts: int = 5) -> Portal:
    owners = [
        PortalOwner("o1", "ana.ruiz@example.com", "Ana", "Ruiz"),
        PortalOwner("o2", "ben.okafor@example.com", "Ben", "Okafor"),
        PortalOwner("o3", "cy.gone@example.com", "Cy", "Gone", active=False),
    ]
    companies = [
        PortalCompany("c1", "Acme Analytics", "acme.io", 300, "Software", "US", "CA", "o1"),
        PortalCompany("c2", "Bolt Logistics", "bolt.de", 1200, "Logistics", "DE", "", "o2"),
    ]
    stages = ["lead", "mql", "sql", "subscriber", "disqualified"]
    people = []
    for i in range(leads + contacts):
        created = NOW - timedelta(days=20) + timedelta(minutes=i)
        people.append(
            PortalPerson(
                id=f"p{i}",
                first_name=f"First{i}",
                last_name=f"Last{i:05d}",
                email=f"person{i}@{'acme.io' if i % 2 else 'bolt.de'}",
                title="VP Marketing" if i % 3 == 0 else "Analyst",
                company_id="c1" if i % 2 else "c2",
                created_at=created,
                modified_at=created + timedelta(days=1),
                owner_id="o1" if i % 2 else "o2",
                lifecycle_stage=stages[i % len(stages)],
                kind="contact" if i >= leads else "lead",
                properties={"Handoff_Score__c": str(i)} if i < 3 else {},
            )
        )
    activities = [
        PortalActivity(
            "a1", "p0", "call", NOW - timedelta(days=2), "o2", {"subject": "Intro call"}
        ),
        PortalActivity("a2", "p0", "meeting", NOW - timedelta(days=1), "o2"),
        PortalActivity(
            "a3",
            "p1",
            "webinar_registered",
            NOW - timedelta(days=5),
            None,
            {"webinar_name": "Q4 Launch"},
        ),
        PortalActivity(
            "a4",
            "p1",
            "webinar_attended",
            NOW - timedelta(days=4),
            None,
            {"webinar_name": "Q4 Launch"},
        ),
        PortalActivity(
            "a5",
            "p2",
            "form_submission",
            NOW - timedelta(days=3),
            None,
            {"form_name": "Demo Request"},
        ),
        PortalActivity("a6", "p2", "page_view", NOW - timedelta(days=3), None, {"url": "/pricing"}),
    ]
    tasks = [PortalTask("t1", "p0", "o2", "Follow up", NOW + timedelta(days=1), task_key="hk-1")]
    return Portal(owners, companies, people, activities, tasks)


@dataclass
class SalesforceSandbox:
    emulator: SalesforceEmulator
    server: SandboxServer
    clock: Clock

    def client(self, session_id: str = SID) -> SalesforceClient:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify` otherwise
        session.verify = str(self.server.ca.ca_file)
        return Salesforce(
            instance_url=self.server.base_url,
            session_id=session_id,
            version="59.0",
            session=session,
        )


@pytest.fixture(scope="session")
def sandbox_ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture
def start_sandbox(sandbox_ca: SandboxCA) -> Iterator[Callable[..., SalesforceSandbox]]:
    servers: list[SandboxServer] = []

    def start(portal: Portal | None = None, **options: Any) -> SalesforceSandbox:
        clock = options.pop("clock", None) or Clock()
        emulator = SalesforceEmulator(
            portal or make_portal(), session_id=SID, clock=clock, **options
        )
        server = SandboxServer(emulator.handle, sandbox_ca).start()
        servers.append(server)
        return SalesforceSandbox(emulator, server, clock)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., SalesforceSandbox]) -> SalesforceSandbox:
    return start_sandbox()


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> SalesforceClient:
    return sandbox.client()
