"""Lint the Dockerfile (there is no Docker engine here): the properties the image promises."""

from __future__ import annotations

import fnmatch
import io
import json
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from config.logs import is_secret_key, mask_text

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = "python:3.11-slim"
CONFIG_PATH = "/etc/handoff/handoff.yaml"
HEARTBEAT_PATH = "/tmp/handoff-heartbeat"
LOCK = "requirements.lock"


@dataclass
class Instruction:
    name: str
    value: str
    line: int


@dataclass
class Stage:
    image: str
    alias: str | None
    body: list[Instruction] = field(default_factory=list)

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.body if i.name == name]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def stages_of(text: str) -> list[Stage]:
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode()))
    stages: list[Stage] = []
    for item in parser.structure:
        name, value = item["instruction"], item["value"]
        if name == "COMMENT":
            continue
        if name == "FROM":
            words = value.split()
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], alias=alias))
        elif stages:
            stages[-1].body.append(Instruction(name, value, item["startline"] + 1))
    return stages


def exec_form(value: str) -> list[str] | None:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def env_pairs(value: str) -> dict[str, str]:
    words = shlex.split(value)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def copy_sources_of(copy: Instruction) -> list[str]:
    words = [w for w in shlex.split(copy.value) if not w.startswith("--")]
    return [w.rstrip("/") for w in words[:-1]]


def copy_sources(stage: Stage) -> list[str]:
    return [source for copy in stage.all("COPY") for source in copy_sources_of(copy)]


def layer_problems(build: Stage, packages: list[str]) -> list[str]:
    """The dependencies come from the lock, in a layer of their own before any source is copied
    (a code change must not reinstall them); the project then installs without dependencies."""
    problems: list[str] = []
    locked = [
        r
        for r in build.all("RUN")
        if "pip install" in r.value and "--require-hashes" in r.value and f"-r {LOCK}" in r.value
    ]
    if not locked:
        return [
            f"build stage: install the dependencies with pip install --require-hashes -r {LOCK}"
        ]
    lock_copy = next((c for c in build.all("COPY") if LOCK in copy_sources_of(c)), None)
    if lock_copy is None or lock_copy.line > locked[0].line:
        problems.append(f"build stage: COPY {LOCK} before line {locked[0].line} installs from it")
    sources = ["pyproject.toml", *packages]
    for copy in build.all("COPY"):
        early = [s for s in copy_sources_of(copy) if s in sources]
        if early and copy.line < locked[0].line:
            problems.append(
                f"line {copy.line}: COPY {' '.join(early)} comes before the locked dependencies "
                f"(line {locked[0].line}): layer order, a code change would reinstall them all"
            )
    for run in build.all("RUN"):
        for command in run.value.split("&&"):
            words = command.split()
            project = "pip" in " ".join(words[:1]) and words[1:2] == ["install"] and "." in words
            if project and "--no-deps" not in words:
                problems.append(
                    f"line {run.line}: install the project with --no-deps "
                    "(its dependencies are the locked ones)"
                )
    return problems


def dockerfile_problems(text: str) -> list[str]:
    """Everything wrong with a Dockerfile, as messages naming the line and the fix."""
    problems: list[str] = []
    stages = stages_of(text)
    if len(stages) < 2:
        return ["not multi-stage: build in one stage (FROM ... AS build), run from another"]
    for stage in stages:
        if stage.alias is None:
            problems.append(f"FROM {stage.image}: name the stage (FROM {stage.image} AS <name>)")
        known = {s.alias for s in stages}
        if stage.image not in known and not stage.image.startswith(BASE_IMAGE):
            problems.append(f"FROM {stage.image}: use the slim base {BASE_IMAGE}")
    build, final = stages[0], stages[-1]

    # the project goes in: metadata, readme and every wheel package, with the postgres extra
    project = pyproject()
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = ["pyproject.toml", project["project"]["readme"], *wheel["packages"]]
    needed += list(wheel.get("force-include") or {})
    copied = copy_sources(build)
    problems += [
        f"build stage: COPY {path} (the wheel needs it)" for path in needed if path not in copied
    ]
    problems += layer_problems(build, wheel["packages"])
    if not any(f"--from={build.alias}" in c.value for c in final.all("COPY")):
        problems.append(f"final stage: COPY --from={build.alias} the installed environment")

    # runs as a non-root user
    users = final.all("USER")
    if not users:
        problems.append("final stage: no USER; add a non-root user (USER 10001:10001)")
    else:
        user = users[-1].value.split(":")[0].strip()
        if user in ("root", "0"):
            problems.append(f"line {users[-1].line}: USER {user} is root; use an unprivileged user")
        elif not any(user in r.value and "useradd" in r.value for r in final.all("RUN")):
            problems.append(f"line {users[-1].line}: USER {user} is never created (useradd)")

    # how it starts, and how Docker knows it is alive
    entrypoint = [exec_form(i.value) for i in final.all("ENTRYPOINT")]
    if entrypoint[-1:] != [["handoff"]]:
        problems.append('ENTRYPOINT ["handoff"] (exec form) is missing')
    if [exec_form(i.value) for i in final.all("CMD")][-1:] != [["run"]]:
        problems.append('CMD ["run"] (exec form) is missing')
    checks = final.all("HEALTHCHECK")
    if not checks or exec_form(checks[-1].value.split("CMD", 1)[-1].strip()) != [
        "handoff",
        "health",
    ]:
        problems.append('HEALTHCHECK ... CMD ["handoff", "health"] is missing')

    # configuration from a mounted file; no secrets baked in
    env: dict[str, str] = {}
    for stage in stages:
        for item in stage.all("ENV") + stage.all("ARG"):
            pairs = env_pairs(item.value)
            if stage is final:
                env.update(pairs)
            problems += [
                f"line {item.line}: {item.name} {key} looks like a secret; pass it at run time"
                for key in pairs
                if is_secret_key(key)
            ]
    for key, expected in (("HANDOFF_CONFIG", CONFIG_PATH), ("HANDOFF_HEARTBEAT", HEARTBEAT_PATH)):
        if env.get(key) != expected:
            problems.append(f"final stage: ENV {key}={expected}")
    if mask_text(text, phones=False) != text:
        problems.append("the Dockerfile carries a token or credential; remove it")
    return problems


def test_the_dockerfile_has_no_problems() -> None:
    assert dockerfile_problems((ROOT / "Dockerfile").read_text()) == []


def test_the_entrypoint_is_a_console_script_of_the_project() -> None:
    assert pyproject()["project"]["scripts"]["handoff"]
    assert "postgres" in pyproject()["project"]["optional-dependencies"]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("FROM python:3.11-slim AS runtime", "FROM python:3.11 AS runtime", "slim base"),
        ("FROM python:3.11-slim AS build", "FROM python:3.11-slim", "name the stage"),
        ("USER 10001:10001", "USER root", "is root"),
        ("USER 10001:10001", "USER 4242", "never created"),
        ('ENTRYPOINT ["handoff"]', "ENTRYPOINT handoff", "ENTRYPOINT"),
        ('CMD ["run"]', 'CMD ["serve"]', "CMD"),
        ('CMD ["handoff", "health"]', 'CMD ["true"]', "HEALTHCHECK"),
        ("COPY routing ./routing\n", "", "COPY routing"),
        (
            "RUN /opt/handoff/bin/pip install --require-hashes -r requirements.lock",
            'RUN /opt/handoff/bin/pip install ".[postgres]"',
            "--require-hashes -r requirements.lock",
        ),
        ("COPY requirements.lock ./\n", "", "COPY requirements.lock before"),
        ("pip install --no-deps --no-build-isolation .", "pip install .", "--no-deps"),
        ("USER 10001:10001\n", "", "no USER"),
        (
            "HANDOFF_CONFIG=/etc/handoff/handoff.yaml",
            "HANDOFF_CONFIG=/app/x.yaml",
            "HANDOFF_CONFIG",
        ),
        ("PYTHONUNBUFFERED=1", "HUBSPOT_ACCESS_TOKEN=pat-na1-123", "looks like a secret"),
        (
            "RUN python -m venv",
            "RUN curl -H 'Authorization: Bearer abc123' x && python -m venv",
            "token",
        ),
    ],
)
def test_the_lint_catches_each_broken_promise(old: str, new: str, problem: str) -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert old in text
    problems = dockerfile_problems(text.replace(old, new, 1))
    assert any(problem in p for p in problems), problems


def test_source_copied_before_the_locked_dependencies_is_a_layer_order_problem() -> None:
    text = (ROOT / "Dockerfile").read_text()
    moved = text.replace("COPY sync ./sync\n", "", 1).replace(
        "COPY requirements.lock ./\n", "COPY requirements.lock ./\nCOPY sync ./sync\n", 1
    )
    problems = dockerfile_problems(moved)
    assert any("COPY sync comes before the locked dependencies" in p for p in problems), problems


def test_the_dependency_layer_comes_before_every_source_copy() -> None:
    build = stages_of((ROOT / "Dockerfile").read_text())[0]
    install = next(r for r in build.all("RUN") if f"-r {LOCK}" in r.value)
    before = [s for c in build.all("COPY") if c.line < install.line for s in copy_sources_of(c)]
    assert before == [LOCK]  # nothing that changes with the code is in the cached layers


def test_single_stage_images_are_rejected() -> None:
    problems = dockerfile_problems('FROM python:3.11-slim\nENTRYPOINT ["handoff"]\n')
    assert problems == ["not multi-stage: build in one stage (FROM ... AS build), run from another"]


# --- .dockerignore ---------------------------------------------------------------------------


def ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def matches(pattern: str, path: str) -> bool:
    """A .dockerignore pattern matches the path or one of its parent directories."""
    parts = path.split("/")
    if pattern.startswith("**/"):  # at any depth
        spans = ("/".join(parts[j : i + 1]) for i in range(len(parts)) for j in range(i + 1))
        return any(fnmatch.fnmatchcase(span, pattern[3:]) for span in spans)
    prefixes = ("/".join(parts[: i + 1]) for i in range(len(parts)))
    return any(fnmatch.fnmatchcase(prefix, pattern.strip("/")) for prefix in prefixes)


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, `!pattern` lets a path back in."""
    ignored = False
    for pattern in patterns:
        if matches(pattern.removeprefix("!"), path):
            ignored = not pattern.startswith("!")
    return ignored


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    patterns = ignore_patterns()
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "handoff.yaml",
        "handoff.db",
        "tests/x.py",
    ):
        assert is_ignored(path, patterns), f"{path} would be sent to the Docker build"
    assert is_ignored("sync/__pycache__/pull.cpython-311.pyc", patterns)
    assert is_ignored("sandbox/certs/ca.pem", patterns)


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    patterns = ignore_patterns()
    build = stages_of((ROOT / "Dockerfile").read_text())[0]
    for source in copy_sources(build):
        assert not is_ignored(source, patterns), f"COPY {source} but .dockerignore drops it"
        for child in (ROOT / source).rglob("*.py") if (ROOT / source).is_dir() else []:
            relative = child.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert not is_ignored(relative, patterns), f"{relative} is dropped by .dockerignore"
