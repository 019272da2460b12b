"""The run's pulls in background threads, handing people to the decide stage as pages land.

Each connection pulls in its own thread (their API limits are separate). When the run pulls one
stream only (one connection, one object type) and the run mode allows it, each stored page's
people are handed on at once, so deciding and writing overlap the pull's rate-limited waits.
Otherwise people are handed on only when every pull has finished: a person's record in another
object type or connection could still be on its way.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from connectors.base import CrmConnector
from connectors.errors import ConnectorError, QuotaExhaustedError
from sync.ledger import RunLedger
from sync.pull import PullResult, PullStage
from sync.run_people import RunPeople

log = structlog.get_logger("handoff.feed")


PAGES_AHEAD = 4
"""Handings (a stored page's new people, up to an activity read's worth: 1,000 on HubSpot) the
pull may be ahead of the decide stage. Past it the pull waits: unbounded, a pull faster than
its decide stage queued every person key it was ahead by (88,000 at 830,000 of 1,000,000
contacts on SQLite), memory growing with N."""

SHOWN_PROBLEMS = 20
"""Malformed field values named one by one in a run's warnings; the rest are counted."""


def value_problems(problems: list[Any]) -> list[str]:
    """Field values the mapping's type refused (the person was kept, the value left out):
    each named with its record, property and value, up to SHOWN_PROBLEMS, then a count."""
    lines = list(dict.fromkeys(f"{p}; the value was left out" for p in problems))
    if len(lines) > SHOWN_PROBLEMS:
        rest = len(lines) - SHOWN_PROBLEMS
        lines = [*lines[:SHOWN_PROBLEMS], f"and {rest} more malformed field value(s)"]
    return lines


class _Halt(threading.Event):
    """Set by the feed when its run failed, or by the run's own stop signal (SIGTERM)."""

    def __init__(self, outer: threading.Event) -> None:
        super().__init__()
        self.outer = outer

    def is_set(self) -> bool:
        return super().is_set() or self.outer.is_set()


class PullFeed:
    """A context manager: `start()`, then iterate `ready(size)` until it ends (pulls done).
    Leaving the block early (an error in the run) halts the pulls after their page in flight."""

    def __init__(
        self,
        engine: Engine,
        connectors: Mapping[str, CrmConnector],
        *,
        until: datetime,
        now: datetime,
        full: bool = False,
        stopping: threading.Event | None = None,
        progress: Callable[[str, int], None] | None = None,
        stream: bool = True,
        people: RunPeople | None = None,
    ) -> None:
        self.engine = engine
        self.connectors = dict(sorted(connectors.items()))
        self.until = until
        self.now = now
        self.full = full
        self.stopping = _Halt(stopping or threading.Event())
        self.progress = progress
        self.streams = (
            stream
            and len(self.connectors) == 1
            and all(len(c.object_types()) == 1 for c in self.connectors.values())
        )
        self.results: dict[str, PullResult] = {}
        self.errors: list[str] = []
        # sources a connection could not read (a refused business unit, a HubSpot tier without
        # the Events API): the run goes on and counts as ok; the report lists them
        self.warnings: list[str] = []
        # person keys already handed to the decide stage: in the run's ledger, not memory
        self.people = people or RunPeople(RunLedger())
        self._pages: queue.Queue[list[str] | None] = queue.Queue(maxsize=PAGES_AHEAD)
        self._closed = threading.Event()  # the run left the feed: no one reads its pages
        self._threads: list[threading.Thread] = []
        self._crash: BaseException | None = None

    def __enter__(self) -> PullFeed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed.set()
        self.stopping.set()
        for thread in self._threads:
            thread.join()

    def start(self) -> None:
        for name, connector in self.connectors.items():
            context = contextvars.copy_context()  # run_id and friends follow into the thread
            thread = threading.Thread(
                target=context.run, args=(self._pull, name, connector), name=f"pull-{name}"
            )
            thread.daemon = True
            self._threads.append(thread)
            thread.start()

    def ready(self, size: int) -> Iterator[list[str]]:
        """Chunks of up to `size` new person keys whose data is stored, while the pulls run."""
        open_pulls = len(self._threads)
        chunk: list[str] = []
        while open_pulls:
            page = self._pages.get()
            if page is None:
                open_pulls -= 1
                continue
            chunk += self.people.hand_on(page)
            while len(chunk) >= size:
                yield chunk[:size]
                chunk = chunk[size:]
        if chunk:
            yield chunk
        self.join()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()
        if self._crash is not None:
            raise self._crash

    def _pull(self, name: str, connector: CrmConnector) -> None:
        progress = self.progress
        try:
            if self.stopping.is_set():
                return
            self.results[name] = PullStage(
                self.engine, connector, full=self.full, stopping=self.stopping
            ).run(
                until=self.until,
                now=self.now,
                progress=(lambda n: progress("pull", n)) if progress else None,
                on_stored=self._hand if self.streams else None,
            )
        except QuotaExhaustedError as exc:
            self.errors.append(f"{name}: daily API quota spent; pull resumes next run ({exc})")
        except ConnectorError as exc:
            self.errors.append(f"{name}: pull stopped: {exc}")
        except BaseException as exc:  # a bug or the store failing: raised again by join()
            log.error("pull.crashed", connection=name, error=repr(exc))
            self._crash = exc
        finally:
            warnings = getattr(connector, "warnings", None)  # a source refused, the pull went on
            if warnings:
                self.warnings.extend(f"{name}: {warning}" for warning in warnings)
                warnings.clear()
            problems = getattr(connector, "problems", None)  # values the field types refused
            if problems:
                self.warnings.extend(f"{name}: {line}" for line in value_problems(problems))
                problems.clear()
            self._hand(None)

    def _hand(self, page: list[str] | None) -> None:
        """Queue a stored page's people (None: this pull is over) for the decide stage, waiting
        while it is PAGES_AHEAD handings behind; dropped once the run has left the feed."""
        while not self._closed.is_set():
            try:
                self._pages.put(page, timeout=0.1)
                return
            except queue.Full:
                continue
