"""One validation pass: field errors and cross-reference errors come out together, each with its
place and the fix (the closest name), exit 2, no traceback; also on commands that load config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).parent / "configs" / "crossed_references.yaml"

# (place, what the person reads) for every mistake in crossed_references.yaml
EXPECTED = [
    (
        ":13: connections[0].objects.contact.lifecycle_stage.values.mgl:",
        "unknown stage 'mgl': did you mean 'mql'?",
    ),
    (
        ":14: connections[0].objects.contact.rejection_reason.values.not_icpp:",
        "unknown rejection code 'not_icpp': did you mean 'not_icp'?",
    ),
    (":24: routing.territories[1].reps[0].weight:", "0 is out of range: it must be at least 1"),
    (
        ":25: routing.territories[1].backup:",
        "backup bobb@acme.test is not a rep, manager or the fallback owner of any territory: "
        "did you mean 'bob@acme.test'?",
    ),
    (
        ":31: sla.territory_calendars.na-eats:",
        "unknown territory 'na-eats': did you mean 'na-east'? "
        "(routing.territories defines emea, na-east)",
    ),
    (
        ":31: sla.territory_calendars.emea:",
        "unknown calendar 'londn': did you mean 'london'? (sla.calendars defines london, us-east)",
    ),
    (
        ":34: sla.policies.fast.lane:",
        "lane 'fats' is not one Handoff starts SLA clocks in: did you mean 'fast'?",
    ),
    (":35: sla.policies.fast.stages[0]:", "unknown stage 'mgl': did you mean 'mql'?"),
    (
        ":38: sync.lifecycle_owner:",
        "unknown connection 'hubsopt': did you mean 'hubspot'? (connections: hubspot)",
    ),
    (":40: schedules.sync_evry:", "unknown key 'sync_evry': did you mean 'sync_every'?"),
]


def handoff(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "400", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _check_every_problem(stderr: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    for place, words in EXPECTED:
        line = next((ln for ln in lines if place in ln), None)
        assert line is not None, f"{place} not reported:\n{stderr}"
        assert line.startswith(f"{BROKEN}{place}"), line  # file:line: location: message
        assert words in line, line


def test_validate_reports_field_and_cross_reference_errors_in_one_run() -> None:
    result = handoff("config", "validate", str(BROKEN))
    assert result.returncode == 2
    _check_every_problem(result.stderr)
    assert f"{BROKEN}: {len(EXPECTED)} problem(s)" in result.stderr
    short = handoff("validate", "--config", str(BROKEN))  # `handoff validate`, the config named
    assert short.returncode == 2 and short.stderr == result.stderr


def test_a_command_loading_the_config_reports_the_same_and_exits_2(tmp_path: Path) -> None:
    result = handoff("sync", "--dry-run", "--config", str(BROKEN), cwd=tmp_path)
    assert result.returncode == 2
    _check_every_problem(result.stderr)
    assert f"{len(EXPECTED)} problem(s): fix them and run again." in result.stderr
    assert not list(tmp_path.iterdir())  # nothing ran: no store, no report


def test_a_misspelt_territory_is_an_error_wherever_it_is_named(tmp_path: Path) -> None:
    text = (ROOT / "config" / "examples" / "hubspot.yaml").read_text()
    assert "territory_calendars: {na-east: us-east," in text
    broken = tmp_path / "handoff.yaml"
    broken.write_text(text.replace("{na-east: us-east,", "{na-east: us-east, na-wset: us-west,"))
    result = handoff("config", "validate", str(broken))
    assert result.returncode == 2, result.stderr
    assert (
        "sla.territory_calendars.na-wset: unknown territory 'na-wset': did you mean 'na-west'?"
        in result.stderr
    )


def test_a_heartbeat_slower_than_its_stale_limit_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "config" / "examples" / "hubspot.yaml").read_text()
    broken = tmp_path / "handoff.yaml"
    broken.write_text(text + "\nmonitoring: {heartbeat_every: 5m, heartbeat_max_age: 3m}\n")
    result = handoff("config", "validate", str(broken))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "monitoring: heartbeat_every (5m) must be below heartbeat_max_age (3m)" in result.stderr


def test_a_name_from_an_unset_variable_is_the_variable_s_problem_only(tmp_path: Path) -> None:
    text = (ROOT / "config" / "examples" / "hubspot.yaml").read_text()
    assert "default_calendar: us-east" in text
    config = tmp_path / "handoff.yaml"
    config.write_text(
        text.replace("default_calendar: us-east", "default_calendar: ${HANDOFF_TEST_CALENDAR}")
    )
    lenient = handoff("config", "validate", str(config))
    assert lenient.returncode == 0, lenient.stderr  # a warning until the variable is set
    assert "environment variable HANDOFF_TEST_CALENDAR is not set" in lenient.stderr
    assert "unknown calendar" not in lenient.stderr
    wrong = handoff("config", "validate", str(config), HANDOFF_TEST_CALENDAR="us-eats")
    assert wrong.returncode == 2
    assert "sla.default_calendar: unknown calendar 'us-eats': did you mean 'us-east'?" in (
        wrong.stderr
    )
