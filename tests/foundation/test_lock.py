"""requirements.lock, the Docker image's dependency set, covers what pyproject.toml asks for.

The lock is generated (docs/deploy.md, "The locked dependency set"); when a dependency is added to
pyproject.toml or its lower bound raised, these tests fail until the lock is refreshed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
BUILD_TOOLS = ROOT / "deploy" / "build-tools.in"
IMAGE = {  # the Docker image's interpreter (python:3.11-slim)
    "python_version": "3.11",
    "python_full_version": "3.11.14",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "extra": "",
}
REFRESH = "refresh the lock as docs/deploy.md says (uv pip compile ... -o requirements.lock)"


@dataclass
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: list[str] = field(default_factory=list)


def parse_lock(text: str) -> list[Pin]:
    """The pins of a pip requirements file in uv's / pip-compile's hashed form."""
    pins: list[Pin] = []
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = re.split(r"\s+(?=--)", line)
        parsed = Requirement(requirement)
        (spec,) = parsed.specifier
        assert spec.operator == "==", f"requirements.lock: {line!r} is not pinned with =="
        hashes = [o.split("=", 1)[1] for o in options if o.startswith("--hash=")]
        pins.append(
            Pin(canonicalize_name(parsed.name), Version(spec.version), parsed.marker, hashes)
        )
    return pins


def image_pins() -> dict[str, Pin]:
    """The pins pip installs in the image: those whose marker holds on its interpreter."""
    return {
        pin.name: pin
        for pin in parse_lock(LOCK.read_text())
        if pin.marker is None or pin.marker.evaluate(IMAGE)
    }


def wanted(requirements: list[str]) -> list[Requirement]:
    found = [Requirement(r) for r in requirements]
    return [r for r in found if r.marker is None or r.marker.evaluate(IMAGE)]


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def uncovered(requirements: list[Requirement], pins: dict[str, Pin]) -> list[str]:
    """Each requirement (and its extras' packages by name) the pins do not satisfy."""
    problems = []
    for requirement in requirements:
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement}: requirements.lock pins {pin.version}")
    return problems


def runtime_requirements() -> list[Requirement]:
    meta = project()["project"]
    return wanted(meta["dependencies"] + meta["optional-dependencies"]["postgres"])


def build_tool_requirements() -> list[Requirement]:
    lines = [line.split("#", 1)[0].strip() for line in BUILD_TOOLS.read_text().splitlines()]
    return wanted([line for line in lines if line])


def test_the_lock_covers_every_runtime_dependency_and_the_postgres_extra() -> None:
    problems = uncovered(runtime_requirements(), image_pins())
    assert problems == [], f"{problems}: {REFRESH}"


def test_the_extras_packages_are_locked_too() -> None:
    pins = image_pins()
    assert "psycopg-binary" in pins  # psycopg[binary]: the image has no libpq of its own


def test_the_lock_covers_the_image_build_tools_and_the_build_backend() -> None:
    backend = wanted(project()["build-system"]["requires"])
    problems = uncovered(build_tool_requirements() + backend, image_pins())
    assert problems == [], f"{problems}: {REFRESH}"


def test_every_pin_carries_hashes_and_the_lock_records_its_command() -> None:
    pins = parse_lock(LOCK.read_text())
    assert pins
    assert [p.name for p in pins if not p.hashes] == []  # pip --require-hashes needs them all
    header = LOCK.read_text().split("\n", 2)[:2]
    assert "--extra postgres" in header[1] and "--generate-hashes" in header[1], header
    assert "deploy/build-tools.in" in header[1], header


def test_the_lock_does_not_carry_the_dev_toolchain() -> None:
    dev_only = {
        canonicalize_name(Requirement(r).name)
        for r in project()["project"]["optional-dependencies"]["dev"]
    } - {canonicalize_name(r.name) for r in build_tool_requirements()}
    dev_only.discard(canonicalize_name(project()["project"]["name"]))
    assert sorted(dev_only & set(image_pins())) == []


@pytest.mark.parametrize(
    ("requirement", "problem"),
    [
        ("hubspot-api-client>=13", "requirements.lock pins 12"),
        ("made-up-crm-client>=1", "is not in requirements.lock"),
    ],
)
def test_a_dependency_the_lock_misses_is_named(requirement: str, problem: str) -> None:
    problems = uncovered([Requirement(requirement)], image_pins())
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_pin_without_a_hash_or_not_pinned_is_caught() -> None:
    pins = parse_lock("requests==2.32.0\n")
    assert pins[0].hashes == []
    with pytest.raises(AssertionError, match="not pinned"):
        parse_lock("requests>=2.31 \\\n    --hash=sha256:abc\n")


def test_the_documented_refresh_command_is_the_one_that_made_the_lock() -> None:
    docs = (ROOT / "docs" / "deploy.md").read_text().replace("\\\n", " ")
    documented = re.search(r"^(uv pip compile .*)$", docs, re.M)
    assert documented, "docs/deploy.md: the uv pip compile command that refreshes the lock"
    made_with = LOCK.read_text().splitlines()[1].removeprefix("#").strip()
    assert documented.group(1).split() == made_with.split()
