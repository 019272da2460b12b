"""`--request-log FILE`: every request a sandbox server answers, appended as one JSON line.

A line: `{"time", "host", "method", "path", "query", "status", "endpoint", "bucket",
"duration_ms"}`. `time` is the ISO-8601 UTC instant the request arrived; `query` the decoded
query string (name -> list of values); `endpoint` the emulator's label (`contacts.search`,
`unknown` for an unrouted path); `bucket` the rate-limit bucket the request counted against
(`ten_secondly`, `search`) or null when it counted against none (unrouted paths, the OAuth token
exchange, the unauthenticated form submit, refused credentials). `duration_ms` runs from the
request line read to the last byte of the answer written. Lines are flushed one by one, so a
reader (a benchmark counting another client's calls) sees them while the server runs.
Credentials never reach the file: headers are not logged, and query parameters that carry one
(HubSpot's legacy `hapikey`, OAuth's `access_token`, ...) are written as `***`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, TextIO

CREDENTIAL_PARAMS = frozenset(
    {"hapikey", "access_token", "token", "client_secret", "refresh_token", "code", "password"}
)


def masked_query(query: dict[str, list[str]]) -> dict[str, list[str]]:
    return {
        name: ["***" for _ in values] if name.lower() in CREDENTIAL_PARAMS else values
        for name, values in query.items()
    }


class RequestJournal:
    """Appends JSON lines to a file; thread-safe; the file is opened once, in append mode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n"
        with self._lock:
            if self._file is not None:
                self._file.write(line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
