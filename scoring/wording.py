"""Reasons a rep reads: the score's reasons in words, naming what the person did and who they are.

`ReasonWriter.describe(score, contact, activities)` gives
- `line`: "Visited pricing 2x · Attended webinar 1x: 'Scaling RevOps' · VP at a 300-person
  software company · Last active Nov 18", for the CRM's reason field (cut at a word boundary);
- `breakdown`: the points per rule, what matched (counts, asset names), the verdict and the model
  version, as JSON-ready data for a second CRM property and the reports.

Asset names come from the canonical activity keys (connectors/activity_keys.py) of the
activities that matched each rule. Nothing in either depends on the time of the run beyond the
score itself: no "N days idle" (the line says when the person was last active, a date), so the
text changes only when the signals or the score do (`should_rewrite`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors import activity_keys as keys
from connectors.records import Activity, ActivityKind, Actor, Contact
from scoring.fit import format_value
from scoring.score import SUMMARY_LIMIT, Score, clip, fill_label

if TYPE_CHECKING:
    from scoring.model import ScoringModel

BREAKDOWN_VERSION = 1
_NAME_LIMIT = 60  # one asset name in the line
_WEBINAR = (ActivityKind.WEBINAR_ATTENDED, ActivityKind.WEBINAR_REGISTERED)
_EMAIL = (ActivityKind.EMAIL_OPEN, ActivityKind.EMAIL_CLICK)


def asset_name(activity: Activity) -> str | None:
    """What the person engaged with, named by its canonical keys: the webinar, the form, the
    page's title (or its path), the email's subject, the trial milestone."""
    p = activity.properties
    kind = activity.kind
    if kind in _WEBINAR:
        order: tuple[str, ...] = (keys.WEBINAR_NAME, keys.CAMPAIGN)
    elif kind is ActivityKind.FORM_SUBMISSION:
        order = (keys.FORM_NAME, keys.PAGE_TITLE)
    elif kind is ActivityKind.PAGE_VIEW:
        order = (keys.PAGE_TITLE,)
    elif kind in _EMAIL:
        order = (keys.EMAIL_SUBJECT, keys.CAMPAIGN)
    elif kind is ActivityKind.TRIAL_MILESTONE:
        order = (keys.MILESTONE,)
    else:
        order = (keys.SUBJECT, keys.CAMPAIGN)
    for key in order:
        value = (p.get(key) or "").strip()
        if value:
            return clip(" ".join(value.split()), _NAME_LIMIT)
    if kind in (ActivityKind.PAGE_VIEW, ActivityKind.FORM_SUBMISSION):
        path = urlsplit(p.get(keys.URL) or "").path.rstrip("/")
        if path:
            return clip(path, _NAME_LIMIT)
    return None


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one behaviour rule matched: how many, the distinct names (latest first), when."""

    count: int
    assets: tuple[str, ...]
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Described:
    line: str
    breakdown: dict[str, Any]


def _article(phrase: str) -> str:
    """'a' or 'an' before a phrase: an 800-person, an 11-person, an industrial ..."""
    head = phrase.split("-", 1)[0].replace(",", "")
    if head.isdigit():
        n = int(head)
        spoken_vowel = head.startswith("8") or n in (11, 18) or 11_000 <= n < 12_000
        return "an" if spoken_vowel or 18_000 <= n < 19_000 else "a"
    return "an" if phrase[:1].lower() in "aeio" else "a"


def _industry_words(value: Any) -> str:
    text = format_value(value).strip()
    # "Software" -> "software"; "SaaS", "B2B" keep their capitals
    return text.lower() if text[1:] == text[1:].lower() else text


def _size_words(value: Any) -> str:
    amount = format_value(value).strip()
    try:
        return f"{int(float(amount.replace(',', ''))):,}-person"
    except ValueError:
        return f"{amount}-person"


class ReasonWriter:
    """Words for one compiled model's scores (build once per run)."""

    def __init__(self, model: ScoringModel) -> None:
        cfg = model.config
        self.version = model.version
        self._limit = SUMMARY_LIMIT
        self._fields = {rule.id: rule.field for rule in cfg.fit}
        self._labels = {rule.id: rule.label for rule in cfg.behaviour}
        self._rules = {
            compiled.rule_id: (compiled.slot, rule.within)
            for compiled, rule in zip(model._behaviour, cfg.behaviour, strict=True)
        }
        self._classifier = model._classifier
        self._lookback = cfg.lookback

    # -- what matched ----------------------------------------------------------------------------

    def evidence(self, score: Score, activities: Sequence[Activity]) -> dict[str, Evidence]:
        """Per behaviour rule that scored: the activities it counted, summed up."""
        now = score.computed_at
        horizon = now - self._lookback
        own = [
            a for a in activities if a.actor is Actor.CONTACT and horizon <= a.occurred_at <= now
        ]
        found: dict[str, Evidence] = {}
        for item in score.reasons:
            if item.category != "behaviour" or item.rule_id not in self._rules:
                continue
            slot, within = self._rules[item.rule_id]
            since = now - within if within is not None else horizon
            matched = sorted(
                (a for a in own if a.occurred_at >= since and self._classifier.matches(slot, a)),
                key=lambda a: a.occurred_at,
                reverse=True,
            )
            if not matched:
                continue
            names = [n for n in (asset_name(a) for a in matched) if n]
            found[item.rule_id] = Evidence(
                len(matched),
                tuple(dict.fromkeys(names)),
                matched[-1].occurred_at,
                matched[0].occurred_at,
            )
        return found

    # -- the line --------------------------------------------------------------------------------

    def fit_words(self, score: Score, contact: Contact) -> list[str]:
        """The person's fit in words: "VP at a 300-person software company", then the fit
        reasons that are not about the title or the company ("Supported region")."""
        get = contact.fields.get
        level = size = industry = None
        rest: list[str] = []
        for item in score.reasons:
            if item.category != "fit":
                continue
            field = self._fields.get(item.rule_id)
            if item.rule_id == "seniority" and field is None:
                level = item.label
            elif field == "company_size" and get("company_size") not in (None, ""):
                size = _size_words(get("company_size"))
            elif field == "industry" and get("industry") not in (None, ""):
                industry = _industry_words(get("industry"))
            else:
                rest.append(item.label)
        company = " ".join(w for w in (size, industry) if w)
        if level and company:
            head = f"{level} at {_article(company)} {company} company"
        elif company:
            head = f"{company[:1].upper()}{company[1:]} company"
        else:
            head = level or ""
        return [w for w in (head, *rest) if w]

    def line(self, score: Score, contact: Contact, evidence: Mapping[str, Evidence]) -> str:
        """The CRM's reason line: fast lane (or why not MQL), what they did (named), who they
        are, penalties, when last active (with the decay it cost). At most 255 characters."""
        segments: list[str] = []
        if score.fast_lane_reason:
            segments.append(f"Fast lane: {score.fast_lane_reason}")
        elif score.disqualify_reason:
            segments.append(f"Not MQL: {score.disqualify_reason}")
        decay = None
        for item in score.reasons:
            if item.category != "behaviour":
                continue
            if item.rule_id == "decay":
                decay = item
                continue
            seen = evidence.get(item.rule_id)
            label = self._labels.get(item.rule_id)
            if seen is not None and label is not None:
                segments.append(fill_label(label, seen.count, seen.assets))
            else:
                segments.append(item.label)
        fit = self.fit_words(score, contact)
        if fit:
            segments.append(", ".join(fit))
        segments.extend(r.label for r in score.reasons if r.category == "negative")
        segments.extend(r.label for r in score.reasons if r.rule_id == "icp_ceiling")
        if decay is not None and score.last_signal_at is not None:
            share = decay.label.split(" ", 1)[0]  # "−20%"
            segments.append(
                f"Last active {_day(score.last_signal_at, score.computed_at)} ({share} decay)"
            )
        if not segments:
            return "No fit or intent signals yet"
        return clip(" · ".join(segments), self._limit)

    # -- the breakdown ---------------------------------------------------------------------------

    def breakdown(self, score: Score, evidence: Mapping[str, Evidence]) -> dict[str, Any]:
        rules = []
        for item in score.reasons:
            entry: dict[str, Any] = {
                "rule": item.rule_id,
                "category": item.category,
                "points": item.points,
            }
            seen = evidence.get(item.rule_id)
            if seen is not None:
                entry["count"] = seen.count
                entry["last"] = seen.last_at.date().isoformat()
                if seen.assets:
                    entry["assets"] = list(seen.assets[:5])
            rules.append(entry)
        return {
            "v": BREAKDOWN_VERSION,
            "model": score.model_version,
            "as_of": score.computed_at.isoformat().replace("+00:00", "Z"),
            "score": score.total,
            "fit": score.fit,
            "behaviour": score.behaviour,
            "negative": score.negative,
            "mql": score.mql,
            "fast_lane": score.fast_lane_reason,
            "disqualified": score.disqualify_reason if score.disqualified else None,
            "last_active": score.last_signal_at.date().isoformat()
            if score.last_signal_at
            else None,
            "rules": rules,
        }

    def describe(self, score: Score, contact: Contact, activities: Sequence[Activity]) -> Described:
        evidence = self.evidence(score, activities)
        return Described(self.line(score, contact, evidence), self.breakdown(score, evidence))


def breakdown_json(breakdown: Mapping[str, Any], limit: int) -> str:
    """The breakdown as compact JSON within `limit` characters: asset names go first, then the
    smallest rules (the totals and the model always stay)."""
    data = dict(breakdown)
    rules = [dict(r) for r in data.get("rules", [])]
    data["rules"] = rules
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= limit:
        return text
    for rule in rules:
        rule.pop("assets", None)
    while True:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if len(text) <= limit or not rules:
            return text
        rules.pop()


_SIGNAL_CATEGORIES = frozenset({"fit", "behaviour", "negative"})


def _signals(reasons: Sequence[Mapping[str, Any]]) -> set[tuple[str, str, int]]:
    """What scored, as (rule, label, points): the label carries a rule's count ("Visited
    pricing 3x") and a fit value, so a capped rule that matched once more is a new signal."""
    return {
        (str(r["rule_id"]), str(r.get("label", "")), int(r["points"]))
        for r in reasons
        if r.get("category") in _SIGNAL_CATEGORIES and r.get("rule_id") != "decay"
    }


def should_rewrite(
    written: Sequence[Mapping[str, Any]] | None,
    written_verdict: tuple[bool, bool, bool, str],
    score: Score,
    score_delta: int,
) -> bool:
    """Whether the reasons written last (their items and the verdict then: mql, fast lane,
    disqualified, model version) are out of date for `score`: a rule that scored is new, gone,
    counts or scores differently, the verdict or the model changed, or the total moved `score_delta` or
    more since. Time passing alone (decay within the threshold) is not a reason to rewrite.
    `written` is None when nothing was written yet."""
    if written is None:  # never written
        return True
    verdict = (score.mql, score.fast_lane, score.disqualified, score.model_version)
    if verdict != written_verdict:
        return True
    if _signals(written) != _signals([r.as_dict() for r in score.reasons]):
        return True
    then = sum(int(r.get("points", 0)) for r in written)
    return abs(score.total - then) >= max(score_delta, 1)


def _day(at: datetime, now: datetime) -> str:
    text = f"{at:%b} {at.day}"
    return text if at.year == now.year else f"{text}, {at.year}"
