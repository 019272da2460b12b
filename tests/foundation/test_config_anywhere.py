"""Every everyday command runs from any directory with `--config` or `HANDOFF_CONFIG`; with
neither and no ./handoff.yaml, each says so in one line pointing to `handoff init` (exit 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment

ROOT = Path(__file__).resolve().parents[2]
SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

# (command, what its output says when it worked)
EVERYDAY = [
    (["config", "validate", "--strict-env"], ": ok"),
    (["db", "upgrade"], "up to date"),
    (["crm", "setup", "--check"], ""),
    (["sync", "--dry-run"], "dry run"),
    (["report"], ""),
    (["status"], "Last runs:"),
    (["outbox", "list"], ""),
    (["calibrate"], ""),
    (["run"], "--confirm"),  # a store that never ran live: one dry run, then it stops
]


def handoff(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "COLUMNS": "300", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A sandbox HubSpot, the example config in its own folder, the store and reports beside."""
    root = tmp_path_factory.mktemp("anywhere")
    portal = generate_portal(3, 20, SEED_NOW)
    sandbox = Sandbox(portal, salesforce=False, ca_directory=root / "ca")
    with sandbox, sandbox_environment(sandbox.info, root / "state") as env:
        (root / "state").mkdir()
        (root / "etc").mkdir()
        config = root / "etc" / "handoff.yaml"
        shutil.copy(example_config("hubspot"), config)
        yield config, dict(env), portal.people[0].email


def test_every_command_runs_with_config_given_from_another_directory(
    stack: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    config, env, email = stack
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args, says in [*EVERYDAY, (["explain", email], email)]:
        done = handoff([*args, "--config", str(config)], elsewhere, env)
        shown = done.stdout + done.stderr
        assert done.returncode == 0, f"handoff {' '.join(args)} -c:\n{shown[-3000:]}"
        assert says in shown and "Traceback" not in shown, shown[-3000:]
    by_env = {**env, "HANDOFF_CONFIG": str(config)}
    for args, says in [EVERYDAY[0], EVERYDAY[3], EVERYDAY[5], (["explain", email], email)]:
        done = handoff(args, elsewhere, by_env)
        shown = done.stdout + done.stderr
        assert done.returncode == 0, f"HANDOFF_CONFIG handoff {' '.join(args)}:\n{shown[-3000:]}"
        assert says in shown and "Traceback" not in shown, shown[-3000:]
    assert list(elsewhere.iterdir()) == []  # nothing looked for or left in the working directory


def test_without_a_config_each_command_points_to_handoff_init(tmp_path: Path) -> None:
    for args, _ in [*EVERYDAY, (["explain", "ana@acme.test"], "")]:
        done = handoff(args, tmp_path, {})
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert f"error: no handoff.yaml in {tmp_path}: write one with `handoff init`" in done.stderr
    wrong = tmp_path / "etc" / "handoff.yaml"
    done = handoff(["status"], tmp_path, {"HANDOFF_CONFIG": str(wrong)})
    assert done.returncode == 2
    assert f"{wrong} (from HANDOFF_CONFIG) does not exist" in done.stderr
    assert f"handoff init --output {wrong}" in done.stderr
    done = handoff(["sync", "--dry-run", "-c", str(wrong)], tmp_path, {})
    assert done.returncode == 2 and f"{wrong} (from --config) does not exist" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_writes_where_handoff_config_points_and_commands_read_it_there(
    tmp_path: Path,
) -> None:
    target = tmp_path / "etc" / "handoff.yaml"
    env = {"HANDOFF_CONFIG": str(target)}
    written = handoff(["init"], tmp_path, env)
    assert written.returncode == 0, written.stderr
    assert target.exists() and (target.parent / "handoff.schema.json").exists()
    checked = handoff(["config", "validate"], tmp_path, env)
    assert checked.returncode == 0 and f"{target}: ok" in checked.stdout, checked.stderr


def test_a_relative_path_resolves_in_the_working_directory_and_errors_say_where_it_led(
    stack: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    """Relative paths in a config resolve against the current directory (the Docker image runs
    in its WORKDIR); run from elsewhere, the error names the file it looked for, the one beside
    the config, and the fix."""
    config, env, _ = stack
    home, elsewhere = tmp_path / "etc", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    shutil.copy(config, home / "handoff.yaml")
    shutil.copy(env["HANDOFF_CA_FILE"], home / "ca.pem")
    relative = {k: v for k, v in env.items() if k != "HANDOFF_STATE_URL"}  # sqlite:///handoff.db
    relative["HANDOFF_CA_FILE"] = "ca.pem"
    cfg = ["--config", str(home / "handoff.yaml")]
    for args in (["db", "upgrade"], ["crm", "setup", "--check"], ["status"]):
        done = handoff([*args, *cfg], home, relative)  # in the config's directory: as written
        assert done.returncode == 0, done.stdout + done.stderr
    assert (home / "handoff.db").exists()

    def led(path: str) -> str:
        return (
            f"{elsewhere / path} ('{path}' in the config, relative to the current directory, not "
            f"the config's: write it as {home / path}, or run handoff in {home})"
        )

    for args, says in (
        (["status"], f"no state store at {led('handoff.db')}: run `handoff sync` first"),
        (["crm", "setup", "--check"], f"[hubspot] hubspot.ca_file {led('ca.pem')} does not exist"),
    ):
        done = handoff([*args, *cfg], elsewhere, relative)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert says in done.stderr, done.stderr
    assert list(elsewhere.iterdir()) == []
