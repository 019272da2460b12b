"""Calibration from outcomes: which signals predict won deals, where the MQL bar should sit.

Plain inputs in (one `CalibrationSample` per scored contact: the rules that scored, its total and
what happened), a `CalibrationReport` out, with a Markdown rendering and a proposed config diff.
It never changes config; the lead's CLI reads outcomes from the store and prints the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.score import Score

HEALTHY_BAND = (0.25, 0.40)
TOO_LOW, TOO_HIGH = 0.20, 0.50
MIN_POSITIVES = 5


@dataclass(frozen=True, slots=True)
class CalibrationSample:
    """One scored contact and its outcome. `sql`: accepted as SQL (False = rejected, None =
    unknown); `won`: closed-won (False = lost or never, None = still open)."""

    signals: frozenset[str]
    score: int
    mql: bool
    sql: bool | None = None
    won: bool | None = None

    @classmethod
    def from_score(
        cls, score: Score, *, sql: bool | None = None, won: bool | None = None
    ) -> CalibrationSample:
        """A sample from a stored score (the rules that scored, its total and MQL verdict)."""
        return cls(score.rule_ids, score.total, score.mql, sql, won)


@dataclass(frozen=True, slots=True)
class SignalLift:
    rule_id: str
    won_with: int
    mql_with: int
    share_won: float
    share_mql: float

    @property
    def lift(self) -> float | None:
        """share among won / share among MQLs (None when no MQL had it)."""
        return self.share_won / self.share_mql if self.share_mql else None


@dataclass(frozen=True, slots=True)
class ThresholdRow:
    threshold: int
    volume: int
    sql_rate: float | None
    won_recall: float | None

    @property
    def band(self) -> str:
        rate = self.sql_rate
        if rate is None:
            return "n/a"
        if HEALTHY_BAND[0] <= rate <= HEALTHY_BAND[1]:
            return "healthy"
        if rate < TOO_LOW:
            return "bar too low"
        if rate > TOO_HIGH:
            return "bar too high"
        return "near band"


@dataclass(frozen=True, slots=True)
class WeightSuggestion:
    rule_id: str
    current: int
    proposed: int
    coefficient: float


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    samples: int
    mqls: int
    sqls: int
    won: int
    target: str  # "won" | "sql": what the regression predicted
    lifts: tuple[SignalLift, ...]
    sweep: tuple[ThresholdRow, ...]
    suggestions: tuple[WeightSuggestion, ...]
    notes: tuple[str, ...]

    def config_diff(self) -> str:
        """Proposed weight changes as a diff of rule points (never applied automatically)."""
        changed = [s for s in self.suggestions if s.proposed != s.current]
        if not changed:
            return "(no weight changes proposed)"
        lines = ["--- scoring (current)", "+++ scoring (proposed)"]
        for s in changed:
            lines.append(f"-  {s.rule_id}: {s.current}")
            lines.append(f"+  {s.rule_id}: {s.proposed}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        out = [
            "# Scoring calibration",
            "",
            f"{self.samples} scored contacts, {self.mqls} MQLs, {self.sqls} SQLs, "
            f"{self.won} won deals.",
            "",
            "## Signal lift (share among won deals vs share among MQLs)",
            "",
            "| signal | won with it | share of won | share of MQLs | lift |",
            "|---|---:|---:|---:|---:|",
        ]
        for item in self.lifts:
            lift = f"{item.lift:.2f}" if item.lift is not None else "–"
            out.append(
                f"| {item.rule_id} | {item.won_with} | {_pct(item.share_won)} | "
                f"{_pct(item.share_mql)} | {lift} |"
            )
        out += [
            "",
            "## Threshold sweep (healthy MQL→SQL band: 25–40%)",
            "",
            "| threshold | MQL volume | MQL→SQL | won-deal recall | band |",
            "|---:|---:|---:|---:|---|",
        ]
        for row in self.sweep:
            mark = "**healthy**" if row.band == "healthy" else row.band
            out.append(
                f"| {row.threshold} | {row.volume} | {_pct(row.sql_rate)} | "
                f"{_pct(row.won_recall)} | {mark} |"
            )
        out += ["", f"## Suggested weights (logistic regression on {self.target})", ""]
        out += ["```diff", self.config_diff(), "```"]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def signal_lifts(samples: Sequence[CalibrationSample]) -> tuple[SignalLift, ...]:
    won = [s for s in samples if s.won]
    mqls = [s for s in samples if s.mql]
    rules = sorted({r for s in samples for r in s.signals})
    lifts = []
    for rule in rules:
        won_with = sum(rule in s.signals for s in won)
        mql_with = sum(rule in s.signals for s in mqls)
        lifts.append(
            SignalLift(
                rule,
                won_with,
                mql_with,
                won_with / len(won) if won else 0.0,
                mql_with / len(mqls) if mqls else 0.0,
            )
        )
    return tuple(sorted(lifts, key=lambda x: (-(x.lift or 0.0), x.rule_id)))


def threshold_sweep(
    samples: Sequence[CalibrationSample], thresholds: Sequence[int]
) -> tuple[ThresholdRow, ...]:
    total_won = sum(1 for s in samples if s.won)
    rows = []
    for t in thresholds:
        chosen = [s for s in samples if s.score >= t]
        judged = [s for s in chosen if s.sql is not None]
        rows.append(
            ThresholdRow(
                t,
                len(chosen),
                sum(1 for s in judged if s.sql) / len(judged) if judged else None,
                sum(1 for s in chosen if s.won) / total_won if total_won else None,
            )
        )
    return tuple(rows)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; returns [intercept, *weights]."""
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (y - p) - penalty @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def suggest_weights(
    samples: Sequence[CalibrationSample], current: Mapping[str, int], target: str
) -> tuple[WeightSuggestion, ...]:
    """Regression coefficients rescaled so the positive rules keep their current point budget."""
    rules = sorted(r for r in current if any(r in s.signals for s in samples))
    if not rules:
        return ()
    x = np.array([[1.0 if r in s.signals else 0.0 for r in rules] for s in samples])
    y = np.array([1.0 if getattr(s, target) else 0.0 for s in samples])
    coefs = fit_logistic(x, y)[1:]
    positive = [i for i, r in enumerate(rules) if current[r] > 0 and coefs[i] > 0]
    budget = sum(current[rules[i]] for i in positive)
    mass = float(sum(coefs[i] for i in positive))
    scale = budget / mass if mass > 0 else 0.0
    out = []
    for i, rule in enumerate(rules):
        now_points = current[rule]
        scaled = round(float(coefs[i]) * scale)
        # a positive rule with no lift is flagged in the notes, never turned into a penalty
        proposed = max(1, scaled) if now_points > 0 else (min(0, scaled) if scale else now_points)
        out.append(WeightSuggestion(rule, now_points, proposed, round(float(coefs[i]), 4)))
    return tuple(out)


def calibrate(
    samples: Sequence[CalibrationSample],
    current_weights: Mapping[str, int],
    thresholds: Sequence[int] = tuple(range(30, 95, 5)),
) -> CalibrationReport:
    """The calibration report: signal lift, a threshold sweep and suggested weights.

    `current_weights` is rule id -> configured points (`ScoringModel.rule_points()`)."""
    mqls = sum(1 for s in samples if s.mql)
    sqls = sum(1 for s in samples if s.sql)
    won = sum(1 for s in samples if s.won)
    notes: list[str] = []
    target = "won" if won >= MIN_POSITIVES else "sql"
    positives = won if target == "won" else sqls
    suggestions: tuple[WeightSuggestion, ...] = ()
    if positives < MIN_POSITIVES or positives == len(samples):
        notes.append(
            f"only {won} won deals and {sqls} SQLs: too few outcomes to suggest weights "
            f"(need {MIN_POSITIVES}+ of either, and some that did not convert)"
        )
    else:
        if target == "sql":
            notes.append(f"fewer than {MIN_POSITIVES} won deals: weights fitted to SQL acceptance")
        suggestions = suggest_weights(samples, current_weights, target)
        for s in suggestions:
            if s.current > 0 and s.coefficient <= 0:
                notes.append(f"{s.rule_id} shows no positive lift: consider removing it")
    sweep = threshold_sweep(samples, thresholds)
    if samples and not any(r.band == "healthy" for r in sweep):
        notes.append("no threshold in the sweep lands MQL→SQL inside the 25–40% band")
    return CalibrationReport(
        samples=len(samples),
        mqls=mqls,
        sqls=sqls,
        won=won,
        target=target,
        lifts=signal_lifts(samples),
        sweep=sweep,
        suggestions=suggestions,
        notes=tuple(notes),
    )
