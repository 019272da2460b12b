"""The scoring model: a chain of pure rules compiled once from `ScoringConfig`.

`ScoringModel.score(contact, activities, now)` runs fit rules and the title ladder on the
contact, behaviour rules on its activities, then penalties, caps, decay and the ICP ceiling, and
returns a `Score` with its reasons. `now` is always given: the engine never reads the clock, so
the same contact, activities, config and `now` always give the same score.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from config.custom_fields import field_token
from config.scoring import ScoringConfig
from connectors.records import Activity, Contact
from scoring.behaviour import ActivityClassifier, CompiledBehaviourRule, FastLaneCheck
from scoring.fit import CompiledFit, domain_of, email_domain_of, number
from scoring.negatives import CompiledNegatives
from scoring.score import ReasonItem, Score, by_weight

_DERIVED = {"email_domain": 1, "company_domain": 2}  # fields read from the derived domains
_ADJUSTMENT_LABELS = {
    "fit_cap": "Fit capped at {}",
    "behaviour_cap": "Behaviour capped at {}",
    "score_floor": "Score floored at 0",
    "icp_ceiling": "Outside ICP: held at {}",
}


def model_version(cfg: ScoringConfig) -> str:
    """A stable hash of the scoring config: equal configs give equal versions."""
    scored = cfg.model_dump(mode="json", by_alias=True, exclude={"rewrite_reason_when"})
    canonical = json.dumps(scored, sort_keys=True)
    return "sm-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


class ScoringModel:
    """A compiled scoring model. Build with `ScoringModel.from_config`; call `score`."""

    def __init__(self, cfg: ScoringConfig) -> None:
        self.config = cfg
        self.version = model_version(cfg)
        self._fit = CompiledFit(cfg.title_ladder, cfg.fit)
        self._negatives = CompiledNegatives(cfg.negative)
        self._classifier = ActivityClassifier()
        self._behaviour = tuple(
            CompiledBehaviourRule(rule, self._classifier.register(rule.match))
            for rule in cfg.behaviour
        )
        by_slot: dict[int, list[CompiledBehaviourRule]] = {}
        for compiled in self._behaviour:
            by_slot.setdefault(compiled.slot, []).append(compiled)
        self._rules_by_slot = {slot: tuple(rules) for slot, rules in by_slot.items()}
        lane = cfg.fast_lane
        self._lane_activity = tuple(
            FastLaneCheck(t.id, t.label, self._classifier.register(t.match), lane.within)
            for t in lane.triggers
            if t.match is not None
        )
        self._lane_slots = frozenset(check.slot for check in self._lane_activity)
        self._lane_fields = tuple(
            (
                _DERIVED.get(t.field, 0),
                t.field,
                frozenset(v.strip().lower() for v in t.values),
                t.label,
            )
            for t in lane.triggers
            if t.field is not None and t.values is not None
        )
        self._lookback = cfg.lookback
        self._fit_cap = cfg.caps.fit
        self._behaviour_cap = cfg.caps.behaviour
        self._top = cfg.caps.fit + cfg.caps.behaviour
        self._icp = cfg.icp
        self._ceiling = cfg.icp.ceiling
        self._icp_min_fit = cfg.icp.min_fit
        self._decay = cfg.decay
        self._decay_items: dict[tuple[int, int, int], ReasonItem] = {}
        self._adjustments: dict[tuple[str, int, int], ReasonItem] = {}
        self._mql = cfg.mql

    @classmethod
    def from_config(cls, cfg: ScoringConfig) -> ScoringModel:
        """Compile a config (regexes compiled, domain sets frozen, windows as timedeltas)."""
        return cls(cfg)

    def rule_points(self) -> dict[str, int]:
        """Configured points per rule id (the weights calibration proposes changes to)."""
        points = {r.id: r.points for r in self.config.fit}
        points.update({r.id: r.points for r in self.config.behaviour})
        neg = self.config.negative
        points.update(
            {
                "academic": neg.academic.points,
                "free_mail": neg.free_mail.points,
                "competitor": neg.competitor.points,
                "no_budget_title": neg.no_budget_title.points,
                "unsubscribed": neg.unsubscribed.points,
            }
        )
        return points

    def score(self, contact: Contact, activities: Sequence[Activity], now: datetime) -> Score:
        """Score one contact at `now` (tz-aware UTC). Activities after `now`, older than the
        lookback, or done by a rep are ignored; the order of `activities` does not matter."""
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        get = contact.fields.get
        email = get("email")
        email_domain = email_domain_of(email) if isinstance(email, str) else None
        company = get("company_domain")
        company_domain = domain_of(company) if isinstance(company, str) else None
        reasons: list[ReasonItem] = []
        append = reasons.append

        fit_raw = self._fit.apply(get, email_domain, company_domain, reasons)
        fit = min(max(fit_raw, 0), self._fit_cap)
        if fit != fit_raw:
            append(self._adjustment("fit_cap", fit, fit - fit_raw))

        hits, last_signal = self._classifier.collect(activities, now, now - self._lookback)
        behaviour_raw = 0
        by_slot = self._rules_by_slot
        for slot, stamps in hits.items():
            for rule in by_slot.get(slot, ()):
                item = rule.items.get(len(stamps)) if rule.plain else None
                if item is None:
                    item = rule(stamps, now)
                    if item is None:
                        continue
                append(item)
                behaviour_raw += item.points
        capped = min(behaviour_raw, self._behaviour_cap)
        if capped != behaviour_raw:
            append(self._adjustment("behaviour_cap", capped, capped - behaviour_raw))
        behaviour = self._decayed(capped, last_signal, now, reasons) if capped > 0 else capped

        penalties = self._negatives.evaluate(get, email_domain, company_domain)
        reasons.extend(penalties.items)
        disqualified = penalties.disqualify_reason is not None

        raw = fit + behaviour + penalties.points
        total = min(max(raw, 0), self._top)
        if total != raw:
            append(self._adjustment("score_floor", 0, total - raw))
        ceiling = self._ceiling
        outside_icp = disqualified or fit < self._icp_min_fit or self._small_company(get)
        if outside_icp and total > ceiling:
            append(self._adjustment("icp_ceiling", ceiling, ceiling - total))
            total = ceiling

        lane_reason = None
        if self._lane_slots.isdisjoint(hits):
            if self._lane_fields:
                lane_reason = self._lane_field(get, email_domain, company_domain)
        else:
            lane_reason = self._fast_lane(get, email_domain, company_domain, hits, now)
        fast_lane = lane_reason is not None and not disqualified
        bar = self._mql
        mql = not disqualified and (
            fast_lane
            or (total >= bar.threshold and fit >= bar.min_fit)
            or self._meets_alternative_bar(fit, behaviour)
        )
        reasons.sort(key=by_weight)
        return Score(  # positional (in field order): far cheaper for a frozen dataclass
            total,
            fit,
            behaviour,
            penalties.points,
            mql,
            fast_lane,
            lane_reason if fast_lane else None,
            disqualified,
            penalties.disqualify_reason,
            outside_icp,
            penalties.track,
            tuple(reasons),
            self.version,
            now,
            last_signal,
        )

    def _adjustment(self, rule_id: str, value: int, points: int) -> ReasonItem:
        """A cap/ceiling/floor reason, shared between contacts (ReasonItem is immutable)."""
        key = (rule_id, value, points)
        item = self._adjustments.get(key)
        if item is None:
            label = _ADJUSTMENT_LABELS[rule_id].format(value)
            item = ReasonItem(rule_id, label, points, "adjustment")
            if len(self._adjustments) < 10_000:
                self._adjustments[key] = item
        return item

    def _decayed(
        self, capped: int, last_signal: datetime | None, now: datetime, reasons: list[ReasonItem]
    ) -> int:
        decay = self._decay
        if capped <= 0 or last_signal is None or decay.share == 0:
            return capped
        idle = now - last_signal
        periods = idle // decay.period
        if periods <= 0:
            return capped
        if decay.mode == "compound":
            factor = (1.0 - decay.share) ** periods
        else:
            factor = max(0.0, 1.0 - decay.share * periods)
        kept = min(capped, math.floor(capped * factor + 0.5))
        if kept != capped:
            key = (kept - capped, periods, idle.days)
            item = self._decay_items.get(key)
            if item is None:
                share = round((1.0 - factor) * 100)
                label = f"−{share}% decay, {idle.days} days idle"
                item = ReasonItem("decay", label, kept - capped, "behaviour")
                if len(self._decay_items) < 100_000:
                    self._decay_items[key] = item
            reasons.append(item)
        return kept

    def _small_company(self, get: Callable[[str], Any]) -> bool:
        floor = self._icp.min_company_size
        size = get("company_size")
        amount = float(size) if type(size) is int else number(size)  # exact int: no bool
        return floor is not None and amount is not None and amount < floor

    def _meets_alternative_bar(self, fit: int, behaviour: int) -> bool:
        """The MQL bar's alternative: fit above one mark and behaviour above another."""
        bar = self._mql
        return (
            bar.or_fit_above is not None
            and bar.or_behaviour_above is not None
            and fit > bar.or_fit_above
            and behaviour > bar.or_behaviour_above
        )

    def _fast_lane(
        self,
        get: Callable[[str], Any],
        email_domain: str | None,
        company_domain: str | None,
        hits: dict[int, list[datetime]],
        now: datetime,
    ) -> str | None:
        for check in self._lane_activity:
            stamps = hits.get(check.slot)
            if stamps and check.fired(stamps, now):
                return check.label
        return self._lane_field(get, email_domain, company_domain)

    def _lane_field(
        self, get: Callable[[str], Any], email_domain: str | None, company_domain: str | None
    ) -> str | None:
        derived = (None, email_domain, company_domain)
        for source, field, values, label in self._lane_fields:
            value = derived[source] if source else get(field)
            if value is not None and field_token(value) in values:  # text, true/false, 3
                return label
        return None
