"""Loading `handoff.yaml`: YAML with line numbers, `${ENV_VAR}` interpolation, every error at once.

Field errors (pydantic) and cross-reference errors (config/references.py: an unknown calendar,
territory, connection, stage or person) are collected in one pass, located
(`routing.territories[2].backup`, line 41) and returned together as a `ConfigError`; the CLI
prints them one per line and exits 2. Never a traceback for a user's typo.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from config.hints import hint
from config.model import REFERENCES_CHECKED, HandoffConfig
from config.references import reference_problems
from config.secrets import register_secret

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Keys whose values are secrets: they may only come from the environment.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "session_id",
        "password",
        "security_token",
        "consumer_secret",
        "webhook_url",
    }
)

Path_ = tuple[str | int, ...]
MAX_VALUES = 50_000
"""A config is a few thousand values at most; YAML aliases may not expand it beyond this."""


class _AliasBomb(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    location: str
    line: int | None
    message: str
    environment: bool = False  # a missing environment variable, not a mistake in the file

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        loc = f" {self.location}:" if self.location else ""
        return f"{where}:{loc} {self.message}"


class ConfigError(Exception):
    """Every problem found in one config file."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in {source}")
        self.source = source
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.location, p.message))

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


def format_location(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Composer:
    """Turns a composed YAML node tree into plain values, remembering each path's line."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.lines: dict[Path_, int] = {}
        self.problems: list[ConfigProblem] = []
        self.count = 0
        self.open: set[int] = set()  # collections being expanded: an alias to one is a cycle

    def value(self, node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        self.count += 1
        if self.count > MAX_VALUES:
            raise _AliasBomb(
                line,
                f"YAML aliases expand this file beyond {MAX_VALUES:,} values (an alias bomb?): "
                "write the values out instead of nesting aliases",
            )
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self.open:
                raise _AliasBomb(
                    line, "a YAML alias refers to a collection that contains it: remove the cycle"
                )
            self.open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(id(node))
        return self._scalar(node, path)

    def _collection(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.value(key_node, path)
                if key in out:
                    self._problem((*path, str(key)), f"key '{key}' appears twice: keep one")
                out[key] = self.value(value_node, (*path, str(key)))
            return out
        return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        scalar = yaml.SafeLoader("").construct_object(node)  # type: ignore[no-untyped-call]
        if isinstance(scalar, str):
            return self._interpolate(scalar, path)
        if path and path[-1] in SECRET_KEYS and scalar is not None:
            self._secret_inline(path)
        return scalar

    def _interpolate(self, text: str, path: Path_) -> str | None:
        is_secret = bool(path) and path[-1] in SECRET_KEYS
        if is_secret and not _ENV_REF.fullmatch(text.strip()):
            self._secret_inline(path)
            return text

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            missing.append(name)
            return match.group(0)

        missing: list[str] = []
        result = _ENV_REF.sub(replace, text)
        if is_secret and not missing:
            register_secret(result)
        for name in missing:
            self.problems.append(
                ConfigProblem(
                    format_location(path),
                    self.line_for(path),
                    f"environment variable {name} is not set: export {name}=...",
                    environment=True,
                )
            )
        return result

    def _secret_inline(self, path: Path_) -> None:
        key = path[-1]
        self._problem(
            path,
            f"secrets never live in the file: write {key}: ${{{str(key).upper()}}} "
            "and set that environment variable",
        )

    def _problem(self, path: Path_, message: str) -> None:
        self.problems.append(ConfigProblem(format_location(path), self.line_for(path), message))

    def line_for(self, path: Path_) -> int | None:
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line:
                return line
        return None


def check_config(
    text: str, source: str = "handoff.yaml", env: Mapping[str, str] | None = None
) -> tuple[HandoffConfig | None, list[ConfigProblem]]:
    """Validate config text; return the config (None if invalid) and every problem found.

    Missing environment variables are returned as `environment` problems; the caller decides
    whether they are fatal (running: yes; `config validate` without `--strict-env`: warnings).
    """
    composer = _Composer(os.environ if env is None else env)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ConfigProblem("", line, f"not valid YAML: {problem}")]
    if node is None:
        return None, [ConfigProblem("", None, "the file is empty: start from config/examples/")]
    try:
        data = composer.value(node, ())
    except _AliasBomb as exc:
        return None, [ConfigProblem("", exc.line, str(exc))]
    except RecursionError:
        return None, [ConfigProblem("", None, "the YAML nests too deeply: flatten it")]
    problems = list(composer.problems)
    if not isinstance(data, dict):
        problems.append(ConfigProblem("", 1, "the top level must be a mapping of sections"))
        return None, problems
    config: HandoffConfig | None = None
    try:
        # cross-references are checked below on the plain data, whatever else is wrong
        config = HandoffConfig.model_validate(data, context={REFERENCES_CHECKED: True})
        for secret in _secret_values(config):
            if not _ENV_REF.search(secret):  # an unset variable's `${NAME}` is not a secret
                register_secret(secret)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(
                p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            problems.append(
                ConfigProblem(format_location(loc), composer.line_for(loc), hint(error))
            )
    for path, message in reference_problems(data):
        problems.append(ConfigProblem(format_location(path), composer.line_for(path), message))
    return config, problems


def _secret_values(model: BaseModel) -> list[str]:
    """Every `SecretStr` value in the config, nested models and lists included."""
    found: list[str] = []
    stack: list[Any] = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, SecretStr):
            found.append(item.get_secret_value())
        elif isinstance(item, BaseModel):
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def parse_config(
    text: str, source: str = "handoff.yaml", env: Mapping[str, str] | None = None
) -> HandoffConfig:
    """Parse and validate config text; raise ConfigError with every problem found."""
    config, problems = check_config(text, source, env)
    if problems or config is None:
        raise ConfigError(source, problems)
    return config


def read_config_text(path: str | Path) -> str:
    """The file as text; a file that is not UTF-8 text is a ConfigError saying where and the fix."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        problem = ConfigProblem("", None, f"cannot read the file: {exc.strerror}")
        raise ConfigError(str(file), [problem]) from None
    if b"\x00" in data:
        problem = ConfigProblem(
            "", None, "this is a binary file, not YAML text: point --config at your handoff.yaml"
        )
        raise ConfigError(str(file), [problem])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = ConfigProblem(
            "",
            line,
            f"byte 0x{data[exc.start]:02x} is not UTF-8 (the file looks like Latin-1 or another "
            "legacy encoding): save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
        )
        raise ConfigError(str(file), [problem]) from None


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> HandoffConfig:
    """Read and validate a config file (`handoff.yaml`) for running: every problem is fatal."""
    return parse_config(read_config_text(path), str(path), env)
