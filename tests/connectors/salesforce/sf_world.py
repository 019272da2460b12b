"""The Salesforce e2e world: a portal with 450 Leads, a settable clock, small builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import ContactBatch
from connectors.records import FieldChange, TaskRequest
from sandbox.portal import Portal, PortalActivity, PortalCompany, PortalOwner, PortalPerson
from sandbox.salesforce.emulator import SalesforceEmulator
from sandbox.salesforce.ids import derived_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=2)
N_LEADS = 450


@dataclass
class Clock:
    at: datetime = NOW

    def __call__(self) -> datetime:
        return self.at


def portal(leads: int = N_LEADS) -> Portal:
    owners = [
        PortalOwner("o1", "ana@acme.test", "Ana", "Reyes"),
        PortalOwner("o2", "bo@acme.test", "Bo", "Lind", active=False),
        PortalOwner("o3", "cy@acme.test", "Cy", "Park"),
    ]
    companies = [PortalCompany("c1", "Globex", "globex.test", 300, "Software", "US", "CA", "o1")]
    people = [
        PortalPerson(
            id=f"p{i:04d}",
            first_name=f"Lead{i}",
            last_name="Doe",
            email=f"lead{i}@globex.test",
            title="Director of IT",
            company_id="c1",
            created_at=T0 - timedelta(days=3),
            modified_at=T0 + timedelta(minutes=i // 10),  # ten records share each timestamp
            owner_id="o1",
            lifecycle_stage="mql" if i % 2 else "lead",
        )
        for i in range(leads)
    ]
    people.append(
        PortalPerson(
            id="c0001",
            first_name="Cara",
            last_name="Contact",
            email="cara@globex.test",
            title="VP Sales",
            company_id="c1",
            created_at=T0 - timedelta(days=3),
            modified_at=T0 + timedelta(minutes=3),
            owner_id="o1",
            kind="contact",
        )
    )
    activities = [
        PortalActivity("a1", "p0001", "call", T0 + timedelta(minutes=1), owner_id="o1"),
        PortalActivity("a2", "p0001", "webinar_attended", T0 + timedelta(minutes=2)),
        PortalActivity("a3", "c0001", "meeting", T0 + timedelta(minutes=3), owner_id="o1"),
        PortalActivity("a4", "p0002", "webinar_registered", T0 + timedelta(minutes=4)),
        PortalActivity("a5", "p0002", "page_view", T0 + timedelta(minutes=4)),
    ]
    return Portal(owners=owners, companies=companies, people=people, activities=activities)


def lead_id(index: int) -> str:
    return derived_id("Lead", f"p{index:04d}")


def ids(batches: list[ContactBatch]) -> list[str]:
    return [c.id for b in batches for c in b.contacts]


def change(index: int, field: str, value: Any, key: str | None = None) -> FieldChange:
    return FieldChange(
        connection="salesforce",
        object_type="lead",
        record_id=lead_id(index),
        field=field,
        value=value,
        key=key or f"{index}:{field}",
    )


def task(key: str, index: int, resend: bool = False) -> TaskRequest:
    return TaskRequest(
        connection="salesforce",
        object_type="lead",
        record_id=lead_id(index),
        owner_id=derived_id("User", "o1"),
        subject="MQL: call within 1 business hour",
        body="Visited pricing twice this week",
        due_at=NOW + timedelta(hours=1),
        task_key=key,
        resend=resend,
    )


def tasks_with_key(emulator: SalesforceEmulator, key: str) -> list[dict[str, Any]]:
    return [t for t in emulator.org.records["Task"].values() if t.get("Handoff_Task_Key__c") == key]
