"""The score fields of a CRM record: numbers every time they change, words only when they matter.

The reason line (`score_reasons`) and its machine-readable breakdown (`score_breakdown`, JSON) are
rewritten only when `scoring.wording.should_rewrite` says the signals, the verdict, the model or
the score (by `scoring.rewrite_reason_when.score_delta`) changed since they were last written:
a rerun days later with no new activity writes nothing, where an "N days idle" line used to
bump every record's modified time and spend API quota. Person state keeps the written reasons
(`summary`, `reasons`) as the anchor of that comparison.

Field limits: the line stays within 255 characters (a Salesforce Text field; a line a rep reads
in a list view); the breakdown within the property's size: HubSpot string properties hold
65,536 characters, a Salesforce Long Text Area as `handoff crm setup` defines it 32,768.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.model import HandoffConfig
from scoring.model import ScoringModel
from scoring.score import Score
from scoring.wording import ReasonWriter, breakdown_json, should_rewrite
from sync.people import PersonView
from sync.person_state import StateRow

BREAKDOWN_LIMITS = {"hubspot": 65_536, "salesforce": 32_768}
WORDS = ("score_reasons", "score_breakdown")


@dataclass(frozen=True, slots=True)
class ScoreWords:
    """A person's reasons for this run, and whether the CRM gets them (`rewrite`)."""

    line: str
    breakdown: dict[str, Any]
    rewrite: bool


class ReasonPublisher:
    """Decides, per person, the reason words to write; builds each record's score values."""

    def __init__(self, model: ScoringModel, config: HandoffConfig) -> None:
        self.writer = ReasonWriter(model)
        self.delta = config.scoring.rewrite_reason_when.score_delta
        self.kinds = {c.name: c.kind for c in config.connections}

    def words(self, person: PersonView, state: StateRow, score: Score) -> ScoreWords:
        written = state.reasons if state.summary else None  # a line was written before
        verdict = (state.mql, state.fast_lane, state.disqualified, state.model_version)
        rewrite = should_rewrite(written, verdict, score, self.delta)
        if not rewrite:
            return ScoreWords(state.summary, {}, False)
        described = self.writer.describe(score, person.contact, person.activities)
        return ScoreWords(described.line, described.breakdown, True)

    def values(
        self, connection: str, crm: dict[str, Any], score: Score, words: ScoreWords
    ) -> list[tuple[str, Any]]:
        """(canonical field, value) to plan for one record. Without a rewrite, the line last
        written is planned again only where the CRM lost it (empty): a no-op otherwise."""
        values: list[tuple[str, Any]] = [
            ("score", score.total),
            ("score_fit", score.fit),
            ("score_behaviour", score.behaviour),
            ("score_model", score.model_version),
        ]
        if words.rewrite:
            limit = BREAKDOWN_LIMITS.get(self.kinds.get(connection, ""), 32_768)
            values.append(("score_reasons", words.line))
            values.append(("score_breakdown", breakdown_json(words.breakdown, limit)))
        elif crm.get("score_reasons") in (None, "") and words.line:
            values.append(("score_reasons", words.line))
        return values


def keep_written(state: StateRow, score: Score, words: ScoreWords) -> None:
    """Person state remembers the reasons the CRM got (the anchor of the next comparison)."""
    if words.rewrite:
        state.summary = words.line
        state.reasons = [item.as_dict() for item in score.reasons]
