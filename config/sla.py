"""Placeholder: the SLA section (replaced by the SLA engine work)."""

from __future__ import annotations

from config.base import StrictModel


class SlaConfig(StrictModel):
    pass
