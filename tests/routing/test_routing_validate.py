"""`config validate` on a whole handoff.yaml: routing problems come out located, one line each."""

from __future__ import annotations

from pathlib import Path

from config.loader import check_config, read_config_text

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "examples" / "hubspot.yaml"


def _edit(old: str, new: str) -> str:
    text = read_config_text(EXAMPLE)
    assert old in text, f"the example config changed: {old!r} is gone"
    return text.replace(old, new)


def _problems(text: str) -> list[str]:
    _, problems = check_config(text, "handoff.yaml")
    return [p.render("handoff.yaml") for p in problems if not p.environment]


def test_the_example_routing_section_is_valid() -> None:
    assert _problems(read_config_text(EXAMPLE)) == []


def test_a_territory_tie_is_one_located_line() -> None:
    text = _edit("match: {countries: [CA]}", "match: {industries: [software]}")
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].startswith("handoff.yaml:")
    assert " routing.territories[" in problems[0] and "].match: " in problems[0]
    assert "overlap with equal specificity" in problems[0]
    assert "\n" not in problems[0]


def test_a_backwards_out_of_office_range_points_at_the_rep() -> None:
    text = _edit(
        "- {email: olivia.chen@handoff-demo.com}",
        "- {email: olivia.chen@handoff-demo.com, "
        "out_of_office: [{start: 2026-12-10, end: 2026-12-01}]}",
    )
    (problem,) = _problems(text)
    assert "routing.territories[1].reps[0].out_of_office[0]:" in problem
    assert "swap start and end" in problem
