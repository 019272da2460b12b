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

from config.scoring import ScoringConfig
from connectors.records import Activity, Contact
from scoring.behaviour import ActivityClassifier, CompiledBehaviourRule, FastLaneCheck
from scoring.fit import CompiledFitRule, CompiledTitleLadder, ContactFacts, number
from scoring.negatives import CompiledNegatives
from scoring.score import ReasonItem, Score, by_weight

FitStep = Callable[[Any], ReasonItem | None]


def model_version(cfg: ScoringConfig) -> str:
    """A stable hash of the scoring config: equal configs give equal versions."""
    canonical = json.dumps(cfg.model_dump(mode="json", by_alias=True), sort_keys=True)
    return "sm-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


class ScoringModel:
    """A compiled scoring model. Build with `ScoringModel.from_config`; call `score`."""

    def __init__(self, cfg: ScoringConfig) -> None:
        self.config = cfg
        self.version = model_version(cfg)
        self._fit: tuple[tuple[str, FitStep], ...] = (
            ("title", CompiledTitleLadder(cfg.title_ladder)),
            *((rule.field, CompiledFitRule(rule)) for rule in cfg.fit),
        )
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
            (t.field, frozenset(v.strip().lower() for v in t.values), t.label)
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
        facts = ContactFacts(contact.fields)
        reasons: list[ReasonItem] = []

        fit_raw = 0
        lookup = facts.lookup.get
        for field, step in self._fit:
            item = step(lookup(field))
            if item is not None:
                reasons.append(item)
                fit_raw += item.points
        fit = min(max(fit_raw, 0), self._fit_cap)
        if fit != fit_raw:
            reasons.append(
                ReasonItem("fit_cap", f"Fit capped at {fit}", fit - fit_raw, "adjustment")
            )

        hits, last_signal = self._classifier.collect(activities, now, now - self._lookback)
        behaviour_raw = 0
        by_slot = self._rules_by_slot
        for slot, stamps in hits.items():
            for rule in by_slot.get(slot, ()):
                item = rule(stamps, now)
                if item is not None:
                    reasons.append(item)
                    behaviour_raw += item.points
        capped = min(behaviour_raw, self._behaviour_cap)
        if capped != behaviour_raw:
            reasons.append(
                ReasonItem(
                    "behaviour_cap",
                    f"Behaviour capped at {capped}",
                    capped - behaviour_raw,
                    "adjustment",
                )
            )
        behaviour = self._decayed(capped, last_signal, now, reasons)

        penalties = self._negatives(facts)
        reasons.extend(penalties.items)
        disqualified = penalties.disqualify_reason is not None

        total = self._total(fit, behaviour, penalties.points, reasons)
        ceiling = self._ceiling
        outside_icp = disqualified or fit < self._icp_min_fit or self._small_company(facts)
        if outside_icp and total > ceiling:
            reasons.append(
                ReasonItem(
                    "icp_ceiling", f"Outside ICP: held at {ceiling}", ceiling - total, "adjustment"
                )
            )
            total = ceiling

        lane_reason = self._fast_lane(facts, hits, now)
        fast_lane = lane_reason is not None and not disqualified
        mql = not disqualified and (fast_lane or self._meets_bar(total, fit, behaviour))
        reasons.sort(key=by_weight)
        return Score(
            total=total,
            fit=fit,
            behaviour=behaviour,
            negative=penalties.points,
            mql=mql,
            fast_lane=fast_lane,
            fast_lane_reason=lane_reason if fast_lane else None,
            disqualified=disqualified,
            disqualify_reason=penalties.disqualify_reason,
            outside_icp=outside_icp,
            track=penalties.track,
            reasons=tuple(reasons),
            model_version=self.version,
            computed_at=now,
            last_signal_at=last_signal,
        )

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

    def _total(self, fit: int, behaviour: int, negative: int, reasons: list[ReasonItem]) -> int:
        raw = fit + behaviour + negative
        total = min(max(raw, 0), self._top)
        if total != raw:
            reasons.append(
                ReasonItem("score_floor", "Score floored at 0", total - raw, "adjustment")
            )
        return total

    def _small_company(self, facts: ContactFacts) -> bool:
        floor = self._icp.min_company_size
        size = number(facts.fields.get("company_size"))
        return floor is not None and size is not None and size < floor

    def _meets_bar(self, total: int, fit: int, behaviour: int) -> bool:
        bar = self._mql
        if total >= bar.threshold and fit >= bar.min_fit:
            return True
        return (
            bar.or_fit_above is not None
            and bar.or_behaviour_above is not None
            and fit > bar.or_fit_above
            and behaviour > bar.or_behaviour_above
        )

    def _fast_lane(
        self, facts: ContactFacts, hits: dict[int, list[datetime]], now: datetime
    ) -> str | None:
        if not self._lane_slots.isdisjoint(hits):
            for check in self._lane_activity:
                stamps = hits.get(check.slot)
                if stamps and check.fired(stamps, now):
                    return check.label
        for field, values, label in self._lane_fields:
            value = facts.get(field)
            if isinstance(value, str) and value.strip().lower() in values:
                return label
        return None
