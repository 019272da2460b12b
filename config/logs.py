"""Structured logging: JSON lines for machines, a readable console for people, secrets never.

`configure_logging` sets up structlog (and routes the standard library's `logging`, which the
HubSpot, Salesforce, urllib3 and APScheduler clients use, through the same processors), so every
line that leaves the process went through `mask_sensitive`: every configured secret value is
redacted wherever it appears (`config/secrets.py`), email addresses (any script, quoted local parts
too) become `j***@example.com`, tokens, passwords and session ids become `***`, `Bearer <token>` becomes
`Bearer ***`, and phone numbers keep only their last two digits.

Every job binds its context once with `bound_job(...)`; all lines logged inside carry `run_id`,
`connection`, `job` and `dry_run` (structlog contextvars, so it also holds across function calls).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import PurePath
from typing import Any, TextIO, cast
from uuid import UUID

import phonenumbers
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from config.secrets import redact

MASK = "***"
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
FORMATS = ("auto", "json", "console")
PHONE_REGION = "US"
"""Region assumed for phone numbers written without a country code (+44 ... is found anyway)."""

# --- which keys hold secrets or phone numbers ------------------------------------------------

_SECRET_KEYS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "authorization",
        "api_key",
        "apikey",
        "hapikey",
        "session_id",
        "sessionid",
        "sid",
        "cookie",
        "set_cookie",
        "private_key",
        "credentials",
    }
)
_SECRET_SUFFIXES = (
    "_token",
    "_secret",
    "_password",
    "_api_key",
    "_apikey",
    "_session_id",
    "_authorization",
    "_private_key",
)
_PHONE_KEYS = frozenset({"phone", "mobile", "mobilephone", "telephone", "fax", "phone_number"})
_PHONE_SUFFIXES = ("_phone", "_mobile", "_phone_number", "_fax")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


_SEPARATORS = re.compile(r"[\s\-.]+")


@lru_cache(maxsize=1024)
def _normal_key(key: str) -> str:
    """`accessToken`, `X-Api-Key`, `Session ID` -> `access_token`, `x_api_key`, `session_id`."""
    return _SEPARATORS.sub("_", _CAMEL.sub("_", key)).lower()


def _is_secret_key(key: str) -> bool:
    return key in _SECRET_KEYS or key.endswith(_SECRET_SUFFIXES)


def is_secret_key(name: str) -> bool:
    """True when a value logged (or set) under this name must never be shown."""
    return _is_secret_key(_normal_key(name))


def _is_phone_key(key: str) -> bool:
    return key in _PHONE_KEYS or key.endswith(_PHONE_SUFFIXES)


def _is_id_key(key: str) -> bool:
    # Record ids (HubSpot "51234567801", "5123456780") look like phone numbers; they are not PII.
    return key == "id" or key.endswith(("_id", "_ids"))


# --- what inside a string is a secret or PII ----------------------------------------------------

# Local part: a dot-atom in any script (josé.müller@bücher.de) or a quoted string
# ("john doe"@example.com); domain: labels in any script. The first character is kept.
_EMAIL = re.compile(
    r'(?:(?P<quote>")(?P<qfirst>[^"\\\r\n])(?:[^"\\\r\n]|\\.)*"'
    r"|(?P<first>[\w%+\-])[\w.%+\-]*)"
    r"@(?P<domain>[\w\-]+(?:\.[\w\-]+)+)"
)
_BEARER = re.compile(r"\b(Bearer)\s+[A-Za-z0-9\-._~+/=!]+", re.IGNORECASE)
_OTHER_SCHEMES = re.compile(r"\b(Basic|OAuth)\s+[A-Za-z0-9\-._~+/!]{8,}=*", re.IGNORECASE)
# key=value, key: value, 'key': 'value', "key": "value" (URLs, headers, reprs of dicts)
_KEY_VALUE = re.compile(
    r"(\b[A-Za-z0-9_\-]*?"
    r"(?:token|secret|password|passwd|api[_\-]?key|hapikey|session[_\-]?id|sid|authorization)"
    r"[\"']?\s*[:=]\s*[\"']?)"
    r"(?!\*\*\*|(?:Bearer|Basic|OAuth)\s)[^\s&\"',;}\]]+",
    re.IGNORECASE,
)
_DIGITS_OF_A_PHONE = re.compile(r"\d(?:[\s().\-/]*\d){6}")


def mask_digits(text: str, keep: int = 2) -> str:
    """Star every digit but the last `keep`: `+1 (415) 555-0134` -> `+* (***) ***-**34`."""
    total = sum(ch.isdigit() for ch in text)
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_phones(text: str) -> str:
    if not _DIGITS_OF_A_PHONE.search(text):
        return text
    pieces = []
    last = 0
    for match in phonenumbers.PhoneNumberMatcher(text, PHONE_REGION):
        pieces.append(text[last : match.start])
        pieces.append(mask_digits(match.raw_string))
        last = match.end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _mask_email(match: re.Match[str]) -> str:
    if match.group("quote"):
        return f'"{match.group("qfirst")}***"@{match.group("domain")}'
    return f"{match.group('first')}***@{match.group('domain')}"


def _mask_text(text: str, phones: bool) -> str:
    if "@" in text:
        text = _EMAIL.sub(_mask_email, text)
    text = _BEARER.sub(r"\1 ***", text)
    text = _OTHER_SCHEMES.sub(r"\1 ***", text)
    if "=" in text or ":" in text:
        text = _KEY_VALUE.sub(r"\1***", text)
    if phones:
        text = _mask_phones(text)
    return text


_CACHED_TEXT = 512
"""Log lines repeat (event names, ids): short texts are masked once and remembered."""
_mask_text_cached = lru_cache(maxsize=4096)(_mask_text)


def mask_text(text: str, *, phones: bool = True) -> str:
    """Redact registered secret values, then mask emails, bearer/basic credentials, key=value
    secrets and phone numbers in free text."""
    text = redact(text)
    if len(text) > _CACHED_TEXT:
        return _mask_text(text, phones)
    return _mask_text_cached(text, phones)


_PASS_THROUGH = (bool, int, float, Decimal, datetime, date, time, timedelta, UUID, PurePath)
_SEQUENCES = (list, tuple, set, frozenset)


def mask_value(value: Any, key: str = "") -> Any:
    """Mask one logged value; `key` (normalised) is the name it is logged under."""
    if value is None:
        return None
    if key and _is_secret_key(key):
        return MASK
    if key and _is_phone_key(key) and not isinstance(value, (Mapping, *_SEQUENCES)):
        return mask_digits(str(value))
    if isinstance(value, str):
        return mask_text(value, phones=not _is_id_key(key))
    if isinstance(value, _PASS_THROUGH):
        return value
    if isinstance(value, Mapping):
        return {k: mask_value(v, _normal_key(str(k))) for k, v in value.items()}
    if isinstance(value, _SEQUENCES):
        return [mask_value(item, key) for item in value]
    # Anything else is rendered through its str()/repr(), which may carry PII: mask that text.
    return mask_text(str(value), phones=not _is_id_key(key))


_UNTOUCHED_KEYS = frozenset({"exc_info", "stack_info", "timestamp", "level", "logger"})


def mask_sensitive(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets and PII in every value of the event, nested included."""
    return {
        key: value if key in _UNTOUCHED_KEYS else mask_value(value, _normal_key(str(key)))
        for key, value in event_dict.items()
    }


# --- configuration -------------------------------------------------------------------------


def _level(level: str | int) -> int:
    if isinstance(level, int) and not isinstance(level, bool):
        return level
    name = str(level).strip().lower()
    if name == "warn":
        name = "warning"
    if name not in LEVELS:
        raise ValueError(
            f"logging.level: {level!r} is not a log level; use one of debug, info, warning, error"
        )
    return LEVELS[name]


def _renderer(fmt: str, stream: TextIO) -> Processor:
    choice = str(fmt).strip().lower()
    if choice not in FORMATS:
        raise ValueError(f"logging.format: {fmt!r} is not a log format; use auto, json or console")
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    if choice == "console" or (choice == "auto" and is_tty):
        return structlog.dev.ConsoleRenderer(colors=is_tty)
    return structlog.processors.JSONRenderer()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]


class _CurrentStderr:
    """Standard error as it is when a line is written: test runners and CLIs swap sys.stderr."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's fast file logger plus the `name` that `add_logger_name` reads."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(self._file, str(args[0]) if args else "handoff")


class _HandoffLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the root handler configure_logging installed, so a second call replaces it."""


CHATTY_LIBRARIES = ("alembic", "apscheduler")


def configure_logging(
    level: str | int = "info", fmt: str = "auto", stream: TextIO | None = None
) -> None:
    """Set up structlog and stdlib logging once per process (calling again reconfigures).

    level: debug | info | warning | error; fmt: auto (console on a TTY, else JSON lines) | json |
    console; stream: where lines go (default: whatever sys.stderr is when a line is written).
    """
    numeric = _level(level)
    out = stream if stream is not None else cast(TextIO, _CurrentStderr())
    renderer = _renderer(fmt, out)

    structlog.configure(
        processors=[
            structlog.stdlib.add_logger_name,
            *_shared_processors(),
            mask_sensitive,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        context_class=dict,
        logger_factory=_NamedWriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )

    # Third-party libraries log through the standard library: same processors, same masking.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared_processors()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_sensitive,
            renderer,
        ],
    )
    handler = _HandoffLogHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HandoffLogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in CHATTY_LIBRARIES:  # their info lines (migration steps, job runs) only at debug
        quiet = numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
        logging.getLogger(name).setLevel(quiet)


def get_logger(name: str) -> FilteringBoundLogger:
    """A structlog logger whose lines carry `logger=<name>`; use the module's `__name__`."""
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger


@contextmanager
def bound_job(
    run_id: str | UUID, connection: str | None, job: str, dry_run: bool
) -> Iterator[FilteringBoundLogger]:
    """Bind run_id, connection, job and dry_run to every line logged inside (restored after)."""
    with structlog.contextvars.bound_contextvars(
        run_id=str(run_id), connection=connection, job=job, dry_run=dry_run
    ):
        yield get_logger("handoff.job")
