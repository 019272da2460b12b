"""docs/configuration.md is generated from the config model and must stay in step with it."""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, Field, SecretStr

from config.base import Duration, StrictModel
from config.docs import REGENERATE, Row, config_schema, render, rows_for
from config.model import HandoffConfig

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"


def test_configuration_doc_matches_the_model() -> None:
    expected = render(config_schema())
    actual = DOC.read_text() if DOC.exists() else ""
    if actual != expected:
        diff = difflib.unified_diff(
            actual.splitlines(),
            expected.splitlines(),
            "docs/configuration.md",
            "generated",
            n=1,
            lineterm="",
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(f"docs/configuration.md is stale: run `{REGENERATE}`\n{shown}")


def test_generation_does_not_depend_on_hash_seed_or_process() -> None:
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "config.docs"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)
    assert outputs == {render(config_schema())}


# --- every key of the real model is documented ------------------------------------------------


def _models_inside(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """(path suffix, model) for each model reachable through Optional, unions, lists, dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [found for arg in get_args(annotation) for found in _models_inside(arg)]
    if origin in (list, tuple, set, frozenset):
        return [("[]" + s, m) for arg in get_args(annotation)[:1] for s, m in _models_inside(arg)]
    if origin is dict:
        return [(".<name>" + s, m) for s, m in _models_inside(get_args(annotation)[1])]
    return []


def model_paths(model: type[BaseModel], prefix: str = "", seen: tuple = ()) -> set[str]:
    paths = set()
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}.{key}" if prefix else key
        paths.add(path)
        for suffix, inner in _models_inside(info.annotation):
            if inner not in seen:
                paths |= model_paths(inner, path + suffix, (*seen, inner))
    return paths


def test_every_key_of_the_model_has_a_row() -> None:
    schema = config_schema()
    documented = {row.path for key in schema["properties"] for row in rows_for(schema, key)}
    documented |= set(schema["properties"])  # object sections are headed, not rowed
    missing = model_paths(HandoffConfig) - documented
    assert not missing, f"not in docs/configuration.md: {sorted(missing)}"
    doc = render(schema)
    for path in sorted(model_paths(HandoffConfig)):
        assert f"`{path}`" in doc


# --- the renderer on a small model ------------------------------------------------------------


class Retry(StrictModel):
    """How often to try again."""

    attempts: int = Field(3, ge=1, description="tries | then give up")
    wait: Duration = Field(default=timedelta(minutes=10))


class Webhook(StrictModel):
    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https://")


class Email(StrictModel):
    kind: Literal["email"] = "email"
    to: list[str] = Field(min_length=1)


class Node(StrictModel):
    label: str
    children: list[Node] = Field(default_factory=list)


class Sample(StrictModel):
    name: str = Field(description="short id")
    token: SecretStr | None = None
    retry: Retry = Retry()
    retries: dict[str, Retry] = Field(default_factory=dict)
    targets: list[Webhook | Email] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=lambda: ["a", "b"])
    ladder: list[int] = Field(default_factory=lambda: list(range(40)))
    mode: Literal["fast", "slow"] = "fast"
    tree: Node | None = None


def sample_rows() -> dict[str, Row]:
    schema = config_schema(Sample)
    return {row.path: row for key in schema["properties"] for row in rows_for(schema, key)}


def cells(row: Row) -> tuple[str, str]:
    return row.type, row.default


def test_scalars_secrets_durations_and_enums() -> None:
    rows = sample_rows()
    assert cells(rows["name"]) == ("string", "**required**")
    assert rows["name"].description == "short id"
    assert cells(rows["token"]) == ("secret string or null", "`null`")
    assert cells(rows["mode"]) == ("one of `fast`, `slow`", '`"fast"`')


def test_nested_models_carry_their_defaults_and_constraints() -> None:
    rows = sample_rows()
    assert "retry" not in rows  # a top-level object is a section, described by its heading
    assert cells(rows["retry.attempts"]) == ("integer ≥ 1", "`3`")
    assert rows["retry.attempts"].description == "tries | then give up"
    assert cells(rows["retry.wait"]) == ("duration", '`"10m"`')


def test_maps_lists_and_unions_are_followed() -> None:
    rows = sample_rows()
    assert cells(rows["retries"]) == ("map of object", "`{}`")
    assert cells(rows["retries.<name>.attempts"]) == ("integer ≥ 1", "`3`")
    assert cells(rows["targets"]) == ("list of object", "`[]`")
    assert rows["targets[].kind"].type == '`"webhook"` or `"email"`'
    assert rows["targets[].url"].description == "Pattern: `^https://`."
    assert cells(rows["targets[].to"]) == ("list of string, at least 1 item", "**required**")
    assert cells(rows["tags"]) == ("list of string", '`["a", "b"]`')


def test_recursive_models_end_and_long_defaults_are_listed_below() -> None:
    rows = sample_rows()
    assert cells(rows["tree"]) == ("object or null", "`null`")
    assert cells(rows["tree.children"]) == ("list of object", "`[]`")
    assert "tree.label" in rows
    assert not any(path.startswith("tree.children[]") for path in rows)
    assert rows["ladder"].default == "40 built-in items, listed below"
    assert rows["ladder"].long_default == list(range(40))


def test_rendered_markdown_escapes_pipes_and_shows_long_defaults() -> None:
    text = render(config_schema(Sample))
    assert "## `retry`\n\nHow often to try again.\n" in text
    assert "| `retry.attempts` | integer ≥ 1 | `3` | tries \\| then give up |" in text
    assert "`ladder`:\n\n```yaml\n[0, 1, 2," in text
    keys, names = text.split("## Names that must match")
    for line in keys.splitlines():
        if line.startswith("| `"):
            assert line.count(" | ") == 3, line  # four cells, whatever the content
    for line in names.splitlines()[5:]:
        if line.startswith("| "):
            assert line.count(" | ") == 1, line  # key, what it must name
