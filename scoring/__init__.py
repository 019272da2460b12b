"""Scoring engine, lifecycle policy and calibration (pure domain code: no CRM calls, no DB).

model = ScoringModel.from_config(cfg.scoring)
score = model.score(contact, activities, now)
policy = LifecyclePolicy.from_config(cfg.lifecycle)
changes = policy.decide(stage, score, rejection_reason=code, stage_changed_at=at, now=now)
"""

from scoring import native_check  # noqa: F401  (first: drops a stale native build)
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
