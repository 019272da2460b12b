"""Bad config input is a clear error naming the file and the fix, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import MAX_VALUES, check_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "examples" / "hubspot.yaml"
ENV = {"HUBSPOT_TOKEN": "pat-test-0123456789"}


def handoff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **ENV},
    )


def alias_bomb(levels: int = 9) -> str:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["validate", "sync"])
def test_a_latin1_config_names_the_file_the_line_and_the_fix(tmp_path: Path, command: str) -> None:
    path = tmp_path / "handoff.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("# Handoff config", "# Händoff config", 1)
    path.write_bytes(text.encode("latin-1"))
    args = ["config", "validate", str(path)] if command == "validate" else ["sync", "-c", str(path)]
    result = handoff(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "Händoff" in t)
    assert f"{path}:{line}:" in result.stderr
    assert "not UTF-8" in result.stderr and "save it as UTF-8" in result.stderr


def test_a_binary_file_given_as_config_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "handoff.db"
    path.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 4)
    result = handoff("config", "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{path}:" in result.stderr and "binary file, not YAML" in result.stderr


def test_a_yaml_alias_bomb_is_rejected_with_the_bound_not_expanded() -> None:
    """9 levels of 9 aliases expand to 9**10 (3.4 billion) values: the bound stops it early."""
    config, problems = check_config(alias_bomb(), env=ENV)
    assert config is None
    assert len(problems) == 1
    assert f"beyond {MAX_VALUES:,} values" in problems[0].message
    assert problems[0].line is not None


def test_a_yaml_alias_cycle_is_rejected() -> None:
    config, problems = check_config("version: 1\na: &a [x, *a]\n", env=ENV)
    assert config is None
    assert [p.message for p in problems] == [
        "a YAML alias refers to a collection that contains it: remove the cycle"
    ]


def test_a_small_config_may_still_use_aliases() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("    overlap: 5m ", "    overlap: &overlap 5m ", 1)
    assert "&overlap" in text
    _config, problems = check_config(text, env=ENV)
    assert [p for p in problems if not p.environment] == []


def test_the_alias_bomb_through_the_cli_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    result = handoff("config", "validate", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "alias bomb" in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:pw@db/handoff", "'mysql' databases are not supported"),
        ("mysql+pymysql://root:pw@db/handoff", "'mysql+pymysql' databases are not supported"),
        ("oracle://x@y/z", "'oracle' databases are not supported"),
        ("handoff.db", "not a database URL"),
        ("sqlite://", "sqlite needs a file"),
    ],
)
def test_an_unsupported_state_url_fails_validation_naming_the_supported_ones(
    tmp_path: Path, url: str, message: str
) -> None:
    path = tmp_path / "handoff.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("${HANDOFF_STATE_URL:-sqlite:///handoff.db}", url)
    path.write_text(text, encoding="utf-8")
    _config, problems = check_config(text, env=ENV)
    found = [p for p in problems if p.location == "state.url"]
    assert len(found) == 1 and message in found[0].message
    if "not supported" in message:
        assert "sqlite or postgresql" in found[0].message
        assert "pw" not in found[0].message
        result = handoff("config", "validate", str(path))
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "state.url" in result.stderr and "sqlite or postgresql" in result.stderr


@pytest.mark.parametrize(
    "url", ["sqlite:///handoff.db", "postgresql://u@h/db", "postgresql+psycopg://u:p@h:5432/db"]
)
def test_supported_state_urls_pass(url: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("${HANDOFF_STATE_URL:-sqlite:///handoff.db}", url)
    _config, problems = check_config(text, env=ENV)
    assert [p for p in problems if p.location == "state.url"] == []
