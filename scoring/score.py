"""What a score is: the numbers, the verdict, and the reasons behind them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Literal

Category = Literal["fit", "behaviour", "negative", "adjustment"]
Track = Literal["standard", "competitor", "academic"]

SUMMARY_LIMIT = 255
_CATEGORY_ORDER = {"fit": 0, "behaviour": 1, "negative": 2, "adjustment": 3}


@dataclass(frozen=True, slots=True)
class ReasonItem:
    """One line of the breakdown. `adjustment` items are caps, the ICP ceiling and the zero
    floor; with them the points of all items add up to the score's total."""

    rule_id: str
    label: str
    points: int
    category: Category
    order: tuple[int, int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", weight_order(self))

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "label": self.label,
            "points": self.points,
            "category": self.category,
        }


def weight_order(item: ReasonItem) -> tuple[int, int, str]:
    """Heaviest first; ties by category then rule id, so the order is deterministic."""
    return (-abs(item.points), _CATEGORY_ORDER[item.category], item.rule_id)


_DANGLING = re.compile(r"[\s:,;·–-]+$")
_SPACES = re.compile(r"\s{2,}")


def clip(text: str, limit: int) -> str:
    """`text` in at most `limit` characters: cut at a word boundary with an ellipsis, never
    mid-word (a single word longer than the limit is the one exception: it is cut)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return _DANGLING.sub("", cut) + "…"


def fill_label(label: str, count: int, assets: Sequence[str], value: str | None = None) -> str:
    """A rule's label with its placeholders filled: {count}, {value}, {s} (plural), {assets}
    (the named things that matched: quoted, most recent first). Without assets, what would
    dangle ("Attended webinar 2x: ") is trimmed."""
    text = label.format(
        count=count,
        value=count if value is None else value,
        s="" if count == 1 else "s",
        assets=name_list(assets),
    )
    return _DANGLING.sub("", _SPACES.sub(" ", text)).strip()


def name_list(names: Sequence[str], most: int = 3) -> str:
    """ "'A', 'B' and 'C'"; beyond `most`: "'A', 'B', 'C' and 2 more"."""
    quoted = [f"'{n}'" for n in names[:most]]
    rest = len(names) - len(quoted)
    if rest > 0:
        return ", ".join(quoted) + f" and {rest} more"
    if len(quoted) > 1:
        return ", ".join(quoted[:-1]) + " and " + quoted[-1]
    return quoted[0] if quoted else ""


by_weight = attrgetter("order")  # sort key: the order computed once per item
_set_fields = object.__setattr__  # past the frozen dataclass's __setattr__, as dataclasses do


@dataclass(frozen=True, init=False)
class Score:
    """A contact's score at `computed_at`, as `ScoringModel.score` returns it.

    `fit` and `behaviour` are the capped component scores (behaviour after decay), `negative`
    the sum of penalties (<= 0); `total` is what the CRM gets. `mql` is the marketing-qualified
    verdict (the threshold, or the fast lane), never true for a disqualified contact.
    """

    total: int
    fit: int
    behaviour: int
    negative: int
    mql: bool
    fast_lane: bool
    fast_lane_reason: str | None
    disqualified: bool
    disqualify_reason: str | None
    outside_icp: bool
    track: Track
    reasons: tuple[ReasonItem, ...]
    model_version: str
    computed_at: datetime
    last_signal_at: datetime | None

    def __init__(
        self,
        total: int,
        fit: int,
        behaviour: int,
        negative: int,
        mql: bool,
        fast_lane: bool,
        fast_lane_reason: str | None,
        disqualified: bool,
        disqualify_reason: str | None,
        outside_icp: bool,
        track: Track,
        reasons: tuple[ReasonItem, ...],
        model_version: str,
        computed_at: datetime,
        last_signal_at: datetime | None,
    ) -> None:
        # One Score per contact scored: the generated frozen __init__ would go through
        # object.__setattr__ once per field; this sets the (frozen) instance's fields at once.
        # Same fields, order and defaults as the dataclass (tests/scoring/test_model.py checks).
        _set_fields(
            self,
            "__dict__",
            {
                "total": total,
                "fit": fit,
                "behaviour": behaviour,
                "negative": negative,
                "mql": mql,
                "fast_lane": fast_lane,
                "fast_lane_reason": fast_lane_reason,
                "disqualified": disqualified,
                "disqualify_reason": disqualify_reason,
                "outside_icp": outside_icp,
                "track": track,
                "reasons": reasons,
                "model_version": model_version,
                "computed_at": computed_at,
                "last_signal_at": last_signal_at,
            },
        )

    @property
    def summary(self) -> str:
        """The short human line for the CRM (<= 255 chars), rendered from the reasons."""
        blocked = None if self.fast_lane else self.disqualify_reason
        return render_summary(self.reasons, self.fast_lane_reason, blocked)

    @property
    def rule_ids(self) -> frozenset[str]:
        """Rules that scored (non-adjustment reasons): the features calibration learns from."""
        return frozenset(r.rule_id for r in self.reasons if r.category != "adjustment")

    def breakdown(self) -> dict[str, Any]:
        """The full explanation for reports (JSON-ready)."""
        return {
            "total": self.total,
            "fit": self.fit,
            "behaviour": self.behaviour,
            "negative": self.negative,
            "mql": self.mql,
            "fast_lane": self.fast_lane,
            "fast_lane_reason": self.fast_lane_reason,
            "disqualified": self.disqualified,
            "disqualify_reason": self.disqualify_reason,
            "outside_icp": self.outside_icp,
            "track": self.track,
            "reasons": [r.as_dict() for r in self.reasons],
            "summary": self.summary,
            "model_version": self.model_version,
            "computed_at": self.computed_at.isoformat(),
            "last_signal_at": self.last_signal_at.isoformat() if self.last_signal_at else None,
        }


def render_summary(
    reasons: tuple[ReasonItem, ...], fast_lane_label: str | None, blocked_by: str | None
) -> str:
    """The short CRM line: fast lane, behaviour, fit (one segment), penalties, decay.

    e.g. "Visited pricing 2x · Director, 300-person company · −20% decay, 34 days idle".
    """
    segments: list[str] = []
    if fast_lane_label:
        segments.append(f"Fast lane: {fast_lane_label}")
    elif blocked_by:
        segments.append(f"Not MQL: {blocked_by}")
    behaviour = [r.label for r in reasons if r.category == "behaviour" and r.rule_id != "decay"]
    segments.extend(behaviour)
    fit = [r.label for r in reasons if r.category == "fit"]
    if fit:
        segments.append(", ".join(fit))
    segments.extend(r.label for r in reasons if r.category == "negative")
    segments.extend(r.label for r in reasons if r.rule_id in ("decay", "icp_ceiling"))
    if not segments:
        return "No fit or intent signals yet"
    line = " · ".join(segments)
    return clip(line, SUMMARY_LIMIT)
