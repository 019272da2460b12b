"""Weighted rotation over the reps of one territory, fair to within one lead at every point.

The classic smooth weighted round robin (nginx) can drift past one lead from a rep's share
(weights 1,1,1,1,6,6,6: a rep is 1.09 behind after 15 leads), so the pick follows Tijdeman's
solution to the chairman assignment problem instead: among the reps at least 1/(2n-2) of a lead
behind their share, the one whose next lead falls due first gets it. For a fixed set of n reps
every rep's count stays within 1 - 1/(2n-2) of its weight share after every assignment.

Pure: the persisted state is each rep's lag behind its share, scaled by the total weight (an
integer, like nginx's "current weight"); the router stores the returned state in the same
transaction as the assignment.

Reps skipped this turn (out of office, at capacity, ...) either sit the turn out (their lag is
frozen, so they are not made up for) or, with `make_up_skipped`, keep accruing their share and so
catch up once they return.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RotationPick:
    email: str
    state: dict[str, int]


def next_pick(
    weights: Sequence[tuple[str, int]],
    state: Mapping[str, int],
    eligible: Collection[str],
    *,
    make_up_skipped: bool = False,
) -> RotationPick | None:
    """One assignment. `weights` is the territory's reps in config order.

    Returns None when no rep is eligible (the state is then left as it was). Ties go to the rep
    listed first. Reps no longer configured drop out of the state; new ones start at zero.
    """
    available = [(email, weight) for email, weight in weights if email in eligible]
    if not available:
        return None
    taking_part = weights if make_up_skipped else available
    total = sum(weight for _, weight in taking_part)
    lag = {email: state.get(email, 0) for email, _ in weights}
    for email, weight in taking_part:
        lag[email] += weight  # now total x (share so far - leads so far)
    if len(taking_part) == 1:
        best = available[0][0]
    else:
        spread = 2 * len(taking_part) - 2  # a rep is "due" once 1/spread of a lead behind
        due = [(email, w) for email, w in available if spread * lag[email] >= total]
        if due:
            # the rep whose next lead falls due first: smallest (1 - 1/spread - lag) / share.
            # Quotients of integers this small order exactly as floats.
            best = min(due, key=lambda rep: (total * (spread - 1) - spread * lag[rep[0]]) / rep[1])[
                0
            ]
        else:  # only after skips or weight changes: the rep furthest behind
            best = max(available, key=lambda rep: lag[rep[0]])[0]
    lag[best] -= total
    return RotationPick(email=best, state=lag)
