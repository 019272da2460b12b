"""Scoring throughput: contacts scored per second on one core.

A 30-rule model (the default model plus extra fit and behaviour rules: 10 fit rules, the
seniority ladder, 14 behaviour rules, 5 negative rules) and 20 activities per contact, over a
synthetic but varied population (many domains, titles, URLs and timestamps).

    .venv/bin/python bench/scoring_throughput.py [--contacts 20000] [--rounds 3]

Prints the best of the rounds (CPU time of this single-threaded process, so other load on
the machine skews it less); the target is >= 50,000 contacts/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.scoring import (
    ActivityFilter,
    BehaviourRule,
    FitRule,
    ScoringConfig,
    default_behaviour_rules,
    default_fit_rules,
)
from connectors.records import Activity, ActivityKind, Actor, Contact
from scoring import compiled
from scoring.model import ScoringModel

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TITLES = [
    "CEO", "VP Marketing", "Director of Sales Operations", "Marketing Manager", "Intern",
    "Head of Growth", "Software Engineer", "RevOps Lead", "Chief Revenue Officer",
    "Marketing Assistant", "Senior Director, Demand Generation", "Account Executive",
]  # fmt: skip
INDUSTRIES = ["SaaS", "Software", "Retail", "Financial Services", "Education", "Healthcare"]
COUNTRIES = ["US", "GB", "DE", "FR", "BR", "IN", "CA", "AU"]
URLS = [f"https://example.com/blog/post-{i}" for i in range(150)] + [
    "https://example.com/pricing",
    "https://example.com/pricing?plan=pro",
    "https://example.com/product",
    "https://example.com/customers",
    "https://example.com/integrations/salesforce",
    "https://example.com/docs/api",
]
FORMS = [("Download whitepaper", "top"), ("Case study", "bottom"), ("ROI calculator", "bottom"),
         ("Webinar replay", "middle"), ("Newsletter", "top"), ("Request a demo", "")]  # fmt: skip


def thirty_rule_config() -> ScoringConfig:
    fit = [
        *default_fit_rules(),
        FitRule(id="function_match", label="{value}", field="title",
                regex=r"market|sales|revenue|growth|revops", points=5),
        FitRule(id="us_state_focus", label="Focus state", field="state",
                in_=["ca", "ny", "tx", "wa", "ma"], points=5),
        FitRule(id="enterprise", label="Enterprise", field="company_size", at_least=2000, points=5),
        FitRule(id="named_domain", label="Named account", field="company_domain",
                domains=["acme0.com", "acme1.com", "acme2.com"], points=10),
        FitRule(id="source_event", label="Event lead", field="lead_source", equals="event",
                points=5),
    ]  # fmt: skip
    behaviour = [
        *default_behaviour_rules(),
        BehaviourRule(id="integration_docs", label="Read integration docs",
                      match=ActivityFilter(kinds=[ActivityKind.PAGE_VIEW],
                                           url_regex=r"/integrations/|/docs/"),
                      points=4, cap=12),
        BehaviourRule(id="customer_stories", label="Customer stories",
                      match=ActivityFilter(kinds=[ActivityKind.PAGE_VIEW],
                                           url_contains=["/customers"]),
                      points=5, cap=10, within=timedelta(days=30)),
    ]  # fmt: skip
    return ScoringConfig(fit=fit, behaviour=behaviour)


def population(count: int, seed: int = 7) -> list[tuple[Contact, list[Activity]]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        domain = rng.choice([f"acme{rng.randrange(3000)}.com", "gmail.com", "uni.edu"])
        contact = Contact(
            connection="bench",
            object_type="contact",
            id=str(n),
            modified_at=NOW,
            fields={
                "email": f"p{n}@{domain}",
                "title": rng.choice(TITLES),
                "company_size": rng.choice([5, 40, 120, 300, 800, 1500, 5000]),
                "industry": rng.choice(INDUSTRIES),
                "country": rng.choice(COUNTRIES),
                "state": rng.choice(["CA", "NY", "OR", ""]),
                "company_domain": domain,
                "tech_stack": rng.choice(["hubspot;segment", "salesforce", "marketo", ""]),
                "lead_source": rng.choice(["event", "organic", "paid"]),
                "unsubscribed": rng.random() < 0.05,
            },
        )
        activities = []
        for i in range(20):
            at = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 120))
            roll = rng.random()
            if roll < 0.6:
                kind, props = ActivityKind.PAGE_VIEW, {"url": rng.choice(URLS)}
            elif roll < 0.75:
                form, stage = rng.choice(FORMS)
                kind, props = ActivityKind.FORM_SUBMISSION, {"form_name": form}
                if stage:
                    props["asset_stage"] = stage
            elif roll < 0.9:
                kind, props = ActivityKind.EMAIL_OPEN, {"subject": "Newsletter"}
            else:
                kind, props = ActivityKind.WEBINAR_ATTENDED, {}
            actor = Actor.REP if rng.random() < 0.05 else Actor.CONTACT
            activities.append(
                Activity("bench", f"{n}-{i}", str(n), kind, at, actor, properties=props)
            )
        out.append((contact, activities))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = thirty_rule_config()
    rules = len(cfg.fit) + 1 + len(cfg.behaviour) + 5
    model = ScoringModel.from_config(cfg)
    people = population(args.contacts)
    best = 0.0
    mqls = 0
    for _ in range(args.rounds):
        started = time.process_time()  # CPU time of this process: one core, not wall clock
        mqls = sum(model.score(c, a, NOW).mql for c, a in people)
        rate = len(people) / (time.process_time() - started)
        best = max(best, rate)
    print(
        f"{rules} rules, 20 activities/contact, {len(people)} contacts x {args.rounds} rounds: "
        f"best {best:,.0f} contacts/s on one core ({mqls} MQLs; "
        + ("native build" if compiled() else "pure Python: python -m scoring.compile builds it")
        + ")"
    )


if __name__ == "__main__":
    main()
