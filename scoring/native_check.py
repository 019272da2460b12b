"""A native build older than its sources is removed before it can load (it would run old code).

Python imports a compiled `scoring/<name>.*.so` in preference to `<name>.py`; after an edit of
the source, the stale build is deleted (with a warning) so the edited source runs, until
`python -m scoring.compile` builds it again.
"""

from __future__ import annotations

import warnings
from pathlib import Path

HERE = Path(__file__).parent


def installed_from_a_wheel(package: Path) -> bool:
    """Sources and build came in one wheel (the Docker image): pip writes a wheel's files in
    archive order, `x.cpython-*.so` before `x.py`, so their times say nothing about staleness."""
    return any(part in ("site-packages", "dist-packages") for part in package.parts)


def stale_native_files() -> list[Path]:
    if installed_from_a_wheel(HERE):
        return []
    stale = []
    for source in HERE.glob("*.py"):
        for native in HERE.glob(f"{source.stem}.*.so"):
            if native.stat().st_mtime < source.stat().st_mtime:
                stale.append(native)
    return stale


def drop_stale_native_build() -> None:
    if not stale_native_files():
        return
    from scoring.compile import clean

    removed = clean(HERE.parent)
    warnings.warn(
        f"scoring: removed a native build older than its sources ({len(removed)} files); "
        "pure Python runs until `python -m scoring.compile` builds it again",
        stacklevel=2,
    )


drop_stale_native_build()
