"""`handoff explain`: why one person has their score, stage, owner, clock and pending writes.

The names below are imported on first use (PEP 562): importing `sync.explain.render` or the
command's registration must not load the explainer (the store, scoring, reports), which would add
half a second to every `handoff` start."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.explain.build import Explainer
    from sync.explain.lookup import PersonNotFound, find_person
    from sync.explain.model import Explanation
    from sync.explain.render import to_json, to_text

_HOME = {
    "Explainer": "sync.explain.build",
    "PersonNotFound": "sync.explain.lookup",
    "find_person": "sync.explain.lookup",
    "Explanation": "sync.explain.model",
    "to_json": "sync.explain.render",
    "to_text": "sync.explain.render",
}

__all__ = ["Explainer", "Explanation", "PersonNotFound", "find_person", "to_json", "to_text"]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'sync.explain' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
