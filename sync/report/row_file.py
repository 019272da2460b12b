"""A report's rows after its head, as text in a scratch file: appended once, read many times.

A full sync over 1,000,000 contacts makes about 5,000,000 report rows; each is turned into its
JSON text (and its CSV line) once, when made, and the report's store parts, report.json and
report.csv are each that text read back in order. A plain file does it at the cost of a write
and a read: in the run's SQLite ledger each row was an insert, an index entry and a query.

The file is private to the process (unlinked once open, so gone with it however it ends) and
is read with `pread` from any thread, any number of times once written.
"""

from __future__ import annotations

import codecs
import os
import tempfile
import weakref
from collections.abc import Iterator

from sync.ledger import LedgerUnwritable

BLOCK = 1 << 20  # bytes per read


class RowFile:
    """Text appended in pieces, read back as lines (`lines`) or as it was written (`pieces`)."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or tempfile.gettempdir()
        try:
            fd, path = tempfile.mkstemp(prefix="handoff-rows-", suffix=".txt", dir=self.directory)
        except OSError as exc:
            raise LedgerUnwritable(self.directory, exc) from None
        os.unlink(path)
        self._fd = fd
        self.size = 0
        self._closer = weakref.finalize(self, os.close, fd)

    def append(self, text: str) -> None:
        self.append_bytes(text.encode("utf-8"))

    def append_bytes(self, data: bytes | memoryview) -> None:
        data = memoryview(data)
        try:
            while data:
                done = os.pwrite(self._fd, data, self.size)
                self.size += done
                data = data[done:]
        except OSError as exc:
            raise LedgerUnwritable(self.directory, exc) from None

    def append_lines(self, lines: list[str]) -> None:
        """Lines without their line break (none may hold one)."""
        if lines:
            self.append("\n".join(lines) + "\n")

    def read(self, at: int, size: int) -> bytes:
        """`size` bytes from offset `at` (written before)."""
        data = os.pread(self._fd, size, at)
        while len(data) < size:  # a short read: a guard, regular files answer whole
            more = os.pread(self._fd, size - len(data), at + len(data))
            if not more:
                break
            data += more
        return data

    def _blocks(self) -> Iterator[bytes]:
        offset = 0
        while offset < self.size:
            block = os.pread(self._fd, min(BLOCK, self.size - offset), offset)
            if not block:  # cannot shrink while we hold it; a guard, not a case
                return
            offset += len(block)
            yield block

    def pieces(self) -> Iterator[str]:
        """The text as appended, in pieces of about BLOCK bytes."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        for block in self._blocks():
            yield decoder.decode(block)
        yield decoder.decode(b"", final=True)

    def lines(self) -> Iterator[str]:
        """Each line appended by `append_lines`, without its line break."""
        rest = ""
        for piece in self.pieces():
            found = (rest + piece).split("\n")
            rest = found.pop()
            yield from found
        if rest:
            yield rest

    def close(self) -> None:
        self._closer()
