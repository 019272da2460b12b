"""Landing a write batch the CRM rejected whole because of one bad record.

`land(items, send)` sends `items` through `send`, which either returns per-item errors (a 207:
`{item_key: reason}`, empty when every item landed) or raises `BatchRejected` when the CRM
refused the whole request (a 400 caused by one record). On a whole-batch rejection:

1. If the rejection names the culprits (`BatchRejected.culprits`), they are quarantined and the
   rest is resent: one extra call.
2. Otherwise the batch is bisected: each probe sends everything not yet landed except half of
   the current suspects. A success lands the probe and narrows the suspects to the excluded half;
   a failure narrows them to the included half. A record is quarantined only when a rejected
   request held it and nothing else that did not later land, so a good record is never blamed.

For one bad record in a batch of n this costs ceil(log2 n) probes, plus one final send when the
last probe was refused (the optimum when the CRM does not say which record was bad).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class BatchRejected(Exception):
    """The CRM refused the whole request; `culprits` are item keys it named, if any."""

    def __init__(self, reason: str, culprits: Sequence[Hashable] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.culprits = tuple(culprits)


@dataclass
class Landing(Generic[K]):
    landed: list[K] = field(default_factory=list)
    rejected: dict[K, str] = field(default_factory=dict)  # item -> reason
    calls: int = 0


Send = Callable[[Sequence[K]], Mapping[K, str]]


def land(items: Sequence[K], send: Send[K], *, max_calls: int | None = None) -> Landing[K]:
    """Send `items`, isolating records that make the CRM reject a whole batch."""
    result: Landing[K] = Landing()
    budget = max_calls if max_calls is not None else 2 * len(items) + 2
    pending = list(dict.fromkeys(items))
    failures: list[tuple[frozenset[K], str]] = []  # rejected requests: members, reason
    suspects: list[K] = list(pending)

    def attempt(batch: list[K]) -> bool:
        result.calls += 1
        try:
            errors = send(batch)
        except BatchRejected as exc:
            named = [k for k in batch if k in set(exc.culprits)]
            if named:
                for key in named:
                    result.rejected[key] = exc.reason
                    pending.remove(key)
                    if key in suspects:
                        suspects.remove(key)
            else:
                failures.append((frozenset(batch), exc.reason))
            return False
        landed_now = set(batch)
        for key, reason in errors.items():
            if key in landed_now:
                result.rejected[key] = reason
                landed_now.discard(key)
        for key in batch:
            pending.remove(key)
            if key in suspects:
                suspects.remove(key)
            if key in landed_now:
                result.landed.append(key)
        return True

    def proven_bad() -> None:
        landed = set(result.landed)
        for members, reason in failures:
            rest = members - landed
            if len(rest) == 1:
                (key,) = rest
                if key in pending:
                    result.rejected[key] = reason
                    pending.remove(key)
                    if key in suspects:
                        suspects.remove(key)

    def halve(batch: list[K], known_refused: bool) -> None:
        """Plain recursive halving: sound with any number of bad records."""
        batch = [k for k in batch if k in pending]
        if not batch or result.calls >= budget:
            return
        if not known_refused and attempt(batch):
            return
        proven_bad()
        batch = [k for k in batch if k in pending]
        if len(batch) <= 1:
            return
        middle = len(batch) // 2
        halve(batch[:middle], False)
        halve(batch[middle:], False)

    while pending and result.calls < budget:
        named_before = len(pending)
        if attempt(list(pending)):
            return result
        if len(pending) == named_before:
            break  # refused without naming anyone: bisect
    suspects = list(pending)
    # Phase 1: assume one bad record and find it with the fewest calls.
    while len(suspects) > 1 and result.calls < budget:
        excluded = suspects[: len(suspects) // 2]
        probe = [k for k in pending if k not in excluded]
        if attempt(probe):
            suspects = [k for k in excluded if k in pending]
        else:
            suspects = [k for k in suspects if k not in excluded and k in pending]
    proven_bad()
    rest = [k for k in pending if k not in suspects]
    if rest and result.calls < budget and not attempt(rest):
        # Phase 2: more than one bad record; halve what is left (the suspect included).
        halve(rest, True)
    proven_bad()
    if pending and result.calls < budget:
        halve(list(pending), False)
    for key in pending:
        result.rejected.setdefault(key, "not sent: too many rejected batches in one write")
    return result
