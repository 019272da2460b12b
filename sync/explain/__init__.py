"""`handoff explain`: why one person has their score, stage, owner, clock and pending writes."""

from sync.explain.build import Explainer
from sync.explain.lookup import PersonNotFound, find_person
from sync.explain.model import Explanation
from sync.explain.render import to_json, to_text

__all__ = ["Explainer", "Explanation", "PersonNotFound", "find_person", "to_json", "to_text"]
