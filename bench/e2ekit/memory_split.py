"""Where the worker's resident memory is, for the RSS log of a long run: glibc's heap in use and
free (held by malloc, all arenas: `mallinfo2`), SQLite's own allocations (page caches and
statements, every connection: `sqlite3_memory_used`) and Python's allocated blocks (objects,
most of them in pymalloc's arenas). Linux and glibc only; elsewhere, or on an older glibc, the
columns are left out."""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@cache
def _libraries() -> tuple[Any, Any]:
    libc: Any = None
    sqlite: Any = None
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        libc = None
    try:
        import _sqlite3  # the library Python's sqlite3 is linked with (dlsym searches its deps)

        sqlite = ctypes.CDLL(_sqlite3.__file__)
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError, ImportError):
        sqlite = None
    return libc, sqlite


def memory_split() -> str:
    """`malloc in use/free MB, sqlite MB, python blocks (thousands)`, as columns of the log."""
    libc, sqlite = _libraries()
    columns = []
    if libc is not None:
        info = libc.mallinfo2()
        columns += [f"malloc {info.uordblks / 2**20:.0f}/{info.fordblks / 2**20:.0f}"]
    if sqlite is not None:
        columns += [f"sqlite {sqlite.sqlite3_memory_used() / 2**20:.0f}"]
    columns += [f"pyblocks {sys.getallocatedblocks() // 1000}k"]
    return " ".join(columns)
