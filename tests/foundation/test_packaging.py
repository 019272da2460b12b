"""The distribution people install: its name, its version, and the README's two commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from typer.testing import CliRunner

from config.cli import DISTRIBUTION, app

ROOT = Path(__file__).resolve().parents[2]
TAKEN_ON_PYPI = "handoff"  # "Deploy configurable unix pipeline jobs serverlessly" (0.4.4)


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def readme_command(heading: str) -> str:
    """The bash block right after a bold README heading such as **Try it**."""
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"\*\*{re.escape(heading)}\*\*.*?```bash\n(.*?)\n```", text, re.S)
    assert found, f"README.md has no **{heading}** command"
    return found.group(1).strip()


def test_the_distribution_is_not_the_unrelated_pypi_project_and_the_command_stays() -> None:
    assert project()["name"] == DISTRIBUTION != TAKEN_ON_PYPI
    assert list(project()["scripts"]) == ["handoff"]
    assert project()["optional-dependencies"]["dev"][0] == f"{DISTRIBUTION}[postgres]"


def test_version_comes_from_the_installed_distribution() -> None:
    done = CliRunner().invoke(app, ["--version"])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"handoff {version(DISTRIBUTION)} ({DISTRIBUTION})"
    assert version(DISTRIBUTION) == project()["version"]  # the checkout is what is installed


def test_the_installed_command_prints_it_too() -> None:
    command = shutil.which("handoff", path=str(Path(sys.executable).parent))
    assert command, "the handoff console script is not installed in this venv"
    done = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1] == project()["version"]


def test_no_doc_installs_the_pypi_project_called_handoff() -> None:
    wrong = re.compile(r"pip install[^\n`&;|]*['\" ]handoff(\[|['\" \n`]|$)")
    offenders = [
        f"{path.relative_to(ROOT)}: {m.group(0)!r}"
        for path in [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")]
        for m in wrong.finditer(path.read_text())
    ]
    assert offenders == []


def test_the_try_it_command_installs_no_dev_toolchain_and_runs_the_demo() -> None:
    command = readme_command("Try it")
    assert "pip install -e ." in command and "[dev]" not in command, command
    assert command.endswith("handoff demo")


def test_ci_installs_and_tests_as_the_readme_says() -> None:
    command = readme_command("Run the tests")
    install = re.search(r"pip install -e '([^']+)'", command)
    assert install and install.group(1) == ".[dev]" and command.endswith("&& pytest"), command
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"pip install -q -e '{install.group(1)}'" in ci
    assert re.search(r"^pytest$", ci, re.M)


BLOCK_EXTRAS = """
import importlib.abc, sys
blocked = set(sys.argv.pop(1).split(","))

class NotInTheSlimInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"{name} is not installed (pip install -e . alone)")
        return None

sys.meta_path.insert(0, NotInTheSlimInstall())
from config.cli import main
sys.argv[0] = "handoff"
main()
"""


def extras_modules() -> set[str]:
    """Import names of what only the extras install (dev tools, PostgreSQL drivers)."""
    import importlib.metadata as metadata

    extras = project()["optional-dependencies"]
    names = {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0] for e in extras.values() for r in e}
    names -= {DISTRIBUTION} | {
        re.split(r"[<>=\[ ;]", r, maxsplit=1)[0] for r in project()["dependencies"]
    }
    modules = set()
    for package, dists in metadata.packages_distributions().items():
        if {d.lower() for d in dists} & {n.lower() for n in names}:
            modules.add(package)
    return modules


def test_the_demo_runs_without_anything_the_extras_install(tmp_path: Path) -> None:
    """The slim install (`pip install -e .`, no extras) runs the demo: the sandbox's own needs
    (trustme, pyjwt, ...) are main dependencies. Measured in a fresh venv too (CHANGELOG)."""
    blocked = extras_modules()
    assert {"pytest", "psycopg", "procrastinate", "hypothesis", "jsonschema"} <= blocked
    demo = ["demo", "--contacts", "100", "--dir", str(tmp_path / "demo")]
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_EXTRAS, ",".join(sorted(blocked)), *demo],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "became MQL" in done.stdout
