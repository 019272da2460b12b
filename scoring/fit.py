"""Fit rules: points for who the contact is (company size band, industry, region, seniority).

Each rule is compiled once from config into a pure callable `ContactFacts -> ReasonItem | None`
with its regex compiled, its value set frozen and its verdicts memoised per field value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from config.scoring import FitRule, TitleLadder
from scoring.score import ReasonItem, fill_label

# entries per memo: bounded, so a long-lived worker keeps ~MBs, not N; small enough to be full
# within the first 10,000 people (RSS then no longer grows with the portal's size)
_MEMO_LIMIT = 4_096
_UNSEEN = object()


class ContactFacts:
    """The contact fields rules read, plus derived email_domain/company_domain (lower-case)."""

    __slots__ = ("company_domain", "email_domain", "fields")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        email = fields.get("email")
        self.email_domain = email_domain_of(email) if isinstance(email, str) else None
        company = fields.get("company_domain")
        self.company_domain = domain_of(company) if isinstance(company, str) else None

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> ContactFacts:
        return cls(fields)

    @property
    def lookup(self) -> dict[str, Any]:
        """All fields by name, the derived domains in place of the raw ones."""
        return {
            **self.fields,
            "email_domain": self.email_domain,
            "company_domain": self.company_domain,
        }

    def get(self, name: str) -> Any:
        if name == "email_domain":
            return self.email_domain
        if name == "company_domain":
            return self.company_domain
        return self.fields.get(name)


def email_domain_of(email: str) -> str | None:
    """ "Ann@Acme.COM" -> "acme.com"; None without an @. Not memoised: every address is new
    (0 hits in 12,000 contacts), and a memo of them grew the worker by ~4 MB."""
    if "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower() or None


@lru_cache(maxsize=4_096)
def domain_of(value: str) -> str | None:
    """ "https://www.Acme.com/x" -> "acme.com"; bare domains pass through lower-cased."""
    text = value.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("@")[-1]
    text = text.removeprefix("www.")
    return text or None


def in_domains(domain: str | None, domains: frozenset[str]) -> bool:
    """The domain is listed, or is a subdomain of a listed one."""
    if not domain or not domains:
        return False
    if domain in domains:
        return True
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(1, len(parts) - 1))


def format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)


def _tokens(value: Any) -> tuple[str, ...]:
    """A field as lower-case tokens: lists as-is, strings split on ; and , (multi-selects)."""
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(str(v).strip().lower() for v in value)
    return tuple(t.strip().lower() for t in re.split(r"[;,]", str(value)) if t.strip())


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None


def _matcher(rule: FitRule) -> Callable[[Any], bool]:
    if rule.equals is not None:
        expected = rule.equals
        if isinstance(expected, str):
            wanted = expected.strip().lower()
            return lambda v: str(v).strip().lower() == wanted
        return lambda v: v == expected
    if rule.in_ is not None:
        members = frozenset(x.strip().lower() for x in rule.in_)
        return lambda v: any(t in members for t in _tokens(v))
    if rule.regex is not None:
        pattern = re.compile(rule.regex, re.IGNORECASE)
        return lambda v: pattern.search(str(v)) is not None
    if rule.domains is not None:
        domains = frozenset(d.strip().lower() for d in rule.domains)
        return lambda v: in_domains(domain_of(str(v)), domains)
    low = rule.at_least
    high = rule.below

    def in_band(value: Any) -> bool:
        amount = number(value)
        if amount is None:
            return False
        return (low is None or amount >= low) and (high is None or amount < high)

    return in_band


class CompiledFitRule:
    """One fit rule, compiled: `rule(value)` gives its reason for the field's value, or None.
    Verdicts are memoised per value, so a repeated value costs one dict lookup."""

    __slots__ = ("_matches", "field", "label", "memo", "points", "rule_id")

    def __init__(self, rule: FitRule) -> None:
        self.rule_id = rule.id
        self.label = rule.label
        self.field = rule.field
        self.points = rule.points
        self._matches = _matcher(rule)
        self.memo: dict[Any, ReasonItem | None] = {}

    def __call__(self, value: Any) -> ReasonItem | None:
        try:
            return self.memo[value]
        except KeyError:
            item = self._evaluate(value)
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            self.memo[value] = item
            return item
        except TypeError:  # unhashable (a list-valued field): evaluate every time
            return self._evaluate(value)

    def _evaluate(self, value: Any) -> ReasonItem | None:
        if value is None or value == "" or not self._matches(value):
            return None
        label = fill_label(self.label, 1, (), value=format_value(value))
        return ReasonItem(self.rule_id, label, self.points, "fit")


class CompiledTitleLadder:
    """Seniority ladder: the first level found in the title scores its points."""

    __slots__ = ("_function", "_levels", "memo")

    def __init__(self, ladder: TitleLadder) -> None:
        self._levels = tuple(
            (re.compile(level.pattern, re.IGNORECASE), level.name, level.points)
            for level in ladder.levels
        )
        self._function = (
            re.compile(ladder.target_function, re.IGNORECASE) if ladder.target_function else None
        )
        self.memo: dict[str, ReasonItem | None] = {}

    def __call__(self, title: Any) -> ReasonItem | None:
        if not isinstance(title, str) or not title.strip():
            return None
        item = self.memo.get(title, _UNSEEN)
        if item is not _UNSEEN:
            return item  # type: ignore[return-value]
        item = self._rank(title)
        if len(self.memo) >= _MEMO_LIMIT:
            self.memo.clear()
        self.memo[title] = item
        return item

    def _rank(self, title: str) -> ReasonItem | None:
        if self._function is not None and not self._function.search(title):
            return None
        for pattern, name, points in self._levels:
            if pattern.search(title):
                if points == 0:
                    return None
                return ReasonItem("seniority", name, points, "fit")
        return None


_SOURCES = {"email_domain": 1, "company_domain": 2}  # derived fields; 0: the contact's own
Verdicts = tuple[tuple[ReasonItem, ...], int]  # a field value's fit reasons and their points
_NO_VERDICTS: Verdicts = ((), 0)
FitStep = CompiledFitRule | CompiledTitleLadder


def _verdicts(steps: tuple[FitStep, ...], value: Any) -> Verdicts:
    items = tuple(item for item in (step(value) for step in steps) if item is not None)
    return (items, sum(item.points for item in items)) if items else _NO_VERDICTS


class CompiledFit:
    """The title ladder and the fit rules, grouped by the field they read: each distinct value
    of a field is evaluated once by all its rules and memoised as (reasons, points).

    Reasons are appended field group by field group. Their order within the fit category does
    not matter (reasons are sorted by weight, ties by rule id, and fit rule ids are unique),
    except when a fit rule is also called "seniority": then each rule keeps its own group, in
    config order, exactly as an ungrouped evaluation would append them."""

    __slots__ = ("_groups",)

    def __init__(self, ladder: TitleLadder, rules: Sequence[FitRule]) -> None:
        steps: list[tuple[str, FitStep]] = [("title", CompiledTitleLadder(ladder))]
        steps.extend((rule.field, CompiledFitRule(rule)) for rule in rules)
        merge = all(rule.id != "seniority" for rule in rules)
        groups: list[tuple[str, list[FitStep]]] = []
        by_field: dict[str, list[FitStep]] = {}
        for field, step in steps:
            if merge and field in by_field:
                by_field[field].append(step)
            else:
                by_field[field] = [step]
                groups.append((field, by_field[field]))
        self._groups: tuple[tuple[int, str, dict[Any, Verdicts], tuple[FitStep, ...]], ...] = tuple(
            (_SOURCES.get(field, 0), field, {}, tuple(group)) for field, group in groups
        )

    def apply(
        self,
        get: Callable[[str], Any],
        email_domain: str | None,
        company_domain: str | None,
        reasons: list[ReasonItem],
    ) -> int:
        """Append the contact's fit reasons to `reasons`; return their points (uncapped).
        `get` reads the contact's fields; the two domains are the derived ones."""
        derived = (None, email_domain, company_domain)
        points = 0
        for source, field, memo, steps in self._groups:
            value = derived[source] if source else get(field)
            try:
                found = memo.get(value)
            except TypeError:  # unhashable (a list-valued field): evaluate every time
                found = _verdicts(steps, value)
            else:
                if found is None:
                    found = _verdicts(steps, value)
                    if len(memo) >= _MEMO_LIMIT:
                        memo.clear()
                    memo[value] = found
            if found[0]:
                reasons.extend(found[0])
                points += found[1]
        return points
