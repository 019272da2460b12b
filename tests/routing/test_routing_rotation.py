"""Weighted rotation: every prefix within one lead of the weight share, skips, make-up."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.rotation import next_pick

weights_strategy = st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=7)


def _reps(weights: list[int]) -> list[tuple[str, int]]:
    return [(f"r{i}@x.com", w) for i, w in enumerate(weights)]


def _run(reps, state, eligible, turns, *, make_up=False, counts=None):  # type: ignore[no-untyped-def]
    counts = counts if counts is not None else Counter()
    for _ in range(turns):
        pick = next_pick(reps, state, eligible, make_up_skipped=make_up)
        assert pick is not None
        state = pick.state
        counts[pick.email] += 1
    return state, counts


@settings(max_examples=300, deadline=None)
@given(weights=weights_strategy, turns=st.integers(min_value=1, max_value=300))
def test_every_prefix_is_within_one_of_the_weight_share(weights: list[int], turns: int) -> None:
    reps = _reps(weights)
    total = sum(weights)
    state: dict[str, int] = {}
    counts: Counter[str] = Counter()
    everyone = {email for email, _ in reps}
    bound = 1 - 1 / (2 * len(reps) - 2) if len(reps) > 1 else 0  # Tijdeman's bound, below 1
    for k in range(1, turns + 1):
        state, counts = _run(reps, state, everyone, 1, counts=counts)
        for email, weight in reps:
            assert abs(counts[email] - k * weight / total) <= bound + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=6),
    away=st.integers(min_value=1, max_value=60),
    after=st.integers(min_value=1, max_value=200),
)
def test_a_skipped_rep_is_not_made_up_for_by_default(
    weights: list[int], away: int, after: int
) -> None:
    reps = _reps(weights)
    absent = reps[0][0]
    everyone = {email for email, _ in reps}
    state, _ = _run(reps, {}, everyone - {absent}, away)
    assert state[absent] == 0  # frozen while away
    _, counts = _run(reps, state, everyone, after)
    # Back, it gets its share of the turns since its return, not of the whole run (no burst);
    # the others carry at most one turn of rounding from the time it was away.
    total = sum(weights)
    assert abs(counts[absent] - after * weights[0] / total) < 1 + 1e-9
    for email, weight in reps[1:]:
        assert abs(counts[email] - after * weight / total) < 2 + 1e-9


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=6),
    away=st.integers(min_value=1, max_value=60),
    after=st.integers(min_value=0, max_value=200),
)
def test_make_up_skipped_catches_up_over_the_whole_run(
    weights: list[int], away: int, after: int
) -> None:
    reps = _reps(weights)
    absent = reps[0][0]
    total = sum(weights)
    everyone = {email for email, _ in reps}
    state, counts = _run(reps, {}, everyone - {absent}, away, make_up=True)
    assert counts[absent] == 0
    catch_up = -(-away * weights[0] // (total - weights[0]))  # turns it needs, at least
    _, counts = _run(reps, state, everyone, after + catch_up * total, make_up=True, counts=counts)
    turns = away + after + catch_up * total
    for email, weight in reps:
        assert abs(counts[email] - turns * weight / total) < 1 + 1e-9


def test_weights_where_smooth_round_robin_drifts_past_one_lead() -> None:
    # nginx-style smooth WRR leaves a weight-6 rep 1.09 behind after 15 leads here
    weights = [1, 1, 1, 1, 6, 6, 6]
    reps = _reps(weights)
    state: dict[str, int] = {}
    counts: Counter[str] = Counter()
    for k in range(1, 3 * sum(weights) + 1):
        state, counts = _run(reps, state, {e for e, _ in reps}, 1, counts=counts)
        for email, weight in reps:
            assert abs(counts[email] - k * weight / sum(weights)) <= 1 - 1 / 12 + 1e-9


def test_skipped_reps_keep_the_order_of_the_others() -> None:
    reps = _reps([1, 1, 1, 1])
    everyone = {e for e, _ in reps}
    order = []
    state: dict[str, int] = {}
    for _ in range(6):
        pick = next_pick(reps, state, everyone - {"r1@x.com"})
        assert pick is not None
        order.append(pick.email)
        state = pick.state
    assert order == ["r0@x.com", "r2@x.com", "r3@x.com"] * 2


def test_nobody_eligible_leaves_the_state_alone() -> None:
    assert next_pick(_reps([2, 1]), {"r0@x.com": 1}, set()) is None


def test_reps_removed_from_config_drop_out_and_new_ones_start_at_zero() -> None:
    pick = next_pick(_reps([1, 1]), {"gone@x.com": 5, "r0@x.com": -1}, {"r0@x.com", "r1@x.com"})
    assert pick is not None
    assert set(pick.state) == {"r0@x.com", "r1@x.com"}
    assert pick.email == "r1@x.com"
