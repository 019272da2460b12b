"""The scoring model's memos are bounded low enough to be full within the first thousands of
people: a long-lived worker scoring a large portal holds no more for them after 20,000 distinct
people than after 8,000 (every address, company domain and title new: memos that never hit)."""

from __future__ import annotations

import tracemalloc

from scoring_builders import NOW, contact, days, page

from config.scoring import ScoringConfig
from scoring.model import ScoringModel


def _score(model: ScoringModel, first: int, last: int) -> None:
    for i in range(first, last):
        person = contact(
            email=f"person{i}@company{i}.example",
            company_domain=f"company{i}.example",
            title=f"Director of Growth {i}",
            company_size=50 + i % 900,
            industry="SaaS",
            country="US",
        )
        model.score(person, [page(f"/pricing/{i}", days(1))], NOW)


def test_scoring_memos_hold_no_more_after_20000_distinct_people_than_after_8000() -> None:
    model = ScoringModel.from_config(ScoringConfig())
    _score(model, 0, 200)  # first use: whatever is built once
    tracemalloc.start()
    try:
        _score(model, 200, 8_200)  # every memo filled (and cleared) once by now
        _, peak_8000 = tracemalloc.get_traced_memory()
        _score(model, 8_200, 20_200)
        _, peak_20000 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # memos of 16,384 entries (and an e-mail memo that never hit) grew ~8 MB more by 20,000;
    # bounded, they hold what they held (0.31 MB of other growth here, run alone: tracemalloc
    # also counts what other threads allocate, and in a whole suite's run some still do)
    assert peak_20000 - peak_8000 < 1_000_000, (peak_8000, peak_20000)
    assert peak_20000 < 6_000_000, peak_20000
