"""Scoring engine, lifecycle policy and calibration (pure domain code: no CRM calls, no DB).

model = ScoringModel.from_config(cfg.scoring)
score = model.score(contact, activities, now)
policy = LifecyclePolicy.from_config(cfg.lifecycle)
changes = policy.decide(stage, score, rejection_reason=code, stage_changed_at=at, now=now)
"""

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
    "model_version",
]
