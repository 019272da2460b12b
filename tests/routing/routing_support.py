"""Shared builders for the routing tests, and the worker the concurrency tests spawn."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from config.routing import RoutingConfig
from connectors.records import Owner
from routing.decision import RoutingLead
from routing.directory import OwnerDirectory
from routing.router import Router

# Monday 23 November 2026, 10:00 UTC
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def emea_config(**overrides: Any) -> RoutingConfig:
    """EMEA-mid with four reps (Bob out of office this week), a US territory and named accounts."""
    raw: dict[str, Any] = {
        "fallback": {"owner": "queue@x.com"},
        "territories": [
            {
                "name": "EMEA-mid",
                "match": {"regions": ["EMEA"], "company_size": {"min": 50, "max": 1000}},
                "reps": [
                    {"email": "ann@x.com"},
                    {
                        "email": "bob@x.com",
                        "out_of_office": [{"start": "2026-11-20", "end": "2026-11-27"}],
                    },
                    {"email": "cat@x.com"},
                    {"email": "dan@x.com"},
                ],
                "manager": "eve@x.com",
                "backup": "cat@x.com",
            },
            {
                "name": "US",
                "match": {"countries": ["US"]},
                "reps": [{"email": "uma@x.com", "weight": 2}, {"email": "vic@x.com"}],
            },
            {
                "name": "Strategic",
                "match": {"domains": ["acme.com"]},
                "reps": [{"email": "sam@x.com"}],
                "fallback": "eve@x.com",
            },
        ],
    }
    raw.update(overrides)
    return RoutingConfig.model_validate(raw)


def directory(
    emails: Iterable[str],
    *,
    inactive: Iterable[str] = (),
    out_of_office: Iterable[str] = (),
    open_leads: dict[str, int] | None = None,
    as_of: datetime = NOW,
) -> OwnerDirectory:
    off = set(inactive)
    owners = [Owner("hubspot", str(i), e, active=e not in off) for i, e in enumerate(emails)]
    return OwnerDirectory.from_owners(
        owners, as_of, out_of_office=out_of_office, open_leads=open_leads
    )


def everyone(config: RoutingConfig, **kwargs: Any) -> OwnerDirectory:
    return directory(sorted(config.all_emails()), **kwargs)


def emea_lead(key: str = "p1", **fields: Any) -> RoutingLead:
    return RoutingLead(key=key, region="emea", company_size=300, **fields)


WEIGHTED_TERRITORY: dict[str, Any] = {
    "fallback": {"owner": "queue@x.com"},
    "territories": [
        {
            "name": "Load",
            "match": {},
            "reps": [
                {"email": "w1@x.com", "weight": 1},
                {"email": "w2@x.com", "weight": 2},
                {"email": "w3@x.com", "weight": 3},
                {"email": "w4@x.com", "weight": 4},
            ],
        }
    ],
}


def assign_many(url: str, worker: int, count: int) -> list[tuple[str, str, int | None]]:
    """Spawned by the concurrency tests: `count` leads in transactions of 1 to 4 leads.

    Single-lead transactions contend hardest for the rotation row; multi-lead ones exercise the
    lock kept for the rest of a transaction.
    """
    from sync.store.engine import make_engine

    config = RoutingConfig.model_validate(WEIGHTED_TERRITORY)
    router = Router(config, everyone(config))
    engine = make_engine(url)
    results: list[tuple[str, str, int | None]] = []
    done = 0
    try:
        while done < count:
            size = min(1 + (done + worker) % 4, count - done)
            with Session(engine) as session:
                decisions = [
                    (
                        f"w{worker}-{i}",
                        router.route(session, RoutingLead(key=f"w{worker}-{i}"), NOW),
                    )
                    for i in range(done, done + size)
                ]
                session.commit()
            for key, decision in decisions:
                assert decision.owner_email is not None
                results.append((key, decision.owner_email, decision.slot))
            done += size
    finally:
        engine.dispose()
    return results
