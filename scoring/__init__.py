"""Scoring engine, lifecycle policy and calibration (pure domain code: no CRM calls, no DB).

model = ScoringModel.from_config(cfg.scoring)
score = model.score(contact, activities, now)
policy = LifecyclePolicy.from_config(cfg.lifecycle)
changes = policy.decide(stage, score, rejection_reason=code, stage_changed_at=at, now=now)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scoring import native_check  # noqa: F401  (first: drops a stale native build)

if TYPE_CHECKING:
    from scoring.calibration import CalibrationReport, CalibrationSample, calibrate
    from scoring.lifecycle import (
        LifecycleDecision,
        LifecyclePolicy,
        LifecycleStage,
        PolicyFlag,
        StageChange,
    )
    from scoring.model import ScoringModel, model_version
    from scoring.score import ReasonItem, Score

# Imported on first use (PEP 562): a command that scores, or only checks a config's lifecycle
# stages, does not load calibration's numpy (a tenth of a second at every start).
_HOME = {
    "CalibrationReport": "scoring.calibration",
    "CalibrationSample": "scoring.calibration",
    "calibrate": "scoring.calibration",
    "LifecycleDecision": "scoring.lifecycle",
    "LifecyclePolicy": "scoring.lifecycle",
    "LifecycleStage": "scoring.lifecycle",
    "PolicyFlag": "scoring.lifecycle",
    "StageChange": "scoring.lifecycle",
    "ScoringModel": "scoring.model",
    "model_version": "scoring.model",
    "ReasonItem": "scoring.score",
    "Score": "scoring.score",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'scoring' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def compiled() -> bool:
    """True when the hot modules are the mypyc build (`python -m scoring.compile`)."""
    from scoring import model

    return not str(model.__file__).endswith(".py")


__all__ = [
    "CalibrationReport",
    "CalibrationSample",
    "LifecycleDecision",
    "LifecyclePolicy",
    "LifecycleStage",
    "PolicyFlag",
    "ReasonItem",
    "Score",
    "ScoringModel",
    "StageChange",
    "calibrate",
    "compiled",
    "model_version",
]
