"""What a run's decisions add up to (its report's counts), kept flat in the number of people."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from scoring.lifecycle import INVALID_REJECTION, LifecycleDecision


@dataclass
class DecisionTally:
    scored: int = 0
    stage_changes: Counter[str] = field(default_factory=Counter)
    routed: Counter[str] = field(default_factory=Counter)  # by rule
    assignments: list[dict[str, Any]] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)  # by reason code ('' = missing)
    clocks_started: int = 0
    sla_actions: Counter[str] = field(default_factory=Counter)
    flags: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scores: Counter[int] = field(default_factory=Counter)  # score -> people (flat in N)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    unmatched_owners: Counter[tuple[str, str]] = field(default_factory=Counter)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    stages: Counter[str] = field(default_factory=Counter)
    decided_elsewhere: int = 0  # skipped: decided by the fast path while the run went on
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def count_review(self, person: str, review: LifecycleDecision) -> None:
        """A person's lifecycle review: its stage changes, the rejection codes they carry out,
        and its flags (a rejection without a valid code counts under '')."""
        for change in review.changes:
            self.stage_changes[f"{change.from_stage}->{change.to_stage}"] += 1
            if change.code is not None:
                self.rejections[change.code] += 1
        for flag in review.flags:
            if flag.kind == INVALID_REJECTION:
                self.rejections[""] += 1
            self.flags.append({"person": person, "flag": flag.kind, "detail": flag.detail})


def unmatched_owner_problems(tally: DecisionTally) -> list[str]:
    """One line per owner a CRM does not know, with how many people it held back."""
    return [
        f"{connection}: no user with email {email} ({n} people not assigned there): add the "
        "user in that CRM, or fix routing in handoff.yaml (owners are matched by email, never guessed)"
        for (connection, email), n in sorted(tally.unmatched_owners.items())
    ]
