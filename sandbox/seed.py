"""A believable B2B demo portal, generated deterministically from a seed.

`generate_portal(seed, contacts, now)`: companies with domains, sizes, industries and countries;
people from intern to C-suite, students (.edu, .ac.uk), competitors and free-mail addresses;
90 days of activities (page views incl. pricing, form submissions incl. demo requests, webinars,
email opens/clicks, rep calls/emails/meetings); owners in four territories (one inactive rep, a
"Lead Queue" fallback owner); existing accounts with owners; some leads already worked by sales.
Same seed and `now` -> same data (one `random.Random(seed)`, no wall clock).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Generic, TypeVar

from sandbox.portal import (
    Portal,
    PortalActivity,
    PortalCompany,
    PortalOwner,
    PortalPerson,
    PortalTask,
)
from sandbox.seed_market import (
    ACADEMIC_DOMAINS,
    C_SUITE,
    COMPETITOR_DOMAINS,
    COUNTRIES,
    DESCRIPTORS,
    EAST_STATES,
    EMAIL_SUBJECTS,
    FIRST,
    FORMS,
    FREE_MAIL,
    FUNCTIONS,
    INDUSTRIES,
    LAST,
    LEAD_STATUSES_WORKED,
    NAME_PARTS,
    NAME_TAILS,
    OWNER_DOMAIN,
    PAGES,
    QUEUE_OWNER,
    REP_SUBJECTS,
    SENIORITY,
    TERRITORY_OF_COUNTRY,
    TERRITORY_OWNERS,
    WEBINARS,
    WEST_STATES,
)

T = TypeVar("T")


class Weighted(Generic[T]):
    """A weighted choice with precomputed cumulative weights (the activity loop is hot)."""

    def __init__(self, items: Sequence[T], weights: Sequence[int]) -> None:
        self.items = list(items)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self.cumulative, rng.random() * self.total)]


COUNTRY_PICK = Weighted([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])
SENIORITY_PICK = Weighted([t for t, _ in SENIORITY], [w for _, w in SENIORITY])


def _owners() -> tuple[list[PortalOwner], dict[str, list[PortalOwner]]]:
    owners: list[PortalOwner] = []
    by_territory: dict[str, list[PortalOwner]] = {}
    for territory, reps in TERRITORY_OWNERS.items():
        for first, last, active in reps:
            owner = PortalOwner(
                f"o{len(owners) + 1}",
                f"{first.lower()}.{last.lower()}@{OWNER_DOMAIN}",
                first,
                last,
                active,
                territory,
            )
            owners.append(owner)
            if active:
                by_territory.setdefault(territory, []).append(owner)
    owners.append(
        PortalOwner(f"o{len(owners) + 1}", f"lead-queue@{OWNER_DOMAIN}", *QUEUE_OWNER, True, "")
    )
    return owners, by_territory


def territory_of(country: str, state: str) -> str:
    if country == "US":
        return "na-west" if state in WEST_STATES else "na-east"
    return TERRITORY_OF_COUNTRY.get(country, "emea")


def _companies(
    rng: random.Random, count: int, by_territory: dict[str, list[PortalOwner]]
) -> list[PortalCompany]:
    companies: list[PortalCompany] = []
    used: set[str] = set()
    while len(companies) < count:
        base = rng.choice(NAME_PARTS) + rng.choice(NAME_TAILS).lower()
        descriptor = rng.choice(DESCRIPTORS)
        name = f"{base} {descriptor}".strip()
        if name in used:  # only large portals run out of names
            name = f"{name} {len(companies)}"
        used.add(name)
        domain = name.lower().replace(" ", "")
        country = COUNTRY_PICK.pick(rng)
        state = rng.choice(EAST_STATES + WEST_STATES) if country == "US" else ""
        employees = int(min(50_000, max(2, rng.lognormvariate(4.8, 1.5))))
        company = PortalCompany(
            f"c{len(companies) + 1}",
            name,
            f"{domain}.{rng.choice(('com', 'io', 'co', 'net'))}",
            employees,
            rng.choice(INDUSTRIES),
            country,
            state,
        )
        if rng.random() < 0.3:  # existing account with an owner in its territory
            company.owner_id = rng.choice(by_territory[territory_of(country, state)]).id
        companies.append(company)
    for index, domain in enumerate(COMPETITOR_DOMAINS):
        companies.append(
            PortalCompany(
                f"c{len(companies) + 1}",
                domain.split(".")[0].title(),
                domain,
                120 + 40 * index,
                "Software",
                "US",
                "CA",
            )
        )
    return companies


def _title(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return rng.choice(C_SUITE)
    template = SENIORITY_PICK.pick(rng)
    return template.format(f=rng.choice(FUNCTIONS))


def generate_portal(seed: int, contacts: int, now: datetime, activity_scale: float = 1.0) -> Portal:
    """Deterministic demo portal with `contacts` people and ~20 activities each on average
    (times `activity_scale`: 0.1 gives ~2, for a portal of a million in this process)."""
    if now.tzinfo is None:
        raise ValueError("generate_portal needs a tz-aware UTC `now`")
    rng = random.Random(seed)
    owners, by_territory = _owners()
    all_companies = _companies(rng, max(20, contacts // 8), by_territory)
    regular = all_companies[: -len(COMPETITOR_DOMAINS)]
    competitors = all_companies[-len(COMPETITOR_DOMAINS) :]
    portal = Portal(owners=owners, companies=all_companies)
    page_pick = Weighted(PAGES, [p[3] for p in PAGES])
    page_props = {
        p[0]: {"url": f"https://www.{OWNER_DOMAIN}{p[0]}", "title": p[1], "asset_stage": p[2]}
        for p in PAGES
    }
    form_props = {
        f[0]: {"form_name": f[0], "asset_stage": f[1], "url": f"https://www.{OWNER_DOMAIN}/forms"}
        for f in FORMS
    }
    form_pick = Weighted(FORMS, [f[2] for f in FORMS])
    email_props = {s: {"subject": s, "campaign": "Nurture"} for s in EMAIL_SUBJECTS}
    webinar_props = {w: {"webinar_name": w} for w in WEBINARS}
    rep_props = {k: {"subject": v, "body": v} for k, v in REP_SUBJECTS.items()}
    emails_seen: set[str] = set()
    next_activity = 1
    window = 90 * 86_400
    for n in range(1, contacts + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        roll = rng.random()
        company: PortalCompany | None = rng.choice(regular)
        title = _title(rng)
        if roll < 0.08:
            domain = rng.choice(FREE_MAIL)
            company = None if rng.random() < 0.5 else company
        elif roll < 0.11:
            domain, company, title = (
                rng.choice(ACADEMIC_DOMAINS),
                None,
                rng.choice(("Student", "Graduate Researcher", "PhD Candidate")),
            )
        elif roll < 0.125:
            company = rng.choice(competitors)
            domain = company.domain
        else:
            assert company is not None
            domain = company.domain
        local = f"{first}.{last}".lower()
        email = f"{local}@{domain}"
        if email in emails_seen:
            email = f"{local}{n}@{domain}"
        emails_seen.add(email)
        created = now - timedelta(seconds=rng.randrange(5 * 86_400, 2 * 365 * 86_400))
        country = company.country if company else COUNTRY_PICK.pick(rng)
        state = company.state if company else ""
        person = PortalPerson(
            f"p{n}",
            first,
            last,
            email,
            title,
            company.id if company else None,
            created,
            created,
            lifecycle_stage="subscriber" if rng.random() < 0.25 else "lead",
        )
        if company is None:
            person.properties = (
                {"country": country, "state": state} if state else {"country": country}
            )
        if rng.random() < 0.03:
            person.unsubscribed = True
        if company is not None and company.owner_id:
            person.owner_id, person.kind = company.owner_id, "contact"
            person.lifecycle_stage = rng.choice(
                ("opportunity", "customer", "customer", "sql", "lead")
            )
        elif rng.random() < 0.2:  # already worked by sales
            person.owner_id = rng.choice(by_territory[territory_of(country, state)]).id
            person.lifecycle_stage = rng.choice(("mql", "sal", "sal", "sql", "lead"))
            person.lead_status = rng.choice(LEAD_STATUSES_WORKED)
        heat = rng.random()
        count = (
            rng.randint(0, 3)
            if heat < 0.3
            else rng.randint(8, 28)
            if heat < 0.75
            else rng.randint(25, 55)
            if heat < 0.95
            else rng.randint(45, 90)
        )
        last_at = created
        for _ in range(round(count * activity_scale)):
            at = max(created, now - timedelta(seconds=int(rng.random() * window)))
            kind_roll = rng.random()
            owner_id = None
            if kind_roll < 0.62:
                kind, props = (
                    "page_view",
                    page_props[page_pick.pick(rng)[0]],
                )
            elif kind_roll < 0.74:
                kind, props = "email_open", email_props[rng.choice(EMAIL_SUBJECTS)]
            elif kind_roll < 0.79:
                kind, props = "email_click", email_props[rng.choice(EMAIL_SUBJECTS)]
            elif kind_roll < 0.85:
                kind, props = (
                    "form_submission",
                    form_props[form_pick.pick(rng)[0]],
                )
            elif kind_roll < 0.88:
                kind, props = (
                    rng.choice(("webinar_registered", "webinar_attended")),
                    webinar_props[rng.choice(WEBINARS)],
                )
            elif person.owner_id and kind_roll < 0.98:
                kind = rng.choice(("call", "email", "email", "meeting", "note"))
                props, owner_id = rep_props[kind], person.owner_id
            else:
                kind, props = "page_view", page_props["/"]
            portal.activities.append(
                PortalActivity(f"a{next_activity}", person.id, kind, at, owner_id, props)
            )
            next_activity += 1
            last_at = max(last_at, at)
        person.modified_at = max(last_at, created)
        if (
            person.owner_id
            and person.lead_status in ("NEW", "ATTEMPTED_TO_CONTACT")
            and rng.random() < 0.5
        ):
            portal.tasks.append(
                PortalTask(
                    f"t{len(portal.tasks) + 1}",
                    person.id,
                    person.owner_id,
                    f"Follow up with {first} {last}",
                    now + timedelta(hours=rng.randint(-48, 72)),
                )
            )
        portal.people.append(person)
    return portal
