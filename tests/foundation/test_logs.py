"""Logging: masking of secrets and PII, job context binding, JSON vs console output."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import structlog
from structlog.testing import capture_logs

from config.logs import bound_job, configure_logging, get_logger, mask_sensitive, mask_text


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    structlog.contextvars.clear_contextvars()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def masked(**event: object) -> dict[str, object]:
    return dict(mask_sensitive(None, "info", dict(event)))


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class _FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- the processor on its own --------------------------------------------------------------


def test_emails_are_masked_anywhere_keeping_first_letter_and_domain() -> None:
    out = masked(
        event="pulled jane.doe@example.com and bob+x@sub.acme.io",
        email="jane.doe@example.com",
        batch={"people": [{"email": "Zed@Example.COM"}], "note": "cc li@example.org"},
    )
    assert out["event"] == "pulled j***@example.com and b***@sub.acme.io"
    assert out["email"] == "j***@example.com"
    assert out["batch"] == {
        "people": [{"email": "Z***@Example.COM"}],
        "note": "cc l***@example.org",
    }


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "accessToken",
        "refresh_token",
        "session_id",
        "sessionId",
        "password",
        "secret",
        "client_secret",
        "Authorization",
        "api_key",
        "X-Api-Key",
        "security_token",
        "hapikey",
    ],
)
def test_secret_keys_never_show_their_value(key: str) -> None:
    out = masked(event="auth", **{key: "pat-na1-0f3e9c1a-77"})
    assert out[key] == "***"
    assert "pat-na1" not in json.dumps(out)


def test_secrets_nested_in_headers_and_lists_are_masked() -> None:
    out = masked(
        event="request",
        headers={"Authorization": "Bearer abc.def", "Content-Type": "application/json"},
        attempts=[{"session_id": "00Dxx!AQ4AQ"}],
    )
    assert out["headers"] == {"Authorization": "***", "Content-Type": "application/json"}
    assert out["attempts"] == [{"session_id": "***"}]


def test_bearer_tokens_and_key_values_inside_strings_are_masked() -> None:
    text = (
        "GET https://api.example.test/crm/v3?hapikey=abc123&limit=10 "
        "Authorization: Bearer pat-na1-secret {'access_token': 'tok1', \"refreshToken\": \"tok2\"}"
    )
    out = mask_text(text)
    for secret in ("abc123", "pat-na1-secret", "tok1", "tok2"):
        assert secret not in out
    assert "Bearer ***" in out
    assert "limit=10" in out
    assert "hapikey=***" in out


def test_words_that_merely_mention_secrets_are_left_readable() -> None:
    text = "password reset requested; tokens used: 5; OAuth refresh failed"
    assert mask_text(text) == text


def test_phone_numbers_keep_only_last_two_digits() -> None:
    out = masked(
        event="called +44 20 7946 0958 and (415) 555-0134",
        phone="+1 (415) 555-0134",
        mobilePhone=4155550134,
    )
    assert out["event"] == "called +** ** **** **58 and (***) ***-**34"
    assert out["phone"] == "+* (***) ***-**34"
    assert out["mobilePhone"] == "********34"


def test_record_ids_dates_and_counts_are_not_taken_for_phone_numbers() -> None:
    out = masked(
        event="synced 1234567 rows at 2026-11-23T01:19:24+00:00",
        contact_id="5123456780",
        owner_ids=["5123456781"],
        took_ms=4155550134,
    )
    assert out == {
        "event": "synced 1234567 rows at 2026-11-23T01:19:24+00:00",
        "contact_id": "5123456780",
        "owner_ids": ["5123456781"],
        "took_ms": 4155550134,
    }


def test_objects_rendered_by_repr_are_masked_too() -> None:
    @dataclass
    class Person:
        email: str

    out = masked(event="upsert", person=Person("jane@example.com"))
    assert (
        out["person"]
        == "test_objects_rendered_by_repr_are_masked_too.<locals>.Person(email='j***@example.com')"
    )


def test_masking_is_idempotent_and_does_not_mutate_the_event() -> None:
    event = {"event": "jane@example.com Bearer abc", "token": "x"}
    once = mask_sensitive(None, "info", event)
    assert event == {"event": "jane@example.com Bearer abc", "token": "x"}
    assert mask_sensitive(None, "info", dict(once)) == once


# --- with structlog ------------------------------------------------------------------------


def test_bound_job_binds_context_to_every_line_and_restores_it() -> None:
    log = get_logger("handoff.test")
    processors = [structlog.contextvars.merge_contextvars, mask_sensitive]
    with capture_logs(processors=processors) as logs:
        log.info("before")
        with bound_job("run-1", "hubspot", "sync", dry_run=True) as job_log:
            log.info("inside", email="ann@example.com")
            job_log.info("from the job logger")
            with bound_job("run-2", None, "sla", dry_run=False):
                log.info("nested")
            log.info("back")
        log.info("after")

    context = ("run_id", "connection", "job", "dry_run")
    by_event = {e["event"]: {k: e.get(k) for k in context} for e in logs}
    assert by_event["before"] == dict.fromkeys(context)
    expected = {"run_id": "run-1", "connection": "hubspot", "job": "sync", "dry_run": True}
    assert by_event["inside"] == expected
    assert by_event["from the job logger"] == expected
    assert by_event["nested"] == {
        "run_id": "run-2",
        "connection": None,
        "job": "sla",
        "dry_run": False,
    }
    assert by_event["back"] == expected
    assert by_event["after"] == dict.fromkeys(context)
    assert next(e for e in logs if e["event"] == "inside")["email"] == "a***@example.com"


def test_jobs_in_scheduler_threads_do_not_share_context() -> None:
    log = get_logger("handoff.scheduler")
    ready, release = threading.Barrier(2), threading.Event()

    def job(run_id: str, connection: str) -> None:
        with bound_job(run_id, connection, "sync", dry_run=False):
            ready.wait(timeout=5)  # both jobs are bound at the same time
            release.wait(timeout=5)
            log.info("done")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        threads = [
            threading.Thread(target=job, args=("run-a", "hubspot")),
            threading.Thread(target=job, args=("run-b", "salesforce")),
        ]
        for thread in threads:
            thread.start()
        release.set()
        for thread in threads:
            thread.join(timeout=5)
    assert sorted((e["run_id"], e["connection"]) for e in logs) == [
        ("run-a", "hubspot"),
        ("run-b", "salesforce"),
    ]


def test_json_lines_end_to_end_are_masked_and_carry_context() -> None:
    stream = io.StringIO()
    configure_logging(level="info", fmt="auto", stream=stream)  # StringIO is not a TTY: JSON
    log = get_logger("handoff.sync")
    with bound_job("run-7", "salesforce", "sync", dry_run=False):
        log.info("wrote owner for jane@example.com", access_token="00D!secret", count=3)
        log.debug("invisible at info")
        try:
            raise RuntimeError("409 conflict for jane@example.com, Bearer abc123")
        except RuntimeError:
            log.exception("write failed")

    lines = json_lines(stream.getvalue())
    assert [line["event"] for line in lines] == ["wrote owner for j***@example.com", "write failed"]
    first, second = lines
    assert first["access_token"] == "***"
    assert first["count"] == 3
    assert first["level"] == "info"
    assert first["logger"] == "handoff.sync"
    assert (first["run_id"], first["connection"], first["job"], first["dry_run"]) == (
        "run-7",
        "salesforce",
        "sync",
        False,
    )
    assert str(first["timestamp"]).endswith("Z")
    assert "RuntimeError: 409 conflict for j***@example.com, Bearer ***" in str(second["exception"])
    assert "jane@" not in stream.getvalue() and "abc123" not in stream.getvalue()


def test_standard_library_logging_from_clients_is_masked_the_same_way() -> None:
    stream = io.StringIO()
    configure_logging(level="debug", fmt="json", stream=stream)
    with bound_job("run-9", "hubspot", "sync", dry_run=True):
        # a logger of its own: client libraries reset the levels of theirs (hubspot -> urllib3)
        logging.getLogger("tests.third_party.client").debug(
            "GET /crm/v3/objects?access_token=%s for %s", "pat-secret", "jane@example.com"
        )
    (line,) = json_lines(stream.getvalue())
    assert line["event"] == "GET /crm/v3/objects?access_token=*** for j***@example.com"
    assert line["logger"] == "tests.third_party.client"
    assert line["run_id"] == "run-9"


def test_console_format_is_readable_text_and_masked() -> None:
    stream = _FakeTty()
    configure_logging(level="info", fmt="auto", stream=stream)  # a TTY: console renderer
    get_logger("handoff.cli").info("hello jane@example.com", token="t0k3n")
    text = stream.getvalue()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "j***@example.com" in text and "t0k3n" not in text
    assert "hello" in text


def test_json_format_can_be_forced_on_a_tty_and_console_off_one() -> None:
    tty = _FakeTty()
    configure_logging(fmt="json", stream=tty)
    get_logger("a").info("x")
    assert json_lines(tty.getvalue())[0]["event"] == "x"

    plain = io.StringIO()
    configure_logging(fmt="console", stream=plain)
    get_logger("a").info("y")
    assert not plain.getvalue().startswith("{")
    assert "\x1b[" not in plain.getvalue()  # no colour codes when not a terminal


def test_reconfiguring_replaces_the_stdlib_handler_instead_of_doubling_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=first)
    configure_logging(fmt="json", stream=second)
    logging.getLogger("apscheduler").warning("tick")
    assert first.getvalue() == ""
    assert len(json_lines(second.getvalue())) == 1


def test_default_stream_is_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging(level="info", fmt="json")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    get_logger("a").info("one")
    monkeypatch.setattr(sys, "stderr", second)  # e.g. a CLI test runner swapped it
    logging.getLogger("b").warning("two")
    assert [line["event"] for line in json_lines(first.getvalue())] == ["one"]
    assert [line["event"] for line in json_lines(second.getvalue())] == ["two"]


@pytest.mark.parametrize(
    ("level", "fmt", "message"),
    [
        ("verbose", "json", "logging.level: 'verbose' is not a log level"),
        ("info", "xml", "logging.format: 'xml' is not a log format"),
    ],
)
def test_bad_level_or_format_names_the_setting(level: str, fmt: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        configure_logging(level=level, fmt=fmt, stream=io.StringIO())


def test_library_info_lines_only_at_debug() -> None:
    """alembic's migration steps and APScheduler's job runs are noise at the default level."""
    shown = io.StringIO()
    configure_logging(level="info", fmt="json", stream=shown)
    for name in ("alembic.runtime.migration", "apscheduler.executors.default"):
        logging.getLogger(name).info("Running upgrade")
        logging.getLogger(name).warning("kept")
    assert [line["event"] for line in json_lines(shown.getvalue())] == ["kept", "kept"]
    debug = io.StringIO()
    configure_logging(level="debug", fmt="json", stream=debug)
    logging.getLogger("alembic.runtime.migration").info("Running upgrade")
    assert [line["event"] for line in json_lines(debug.getvalue())] == ["Running upgrade"]
    configure_logging(level="info", fmt="json", stream=io.StringIO())
