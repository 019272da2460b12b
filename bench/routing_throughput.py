"""Routing throughput on SQLite, rotation state and assignments persisted (target >= 5,000/s).

    .venv/bin/python bench/routing_throughput.py [--leads 20000] [--batch 500] [--capacity]

Routes synthetic leads over eight territories (weighted reps, one rep out of office, named
accounts, account owners) into a fresh SQLite state store, committing every `--batch` leads, and
prints leads per second. `--capacity` also gives every rep a per-day and an open-lead capacity,
which costs two count queries per rep considered.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, func, select

from config.routing import RoutingConfig
from connectors.records import Owner
from routing.directory import OwnerDirectory
from routing.router import Router, RoutingLead
from routing.tables import Assignment, RotationState
from sync.store.engine import make_engine
from sync.store.schema import upgrade

REGIONS = {"emea": ["de", "fr", "gb", "nl"], "amer": ["us", "ca", "br"], "apac": ["au", "jp", "sg"]}
INDUSTRIES = ["saas", "fintech", "healthcare", "retail"]


def build_config(capacity: bool) -> RoutingConfig:
    territories = []
    for region in REGIONS:
        for band, size in (("smb", {"max": 199}), ("mid", {"min": 200})):
            reps = [
                {
                    "email": f"{region}-{band}-{i}@x.com",
                    "weight": 1 + i % 3,
                    **(
                        {"capacity": {"per_day": 100_000, "open_leads": 100_000}}
                        if capacity
                        else {}
                    ),
                    **(
                        {"out_of_office": [{"start": "2026-11-01", "end": "2026-11-30"}]}
                        if i == 0
                        else {}
                    ),
                }
                for i in range(5)
            ]
            territories.append(
                {
                    "name": f"{region.upper()}-{band}",
                    "match": {"regions": [region], "company_size": size},
                    "reps": reps,
                    "manager": f"{region}-lead@x.com",
                }
            )
    territories.append(
        {
            "name": "Strategic",
            "match": {"domains": ["acme.com", "globex.com"]},
            "reps": [{"email": "strategic-1@x.com"}, {"email": "strategic-2@x.com"}],
        }
    )
    territories.append(
        {
            "name": "US-healthcare",
            "match": {"countries": ["us"], "industries": ["healthcare"]},
            "reps": [{"email": "hc-1@x.com", "weight": 2}, {"email": "hc-2@x.com"}],
        }
    )
    return RoutingConfig.model_validate(
        {"fallback": {"owner": "queue@x.com"}, "territories": territories}
    )


def build_leads(count: int, rng: random.Random) -> list[RoutingLead]:
    leads = []
    for i in range(count):
        region = rng.choice(list(REGIONS))
        domain = rng.choice(["acme.com", "globex.com"]) if rng.random() < 0.05 else f"c{i}.io"
        leads.append(
            RoutingLead(
                key=f"lead-{i}",
                country=rng.choice(REGIONS[region]),
                region=region,
                industry=rng.choice(INDUSTRIES),
                company_size=rng.randint(5, 5000),
                company_domain=domain,
                account_owner_email="strategic-1@x.com" if rng.random() < 0.02 else None,
            )
        )
    return leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--capacity", action="store_true")
    args = parser.parse_args()

    config = build_config(args.capacity)
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    owners = [Owner("bench", str(i), email) for i, email in enumerate(sorted(config.all_emails()))]
    directory = OwnerDirectory.from_owners(owners, now - timedelta(minutes=5))
    router = Router(config, directory)
    leads = build_leads(args.leads, random.Random(7))

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        started, cpu_started = time.perf_counter(), time.process_time()
        with Session(engine) as session:
            for start in range(0, len(leads), args.batch):
                for lead in leads[start : start + args.batch]:
                    router.route(session, lead, now)
                session.commit()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        with Session(engine) as session:
            stored = session.exec(select(func.count()).select_from(Assignment)).one()
            turns = session.exec(select(func.sum(RotationState.turn))).one()
        engine.dispose()
    rate = len(leads) / elapsed
    print(
        f"routed {len(leads)} leads in {elapsed:.2f}s: {rate:,.0f} leads/s wall clock, "
        f"{len(leads) / cpu:,.0f} leads per CPU second "
        f"(batch {args.batch}, capacity {'on' if args.capacity else 'off'}; "
        f"{stored} assignments, {turns} round-robin turns persisted)"
    )


if __name__ == "__main__":
    main()
