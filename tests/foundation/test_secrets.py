"""Secret values registered at config load and redacted by value from logs, consoles, store rows
and reports; emails masked in any script and with quoted local parts."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text

from config.loader import parse_config
from config.logs import configure_logging, get_logger, mask_text
from config.secrets import SECRETS, RedactingConsole, redact, redact_deep
from sync.report.render import write_reports
from sync.store.engine import make_engine

TOKEN = "pat-na1-4f1c2e9a-77b0-4d1e-9c1a-0b6f2d8e1a33"
SESSION = "00D5g000004Xyz!AQ4AQB.Kx9_zQ"
CLIENT_SECRET = "cs-9f8e7d6c5b4a"
REFRESH = "rt-1a2b3c4d5e6f"
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"

CONFIG = """
version: 1
connections:
  - name: hubspot
    kind: hubspot
    hubspot:
      client_id: app-1
      client_secret: ${HS_CLIENT_SECRET}
      refresh_token: ${HS_REFRESH}
      access_token: ${HS_TOKEN}
    objects: {contact: {email: {property: email}}}
  - name: salesforce
    kind: salesforce
    salesforce:
      instance_url: https://example.my.salesforce.com
      session_id: ${SF_SESSION}
    objects: {lead: {email: {property: Email}}}
sla:
  webhook_url: ${SLA_WEBHOOK}
"""
ENV = {
    "HS_TOKEN": TOKEN,
    "HS_CLIENT_SECRET": CLIENT_SECRET,
    "HS_REFRESH": REFRESH,
    "SF_SESSION": SESSION,
    "SLA_WEBHOOK": WEBHOOK,
}
ALL = (TOKEN, SESSION, CLIENT_SECRET, REFRESH, WEBHOOK)


@pytest.fixture
def loaded() -> Iterator[None]:
    SECRETS.forget()
    parse_config(CONFIG, env=ENV)
    yield
    SECRETS.forget()


@pytest.mark.usefixtures("loaded")
@pytest.mark.parametrize("secret", ALL)
def test_every_configured_secret_is_redacted_wherever_it_appears(secret: str) -> None:
    message = f"400 Bad Request: body {{'context': ['{secret}']}} from upstream"
    assert secret not in redact(message)
    assert "from upstream" in redact(message)


@pytest.mark.usefixtures("loaded")
def test_secrets_are_redacted_in_the_spellings_they_take_in_transit() -> None:
    from urllib.parse import quote

    assert "AQ4AQB" not in redact(f"GET /x?sid={quote(SESSION, safe='')}")
    assert "XXXXXXXX" not in redact(
        "404 for url path /services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"
    )
    assert TOKEN not in redact(json.dumps({"error": TOKEN}))


def test_short_values_and_a_config_without_secrets_leave_text_alone() -> None:
    SECRETS.forget()
    try:
        parse_config(CONFIG, env={**ENV, "HS_TOKEN": "abc"})
        assert redact("abc and abcdef") == "abc and abcdef"
    finally:
        SECRETS.forget()


@pytest.mark.usefixtures("loaded")
def test_log_lines_console_messages_store_rows_and_reports_are_redacted(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        get_logger("test").error("crm.refused", detail=f"echoed {TOKEN}", note=SESSION)
    finally:
        structlog.reset_defaults()
    assert TOKEN not in stream.getvalue() and SESSION not in stream.getvalue()
    assert "echoed ***" in stream.getvalue()

    console_out = io.StringIO()
    console = RedactingConsole(file=console_out, width=40)
    console.print(f"warning: hubspot: pull stopped: {TOKEN} rejected", markup=False)
    assert TOKEN not in console_out.getvalue() and "***" in console_out.getvalue()

    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (a TEXT, b INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (:a, 1)"), {"a": f"error: {WEBHOOK} 404"})
        conn.execute(text("INSERT INTO t VALUES (:a, :b)"), [{"a": CLIENT_SECRET, "b": 2}] * 3)
        rows = [r[0] for r in conn.execute(text("SELECT a FROM t"))]
    assert rows == ["error: *** 404", "***", "***", "***"]

    report = {"run": {"id": "r1", "errors": [f"hubspot: {REFRESH}"]}, "dead_letters": []}
    paths = write_reports(report, tmp_path / "reports", ["json"])
    assert REFRESH not in paths["json"].read_text(encoding="utf-8")
    assert redact_deep({"k": [f"x {TOKEN}"]}) == {"k": ["x ***"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("owner josé.müller@bücher.de moved", "owner j***@bücher.de moved"),
        ('from "john doe"@example.com today', 'from "j***"@example.com today'),
        ('"jo\\"hn"@example.com', '"j***"@example.com'),
        ("Ωmega@παράδειγμα.δοκιμή", "Ω***@παράδειγμα.δοκιμή"),
        ("plain jane.doe@example.com", "plain j***@example.com"),
    ],
)
def test_emails_in_any_script_and_quoted_local_parts_are_masked(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_a_token_obtained_by_oauth_refresh_at_run_time_is_redacted_too() -> None:
    from types import SimpleNamespace

    from config.connections import HubSpotSettings
    from connectors.hubspot.auth import Credentials

    SECRETS.forget()
    fresh = "CKXn8a2sMhIHAAEAQAAAARjY-fresh-access"
    settings = HubSpotSettings.model_validate(
        {"client_id": "app-1", "client_secret": CLIENT_SECRET, "refresh_token": REFRESH}
    )
    answer = SimpleNamespace(data=json.dumps({"access_token": fresh, "expires_in": 1800}))
    credentials = Credentials(settings, "hubspot", exchange=lambda form: answer)
    assert credentials.token() == fresh
    assert redact(f"401 for {fresh}") == "401 for ***"


def test_a_bugs_traceback_keeps_its_text_but_not_the_secret() -> None:
    import subprocess
    import sys

    code = (
        "from config.secrets import register_secret, redacting_excepthooks\n"
        f"register_secret({TOKEN!r})\n"
        "redacting_excepthooks()\n"
        f"raise RuntimeError('crm said ' + {TOKEN!r})\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "RuntimeError: crm said ***" in result.stderr
    assert TOKEN not in result.stderr
