"""Read ahead: an iterator's next items fetched in a thread while the caller stores these.

The pull stores what it reads in one thread (SQLite has one writer at a time); only the
reading — HTTP calls and parsing — runs ahead, a bounded number of chunks deep.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(
    items: Iterable[T], chunk: int, *, depth: int = 2, stopping: threading.Event | None = None
) -> Generator[list[T], None, None]:
    """`items` in lists of `chunk`, produced by a background thread up to `depth` lists ahead.
    An error in the producer is raised here; closing the generator (leaving a `closing` block)
    stops the producer."""
    pipe: queue.Queue[object] = queue.Queue(maxsize=depth)
    done = threading.Event()

    def put(value: object) -> bool:
        while not done.is_set():
            try:
                pipe.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        page: list[T] = []
        try:
            for item in items:
                page.append(item)
                if len(page) >= chunk:
                    if not put(page) or (stopping is not None and stopping.is_set()):
                        return
                    page = []
            if page:
                put(page)
        except BaseException as exc:  # handed to the consumer
            put(exc)
        finally:
            put(_END)

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(produce,), name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            value = pipe.get()
            if value is _END:
                return
            if isinstance(value, BaseException):
                raise value
            yield value  # type: ignore[misc]
    finally:
        done.set()
        thread.join()
