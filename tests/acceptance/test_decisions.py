"""The decision acceptance suite: every scenario in scenarios/*.yaml on every CRM variant.

Each step runs the real `handoff sync --as-of ...` against the sandbox over HTTPS and reads the
CRM back through its own client; a step fails with every mismatch at once (person, what, the
expected and the shown value) and the command's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crm_readback import PersonView, TaskView
from scenario_format import (
    VARIANT_NAMES,
    PersonExpectation,
    Scenario,
    TaskExpectation,
    all_scenarios,
)
from scenario_harness import VARIANTS, ScenarioRun, scenario_run


def _cases() -> list[object]:
    cases: list[object] = []
    for scenario in all_scenarios():
        for variant in VARIANT_NAMES:
            reason = scenario.xfail.get(variant)  # type: ignore[call-overload]
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(
                pytest.param(scenario, variant, id=f"{scenario.name}-{variant}", marks=marks)
            )
    return cases


def _owner_text(run: ScenarioRun, handle: str) -> str | None:
    return None if handle == "none" else run.owners[handle]


def _task_matches(run: ScenarioRun, want: TaskExpectation, got: TaskView) -> bool:
    text = f"{got.subject}\n{got.body}".lower()
    return (
        got.owner == run.owners[want.owner]
        and all(word.lower() in text for word in want.says)
        and (want.due is None or got.due == want.due)
    )


def _mismatches(run: ScenarioRun, who: str, want: PersonExpectation, got: PersonView) -> list[str]:
    problems: list[str] = []
    if want.stage not in got.stages:
        problems.append(f"{who}: stage {want.stage!r} expected, the CRM shows {got.stage_value!r}")
    handles = want.owner if isinstance(want.owner, list) else [want.owner]
    allowed = {_owner_text(run, h) for h in handles}
    if got.owner not in allowed:
        problems.append(f"{who}: owner {' or '.join(handles)} expected, the CRM shows {got.owner}")
    reasons = got.reasons.lower()
    for word in want.reason:
        if word.lower() not in reasons:
            problems.append(f"{who}: reason should say {word!r}; it says {got.reasons!r}")
    for word in want.not_reason:
        if word.lower() in reasons:
            problems.append(f"{who}: reason should not say {word!r}; it says {got.reasons!r}")
    for name in ("fit", "behaviour"):
        wanted, shown = getattr(want, name), getattr(got, name)
        if wanted is not None and shown != wanted:
            problems.append(f"{who}: {name} {wanted} expected, the CRM shows {shown}")
    unmatched = list(got.tasks)
    for task in want.tasks:
        found = next((t for t in unmatched if _task_matches(run, task, t)), None)
        if found is None:
            problems.append(f"{who}: no task {task.model_dump(exclude_none=True)}; has {unmatched}")
        else:
            unmatched.remove(found)
    if len(got.tasks) != len(want.tasks):
        problems.append(f"{who}: {len(want.tasks)} task(s) expected, the CRM has {got.tasks}")
    return problems


@pytest.mark.parametrize(("scenario", "variant"), _cases())
def test_decision(scenario: Scenario, variant: str, tmp_path: Path) -> None:
    with scenario_run(scenario, VARIANTS[variant], tmp_path) as run:
        for number, step in enumerate(scenario.steps, start=1):
            as_of = scenario.instant(step.sync)
            for edit in step.edits:
                run.apply(edit, as_of)
            outcome = run.sync(as_of)
            where = f"{scenario.name} on {variant}, step {number} (--as-of {as_of:%Y-%m-%dT%H:%MZ})"
            assert outcome.exit_code == 0, (
                f"{where}: handoff sync exited {outcome.exit_code}\n{outcome.output}"
            )
            problems: list[str] = []
            for person, want in step.expect.items():
                problems += _mismatches(run, person, want, run.person(person))
            assert not problems, f"{where}: {scenario.title}\n  " + "\n  ".join(problems)
