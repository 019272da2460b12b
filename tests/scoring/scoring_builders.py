"""Builders for scoring tests: contacts and activities with readable defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from connectors.records import Activity, ActivityKind, Actor, Contact

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ids = count()

ICP_FIELDS: dict[str, Any] = {
    "email": "dana@acme-analytics.com",
    "company_domain": "acme-analytics.com",
    "title": "Director of Marketing",
    "company_size": 300,
    "industry": "SaaS",
    "country": "US",
}


def contact(**fields: Any) -> Contact:
    return Contact("hs", "contact", f"c{next(_ids)}", NOW, fields)


def icp_contact(**overrides: Any) -> Contact:
    return contact(**{**ICP_FIELDS, **overrides})


def act(
    kind: ActivityKind,
    ago: timedelta = timedelta(hours=1),
    *,
    actor: Actor = Actor.CONTACT,
    now: datetime = NOW,
    **properties: str,
) -> Activity:
    return Activity(
        "hs", f"a{next(_ids)}", "c", kind, now - ago, actor, properties=dict(properties)
    )


def page(url: str, ago: timedelta = timedelta(hours=1), **kw: Any) -> Activity:
    return act(ActivityKind.PAGE_VIEW, ago, url=url, **kw)


def form(name: str, ago: timedelta = timedelta(hours=1), **kw: Any) -> Activity:
    return act(ActivityKind.FORM_SUBMISSION, ago, form_name=name, **kw)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def isolated(**sections: Any) -> Any:
    """A ScoringConfig with only the given parts: no ladder, no default rules, no decay, no ICP
    ceiling, no fast lane (so one rule kind can be tested on its own)."""
    from config.scoring import (
        DecayConfig,
        FastLaneConfig,
        IcpConfig,
        ScoringConfig,
        TitleLadder,
    )

    base: dict[str, Any] = {
        "fit": [],
        "behaviour": [],
        "title_ladder": TitleLadder(levels=[]),
        "decay": DecayConfig(share=0),
        "icp": IcpConfig(min_fit=0, min_company_size=None),
        "fast_lane": FastLaneConfig(triggers=[]),
    }
    return ScoringConfig(**{**base, **sections})
