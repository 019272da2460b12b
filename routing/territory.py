"""Territory matching with specificity: pure functions shared by the router and `config validate`.

A territory matches a lead when every dimension it constrains holds for the lead (a dimension
left empty means "any"; a lead missing a constrained attribute does not match). Among matching
territories the most specific wins. Specificity is a score:

    named-account domains 100, states 3, countries 2, industries 2, company size 2, regions 1,
    each field condition (`match.fields`, e.g. a custom employee_band) 2

so "California" beats "US", "US + healthcare" beats "California", and a named-account territory
beats everything. Two territories that could match the same lead with equal scores are a tie,
reported as a config error (`find_ties`), never resolved silently.

Geography nests (states in countries in regions), so two territories that constrain geography on
different levels only (say states [CA] and regions [EMEA]) are taken as disjoint or nested, not
as a tie; should a lead match both, the finer geography wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from config.custom_fields import field_token

if TYPE_CHECKING:
    from config.routing import Territory, TerritoryMatch

SPECIFICITY_POINTS: dict[str, int] = {
    "domains": 100,
    "states": 3,
    "countries": 2,
    "industries": 2,
    "company_size": 2,
    "regions": 1,
    "fields": 2,  # each field condition
}

_LIST_DIMENSIONS = ("countries", "states", "regions", "industries")
_GEO_DEPTH = {"regions": 1, "countries": 2, "states": 3}


@dataclass(frozen=True, slots=True)
class LeadPlace:
    """The attributes territories match on (lower-cased, domain without www.)."""

    country: str | None = None
    state: str | None = None
    region: str | None = None
    industry: str | None = None
    company_size: int | None = None
    company_domain: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # any other field, by name

    @classmethod
    def of(
        cls,
        *,
        country: str | None = None,
        state: str | None = None,
        region: str | None = None,
        industry: str | None = None,
        company_size: int | None = None,
        company_domain: str | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> LeadPlace:
        return cls(
            country=_clean(country),
            state=_clean(state),
            region=_clean(region),
            industry=_clean(industry),
            company_size=company_size,
            company_domain=_domain(company_domain),
            fields=fields or {},
        )

    def describe(self, names: Iterable[str] = ()) -> str:
        """For reasons: "(country de, region emea, 40 employees)", then the fields `names`
        (those territories match on): "employee band large"."""
        parts = [
            f"{label} {value}"
            for label, value in (
                ("country", self.country),
                ("state", self.state),
                ("region", self.region),
                ("industry", self.industry),
                ("domain", self.company_domain),
            )
            if value is not None
        ]
        if self.company_size is not None:
            parts.append(f"{self.company_size} employees")
        for name in names:
            shown = field_token(self.fields.get(name))
            parts.append(f"{name.replace('_', ' ')} {shown if shown is not None else 'blank'}")
        return "(" + (", ".join(parts) or "no location, industry, size or domain") + ")"


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def _domain(value: str | None) -> str | None:
    value = _clean(value)
    if value is None:
        return None
    if "@" in value:  # an e-mail address given where a domain was expected
        value = value.rsplit("@", 1)[1]
    return value.removeprefix("www.").rstrip(".") or None


def specificity(match: TerritoryMatch) -> int:
    score = sum(SPECIFICITY_POINTS[dim] for dim in _LIST_DIMENSIONS if getattr(match, dim))
    if match.company_size is not None:
        score += SPECIFICITY_POINTS["company_size"]
    if match.domains:
        score += SPECIFICITY_POINTS["domains"]
    return score + SPECIFICITY_POINTS["fields"] * len(match.fields)


def geo_depth(match: TerritoryMatch) -> int:
    """The finest geography level the territory constrains (0: none, 3: states)."""
    return max((depth for dim, depth in _GEO_DEPTH.items() if getattr(match, dim)), default=0)


def rank(match: TerritoryMatch) -> tuple[int, int]:
    """Order among matching territories: specificity, then the finer geography."""
    return specificity(match), geo_depth(match)


def domain_matches(domain: str, named: Iterable[str]) -> bool:
    """acme.com matches acme.com and eu.acme.com, not notacme.com."""
    return any(domain == d or domain.endswith("." + d) for d in named)


def matches(match: TerritoryMatch, place: LeadPlace) -> bool:
    pairs = (
        (match.countries, place.country),
        (match.states, place.state),
        (match.regions, place.region),
        (match.industries, place.industry),
    )
    for allowed, value in pairs:
        if allowed and (value is None or value not in allowed):
            return False
    if match.company_size is not None and (
        place.company_size is None or not match.company_size.contains(place.company_size)
    ):
        return False
    if match.domains and (
        place.company_domain is None or not domain_matches(place.company_domain, match.domains)
    ):
        return False
    return all(field_matches(c, place.fields.get(n)) for n, c in match.fields.items())


def field_matches(condition: Any, value: Any) -> bool:
    """A list of values (any, case-insensitive; a multi-select matches on any of its own), or a
    range {min, max} for a number. A blank value matches nothing."""
    if value is None or value == "":
        return False
    if isinstance(condition, list):
        held = value if isinstance(value, list | tuple | set | frozenset) else [value]
        if isinstance(value, str) and ";" in value:
            held = value.split(";")  # a multi-select as HubSpot sends it
        return any(field_token(v) in condition for v in held)
    if isinstance(value, bool):
        return False
    try:
        amount = float(str(value).replace(",", "").strip())
    except ValueError:
        return False
    return bool(condition.contains(amount))


def _fields_could_overlap(a: TerritoryMatch, b: TerritoryMatch) -> bool:
    for name in set(a.fields) & set(b.fields):
        left, right = a.fields[name], b.fields[name]
        if isinstance(left, list) and isinstance(right, list):
            if not set(left) & set(right):
                return False
        elif (
            not isinstance(left, list) and not isinstance(right, list) and not left.overlaps(right)
        ):
            return False
    return True


def field_names(territories: Sequence[Territory]) -> list[str]:
    """The fields territories match on by name (`match.fields`), in config order."""
    return list(dict.fromkeys(n for t in territories for n in t.match.fields))


def by_rank(territories: Sequence[Territory]) -> list[Territory]:
    """Most specific first (config order among equals): the first match is the best match."""
    return sorted(territories, key=lambda t: rank(t.match), reverse=True)


def first_match(ranked: Sequence[Territory], place: LeadPlace) -> Territory | None:
    """The first matching territory of a `by_rank` list."""
    return next((t for t in ranked if matches(t.match, place)), None)


def best_territory(territories: Sequence[Territory], place: LeadPlace) -> Territory | None:
    """The most specific matching territory; on an (unvalidated) tie the first in config order."""
    return first_match(by_rank(territories), place)


def could_overlap(a: TerritoryMatch, b: TerritoryMatch) -> bool:
    """Whether some lead could match both (dimensions independent, except geography levels)."""
    geo_a = {dim for dim in _GEO_DEPTH if getattr(a, dim)}
    geo_b = {dim for dim in _GEO_DEPTH if getattr(b, dim)}
    if geo_a and geo_b and not geo_a & geo_b:
        return False  # different levels only: nested or disjoint places, ranked by depth
    for dim in _LIST_DIMENSIONS:
        left, right = getattr(a, dim), getattr(b, dim)
        if left and right and not set(left) & set(right):
            return False
    if (
        a.company_size is not None
        and b.company_size is not None
        and not a.company_size.overlaps(b.company_size)
    ):
        return False
    if not _fields_could_overlap(a, b):
        return False
    if a.domains and b.domains:
        return any(
            domain_matches(x, (y,)) or domain_matches(y, (x,)) for x in a.domains for y in b.domains
        )
    return True


def find_ties(territories: Sequence[Territory]) -> list[tuple[str, str]]:
    """Pairs of territories that could match one lead with equal specificity (config errors)."""
    return [
        (a.name, b.name)
        for a, b in combinations(territories, 2)
        if specificity(a.match) == specificity(b.match) and could_overlap(a.match, b.match)
    ]
