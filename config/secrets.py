"""Secret values, redacted by value wherever text leaves the process.

Masking by key (`access_token=***`, `Bearer ***`) misses a secret that arrives inside someone
else's text: a CRM's 400 body echoing the token, an exception message quoting a URL. So every
configured secret *value* is registered once, when the config is loaded (`config/loader.py`: each
`${ENV}` value at a secret key, and every `SecretStr` field), and one redactor removes it from:

- every log line (`config.logs.mask_text`, in the structlog and stdlib processor chains);
- every console message (`RedactingConsole`, the CLI's stdout/stderr consoles);
- every store row (`sync/store/redaction.py`, an engine hook on each statement's parameters:
  run errors, outbox errors, whatever table);
- every report file (`sync/report/render.write_reports`).

Each value is registered with the spellings it takes in transit: percent-encoded (a URL), JSON-
and HTML-escaped. Values shorter than `MIN_LENGTH` are not registered (redacting "abc" from every
line would wreck the output and protect nothing a real credential needs).
"""

from __future__ import annotations

import html
import json
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from rich.console import Console

REDACTED = "***"
MIN_LENGTH = 6


class SecretRegistry:
    """The secret values of this process and the one pattern that finds any of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        if not value or len(value.strip()) < MIN_LENGTH:
            return
        spellings = set(_spellings(value.strip()))
        spellings.add(value)
        with self._lock:
            if spellings <= self._values:
                return
            self._values = self._values | {s for s in spellings if len(s) >= MIN_LENGTH}
            ordered = sorted(self._values, key=lambda s: (-len(s), s))  # longest first
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def forget(self) -> None:
        with self._lock:
            self._values = set()
            self._pattern = None

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def found_in(self, text: str) -> bool:
        values = self._values
        return bool(values) and any(v in text for v in values)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not self.found_in(text):
            return text
        return pattern.sub(REDACTED, text)


def _spellings(value: str) -> Iterable[str]:
    """The forms a secret takes in URLs, JSON, HTML and form bodies."""
    yield value
    yield quote(value, safe="")
    yield quote(value, safe="/:")
    yield quote_plus(value)
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]
    yield html.escape(value)
    if value.startswith(("https://", "http://")):  # a webhook URL: its path is the credential
        parts = urlsplit(value)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(tail) >= 16:
            yield tail


SECRETS = SecretRegistry()


def register_secret(value: str | None) -> None:
    """Redact this value from every output from now on (call it when a secret is read)."""
    SECRETS.register(value)


def redact(text: str) -> str:
    """`text` with every registered secret value replaced by `***`."""
    return SECRETS.redact(text)


def redact_deep(value: Any) -> Any:
    """Strings inside dicts, lists and tuples redacted (a copy; dict keys too)."""
    if not SECRETS.active:
        return value
    if isinstance(value, str):
        return SECRETS.redact(value)
    if isinstance(value, Mapping):
        return {redact_deep(k): redact_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_deep(v) for v in value)
    return value


class RedactingConsole(Console):
    """A rich console whose printed strings are redacted before rich renders (and wraps) them."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not self.is_terminal:  # off a terminal, no wrapping at 80 columns (paths stay whole)
            kwargs.setdefault("soft_wrap", True)
        super().print(*(redact(o) if isinstance(o, str) else o for o in objects), **kwargs)

    def log(self, *objects: Any, **kwargs: Any) -> None:
        super().log(*(redact(o) if isinstance(o, str) else o for o in objects), **kwargs)


def redacting_excepthooks() -> None:
    """Uncaught exceptions (a bug's traceback, in the main thread or another) print with every
    secret value redacted."""

    def show(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        sys.stderr.write(redact("".join(traceback.format_exception(kind, value, tb))))

    def show_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and args.exc_type is not SystemExit:
            show(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = show
    threading.excepthook = show_thread
