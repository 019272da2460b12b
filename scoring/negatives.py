"""Negative rules: academic and free-mail domains, competitors, titles without budget, opt-outs.

Some penalties also disqualify (by default students and competitors): a disqualified contact is
never an MQL and never takes the fast lane, whatever it does. Competitors get their own track.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.scoring import DomainPenalty, NegativeRules
from scoring.fit import ContactFacts, in_domains
from scoring.score import ReasonItem, Track


@dataclass(frozen=True, slots=True)
class Penalties:
    items: tuple[ReasonItem, ...]
    disqualify_reason: str | None
    track: Track
    points: int = 0  # the sum of the items' points


def _penalties(items: tuple[ReasonItem, ...], disqualify: str | None, track: Track) -> Penalties:
    return Penalties(items, disqualify, track, sum(i.points for i in items))


NO_PENALTIES = _penalties((), None, "standard")


class _DomainCheck:
    __slots__ = ("_domains", "_suffixes", "disqualify", "label", "points", "rule_id")

    def __init__(self, rule_id: str, penalty: DomainPenalty) -> None:
        self.rule_id = rule_id
        self.label = penalty.label
        self.points = penalty.points
        self.disqualify = penalty.disqualify
        self._domains = frozenset(penalty.domains)
        self._suffixes = tuple(
            s if s.startswith(".") else "." + s for s in penalty.suffixes if s.strip(".")
        )

    def hit(self, *domains: str | None) -> bool:
        for domain in domains:
            if not domain:
                continue
            if in_domains(domain, self._domains):
                return True
            if self._suffixes and domain.endswith(self._suffixes):
                return True
        return False


class CompiledNegatives:
    """All negative rules, compiled once; call with the contact's facts."""

    def __init__(self, rules: NegativeRules) -> None:
        self._competitor = _DomainCheck("competitor", rules.competitor)
        self._academic = _DomainCheck("academic", rules.academic)
        self._free_mail = _DomainCheck("free_mail", rules.free_mail)
        self._title = re.compile(rules.no_budget_title.pattern, re.IGNORECASE)
        self._title_rule = rules.no_budget_title
        self._unsubscribed = rules.unsubscribed
        self._memo: dict[tuple[str | None, str | None, str], Penalties] = {}
        self._unsubscribed_memo: dict[Penalties, Penalties] = {}

    def __call__(self, facts: ContactFacts) -> Penalties:
        return self.evaluate(facts.fields.get, facts.email_domain, facts.company_domain)

    def evaluate(
        self, get: Callable[[str], Any], email_domain: str | None, company_domain: str | None
    ) -> Penalties:
        """The penalties of a contact: `get` reads its fields, the domains are the derived ones."""
        title = get("title")
        title_text = title if isinstance(title, str) else ""
        flag = get("unsubscribed")
        unsubscribed = flag is True or (
            isinstance(flag, str) and flag.strip().lower() in ("true", "yes", "1")
        )
        key = (email_domain, company_domain, title_text)
        found = self._memo.get(key)
        if found is None:
            found = self._evaluate(email_domain, company_domain, title_text)
            if len(self._memo) >= 4_096:  # keyed by title too: few hits, bounded low
                self._memo.clear()
            self._memo[key] = found
        if not unsubscribed:
            return found
        with_flag = self._unsubscribed_memo.get(found)
        if with_flag is None:
            with_flag = self._with_unsubscribed(found)
            if len(self._unsubscribed_memo) < 10_000:
                self._unsubscribed_memo[found] = with_flag
        return with_flag

    def _evaluate(
        self, email_domain: str | None, company_domain: str | None, title: str
    ) -> Penalties:
        items: list[ReasonItem] = []
        disqualify: str | None = None
        track: Track = "standard"
        for check, domains in (
            (self._competitor, (email_domain, company_domain)),
            (self._academic, (email_domain, company_domain)),
            # free mail is about the address only: a gmail user at a real company is still a fit
            (self._free_mail, (email_domain,)),
        ):
            if check.hit(*domains):
                if check.points:
                    items.append(ReasonItem(check.rule_id, check.label, check.points, "negative"))
                if check.disqualify and disqualify is None:
                    disqualify = check.label
                    if check.rule_id in ("competitor", "academic"):
                        track = "competitor" if check.rule_id == "competitor" else "academic"
        if title and self._title.search(title):
            rule = self._title_rule
            if rule.points:
                items.append(ReasonItem("no_budget_title", rule.label, rule.points, "negative"))
            if rule.disqualify and disqualify is None:
                disqualify = rule.label
        if not items and disqualify is None:
            return NO_PENALTIES
        return _penalties(tuple(items), disqualify, track)

    def _with_unsubscribed(self, found: Penalties) -> Penalties:
        rule = self._unsubscribed
        items = found.items
        if rule.points:
            items = (*items, ReasonItem("unsubscribed", rule.label, rule.points, "negative"))
        disqualify = found.disqualify_reason
        if rule.disqualify and disqualify is None:
            disqualify = rule.label
        return _penalties(items, disqualify, found.track)
