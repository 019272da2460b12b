"""A small CRM in memory plus a config for it: the pipeline's test bench."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from config.loader import parse_config
from config.model import HandoffConfig
from connectors.memory import InMemoryConnector
from connectors.records import Activity, ActivityKind, Actor, Owner

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
C = TypeVar("C", bound=InMemoryConnector)

CONFIG = """
version: 1
connections:
  - name: crm
    kind: hubspot
    hubspot: {access_token: "${TOKEN}"}
    objects:
      contact:
        email: {property: email}
        first_name: {property: firstname}
        last_name: {property: lastname}
        title: {property: jobtitle}
        company: {property: company}
        company_domain: {property: domain}
        company_size: {property: numemployees, type: integer}
        industry: {property: industry}
        country: {property: country}
        lifecycle_stage: {property: lifecyclestage, managed: true}
        rejection_reason: {property: hs_lead_status}
        owner_id: {property: hubspot_owner_id, managed: true}
        score: {property: handoff_score, type: number, managed: true}
        score_fit: {property: handoff_score_fit, type: number, managed: true}
        score_behaviour: {property: handoff_score_behaviour, type: number, managed: true}
        score_reasons: {property: handoff_score_reasons, managed: true}
routing:
  fallback: {owner: queue@acme.test}
  territories:
    - name: na
      match: {countries: [US, CA]}
      reps: [{email: ana@acme.test}, {email: bob@acme.test}]
      manager: mia@acme.test
      backup: mia@acme.test
sla:
  calendars:
    always: {always_open: true}
  default_calendar: always
  policies:
    fast:
      lane: fast
      first_touch: 1h
      ladder:
        - {at: "100%", action: task_owner}
        - {at: "+15m", action: reassign_backup, notify_manager: true}
    mql:
      lane: mql
      first_touch: 24h
      ladder:
        - {at: "100%", action: task_owner}
"""


def make_config(extra: str = "") -> HandoffConfig:
    return parse_config(CONFIG + extra, "test.yaml", env={"TOKEN": "t"})


def make_crm(clock: object = None, cls: type[C] = InMemoryConnector) -> C:  # type: ignore[assignment]
    """The test CRM with its four owners; `cls` for a subclass that injects a fault."""
    crm = cls(
        "crm",
        clock=clock or (lambda: NOW),  # type: ignore[arg-type]
        fields=["score", "score_fit", "score_behaviour", "score_reasons"],
    )
    for i, email in enumerate(
        ["ana@acme.test", "bob@acme.test", "mia@acme.test", "queue@acme.test"], start=1
    ):
        crm.add_owner(Owner("crm", f"o{i}", email, email.split("@")[0].title(), True))
    return crm


def seed_people(crm: InMemoryConnector) -> None:
    """A VP who asked for a demo, a director browsing pricing, and a student."""
    t0 = NOW - timedelta(days=2)
    crm.put_contact(
        "c1",
        {
            "email": "vp@bigco.com",
            "first_name": "Vera",
            "title": "VP Engineering",
            "company": "BigCo",
            "company_domain": "bigco.com",
            "company_size": 300,
            "industry": "Software",
            "country": "US",
            "lifecycle_stage": "lead",
        },
        modified_at=t0,
    )
    crm.put_contact(
        "c2",
        {
            "email": "dir@midco.com",
            "title": "Director of Operations",
            "company": "MidCo",
            "company_domain": "midco.com",
            "company_size": 800,
            "industry": "Software",
            "country": "US",
            "lifecycle_stage": "lead",
        },
        modified_at=t0,
    )
    crm.put_contact(
        "c3",
        {
            "email": "kid@uni.edu",
            "title": "Student",
            "company": "Uni",
            "country": "US",
            "lifecycle_stage": "lead",
        },
        modified_at=t0,
    )
    crm.add_activity(
        Activity(
            "crm",
            "a1",
            "c1",
            ActivityKind.FORM_SUBMISSION,
            t0,
            Actor.CONTACT,
            "form",
            properties={"form_name": "Demo request", "url": "https://acme.test/demo"},
        )
    )
    for n in range(3):
        crm.add_activity(
            Activity(
                "crm",
                f"a2{n}",
                "c2",
                ActivityKind.PAGE_VIEW,
                t0 - timedelta(days=n),
                Actor.CONTACT,
                "web",
                properties={"url": "https://acme.test/pricing"},
            )
        )
    crm.add_activity(
        Activity(
            "crm",
            "a3",
            "c3",
            ActivityKind.PAGE_VIEW,
            t0,
            Actor.CONTACT,
            "web",
            properties={"url": "https://acme.test/pricing"},
        )
    )
