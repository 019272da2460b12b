"""Placeholder: the scoring section (replaced by the scoring engine work)."""

from __future__ import annotations

from config.base import StrictModel


class ScoringConfig(StrictModel):
    pass


class LifecycleConfig(StrictModel):
    pass
