"""Placeholder: the routing section (replaced by the routing work)."""

from __future__ import annotations

from config.base import StrictModel


class RoutingConfig(StrictModel):
    pass
