"""`kill -9` of the worker at each kill point, for HubSpot, Salesforce and both together, on
SQLite and PostgreSQL: resumed to completion, the CRMs hold exactly what an uninterrupted
control run from the same fixture and as-of times left, field by field (owners, stages, scores,
tasks), HubSpot's owner is Salesforce's, the ledger and the SLA clocks match the control's, and
a repeat run at the same as-of changes nothing. See crash_matrix.py for the scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from crash_matrix import (
    POINTS,
    Outcome,
    Scenario,
    differences,
    owners_disagree,
    pg_admin_url,
    points_for,
    throwaway_postgres,
)

CASES = [
    pytest.param(crm, store, point, id=f"{crm}-{store}-{point}", marks=marks)
    for store, marks in (("sqlite", ()), ("postgresql", (pytest.mark.postgres,)))
    for crm in ("hubspot", "salesforce", "both")
    for point in points_for(crm)
]


@contextmanager
def _sqlite(directory: Path) -> Iterator[str]:
    yield f"sqlite:///{directory / 'handoff.db'}"


def _store(store: str, directory: Path) -> AbstractContextManager[str]:
    return _sqlite(directory) if store == "sqlite" else throwaway_postgres(pg_admin_url())


@pytest.fixture(scope="session")
def control(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Outcome]:
    """The uninterrupted scenario of each CRM and store, played once and shared."""
    played: dict[tuple[str, str], Outcome] = {}

    def get(crm: str, store: str) -> Outcome:
        if (crm, store) not in played:
            directory = tmp_path_factory.mktemp(f"control-{crm}-{store}")
            with _store(store, directory) as url, Scenario(crm, directory, url).running() as s:
                outcome = s.play()
            assert outcome.tasks and outcome.assignments, "the scenario routes and escalates"
            assert max(outcome.tasks.values()) == 1
            assert not owners_disagree(outcome), owners_disagree(outcome)
            played[(crm, store)] = outcome
        return played[(crm, store)]

    return get


@pytest.mark.parametrize(("crm", "store", "point"), CASES)
def test_killed_and_resumed_ends_as_the_uninterrupted_run(
    crm: str,
    store: str,
    point: str,
    tmp_path: Path,
    control: Callable[[str, str], Outcome],
    request: pytest.FixtureRequest,
) -> None:
    if store == "postgresql":
        request.getfixturevalue("pg_admin_url")  # fails in CI when PostgreSQL is missing
    want = control(crm, store)
    with _store(store, tmp_path) as url, Scenario(crm, tmp_path, url).running() as scenario:
        got = scenario.play(POINTS[point], t1=want.as_of[1])
    assert got.as_of == want.as_of
    assert differences(want, got) == []
    assert not owners_disagree(got)
    assert max(got.tasks.values()) == 1  # no task twice
    assert max(got.assignments.values()) == 1  # no decision in the ledger twice
