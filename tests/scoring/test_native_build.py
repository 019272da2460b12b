"""The mypyc build of the hot modules scores exactly like the pure-Python source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DIGEST = """
import hashlib, json, sys
from datetime import timedelta
sys.path.insert(0, "bench")
import scoring
from config.scoring import ScoringConfig
from scoring.model import ScoringModel
from scoring_throughput import NOW, population, thirty_rule_config

out = []
people = population(1500, seed=11)
for config in (thirty_rule_config(), ScoringConfig()):
    model = ScoringModel.from_config(config)
    for now in (NOW, NOW + timedelta(days=45)):
        for contact, activities in people:
            s = model.score(contact, activities, now)
            out.append([s.total, s.fit, s.behaviour, s.negative, s.mql, s.fast_lane,
                        s.disqualified, str(s.track), s.summary,
                        [r.as_dict() for r in s.reasons], str(s.last_signal_at)])
print(scoring.compiled(), hashlib.sha256(json.dumps(out, default=str).encode()).hexdigest())
"""


def _digest(root: Path) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", DIGEST], cwd=root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    compiled, digest = done.stdout.split()
    return compiled, digest


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_native_build_scores_exactly_like_the_source(tmp_path: Path) -> None:
    for package in ("scoring", "config", "connectors"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
        )
    (tmp_path / "bench").mkdir()
    shutil.copy(ROOT / "bench" / "scoring_throughput.py", tmp_path / "bench")
    assert _digest(tmp_path)[0] == "False"
    pure = _digest(tmp_path)[1]
    build = subprocess.run(
        [sys.executable, "-m", "scoring.compile"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "built scoring/model." in build.stdout
    compiled, native = _digest(tmp_path)
    assert compiled == "True"
    assert native == pure


@pytest.mark.parametrize(("place", "stale"), [("checkout", True), ("site-packages", False)])
def test_a_build_older_than_its_source_is_stale_only_in_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, place: str, stale: bool
) -> None:
    """pip writes a wheel's `model.cpython-*.so` before `model.py` (archive order): in an
    installed wheel (the Docker image) that says nothing; in a checkout it means an edit."""
    from scoring import native_check

    package = tmp_path / place / "scoring"
    package.mkdir(parents=True)
    native = package / "model.cpython-311-x86_64-linux-gnu.so"
    native.write_bytes(b"")
    (package / "model.py").write_text("")
    os.utime(native, (1_000_000, 1_000_000))  # older than the source
    monkeypatch.setattr(native_check, "HERE", package)
    assert native_check.stale_native_files() == ([native] if stale else [])
