"""Optional native build of the scoring hot path: the same modules, compiled with mypyc.

    python -m scoring.compile           # compile in place (scoring/*.so beside the sources)
    python -m scoring.compile --clean   # remove them: back to pure Python

Needs mypy (the `dev` extra) and a C compiler with the Python headers; the Docker image runs it
in its build stage. Python imports a compiled module in preference to its source, so nothing
else changes. tests/scoring/test_native_build.py builds a copy and checks it scores exactly like
the pure-Python modules. `scoring.compiled()` tells which kind is loaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HOT_MODULES = ("activities", "behaviour", "fit", "negatives", "model")
GROUP = "scoring.native"  # mypyc's shared runtime library: scoring/native__mypyc.*.so


def targets(root: Path) -> list[Path]:
    """Every file a build leaves in `root` (what --clean removes)."""
    found = [*root.glob(f"{GROUP.replace('.', '/')}__mypyc*.so"), *root.glob("*__mypyc*.so")]
    for name in HOT_MODULES:
        found += root.glob(f"scoring/{name}.*.so")
    return sorted(found)


def build(root: Path) -> list[Path]:
    """Compile the hot modules of `root`/scoring in place; returns the files written."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    sources = [f"scoring/{name}.py" for name in HOT_MODULES]
    here = Path.cwd()
    os.chdir(root)  # mypycify and build_ext work with paths relative to the project
    try:
        with tempfile.TemporaryDirectory() as scratch:
            modules = mypycify(sources, opt_level="3", group_name=GROUP, target_dir=scratch)
            dist = Distribution({"name": "handoff-scoring-native", "ext_modules": modules})
            command = dist.get_command_obj("build_ext")
            command.inplace = True  # type: ignore[attr-defined]
            command.build_temp = str(Path(scratch) / "temp")  # type: ignore[attr-defined]
            command.build_lib = str(Path(scratch) / "lib")  # type: ignore[attr-defined]
            dist.run_command("build_ext")
    finally:
        os.chdir(here)
    return targets(root)


def clean(root: Path) -> list[Path]:
    removed = targets(root)
    for path in removed:
        path.unlink()
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring.compile", description=__doc__)
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    if args.clean:
        for path in clean(root):
            print(f"removed {path.relative_to(root)}")
        return 0
    if shutil.which(os.environ.get("CC", "cc")) is None:
        print("scoring.compile: no C compiler found (install gcc), nothing built", file=sys.stderr)
        return 2
    try:
        import mypyc  # noqa: F401
    except ImportError:
        print("scoring.compile: mypyc comes with mypy: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    for path in build(root):
        print(f"built {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
