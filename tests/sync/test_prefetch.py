"""read_ahead: order kept, errors raised in the reader, an early exit stops the producer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sync.prefetch import read_ahead


def test_chunks_arrive_in_order_with_the_last_one_partial() -> None:
    assert list(read_ahead(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_producer_error_is_raised_to_the_reader_after_the_good_chunks() -> None:
    def items() -> Iterator[int]:
        yield from range(4)
        raise ConnectionResetError("peer reset")

    seen = []
    with pytest.raises(ConnectionResetError, match="peer reset"):
        for chunk in read_ahead(items(), 2):
            seen.append(chunk)
    assert seen == [[0, 1], [2, 3]]


def test_leaving_early_stops_reading_within_the_depth() -> None:
    produced = []

    def items() -> Iterator[int]:
        for n in range(10_000):
            produced.append(n)
            yield n

    for chunk in read_ahead(items(), 10, depth=2):
        assert chunk == list(range(10))
        break
    assert len(produced) <= 10 * 4  # the chunk read, up to `depth` queued, one being built
    assert not [t for t in threading.enumerate() if t.name == "read-ahead"]
