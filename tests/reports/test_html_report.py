"""The HTML report as a person sees it, in headless Chromium at desktop and phone widths.

The reports come from real pipeline runs (in-memory CRM, SQLite store): an SLA check run three
hours after the handoff, and a dry run. The assertions read the rendered page's text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sync.report.page import HTML_ROWS
from sync.report.render import to_csv, to_html, write_reports
from tests.reports.browser import CHROMIUM, Browser
from tests.reports.report_runs import NOW, PORTAL_ID, Bench, sla_run_report

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
WIDTHS = (1400, 400)


def _trouble_report(url: str) -> dict[str, Any]:
    """HubSpot refuses the student's score (a dead letter after one attempt), and a person gave
    Vera to Ana before her escalation: a flag instead of a reassignment."""
    bench = Bench(url, "sync: {max_attempts: 1}\n")
    bench.crm.reject_writes("c3", "score", "INVALID_INTEGER: handoff_score must be a number")
    bench.run()
    vera = bench.crm.contact("c1")
    assert vera is not None
    bench.crm.put_contact(
        "c1", {**vera.fields, "owner_id": "o1"}, modified_at=NOW + timedelta(minutes=30)
    )
    return bench.run(at=NOW + timedelta(hours=3))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("reports")
    return {
        "sla": sla_run_report(f"sqlite:///{base / 'sla.db'}"),
        "dry": Bench(f"sqlite:///{base / 'dry.db'}").run(dry_run=True),
        "trouble": _trouble_report(f"sqlite:///{base / 'trouble.db'}"),
    }


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    chromium = Browser(tmp_path_factory.mktemp("profile"))
    yield chromium
    chromium.close()


def _page(report: dict[str, Any], directory: Path) -> str:
    paths = write_reports(report, directory, ["html", "csv"])
    return paths["html"].as_uri()


def _table(browser: Browser, selector: str) -> list[list[str]]:
    """The visible text of a table's rows, cell by cell."""
    rows: list[list[str]] = browser.evaluate(
        f"""Array.from(document.querySelectorAll({selector!r} + ' tr'))
            .filter(tr => !tr.hidden)
            .map(tr => Array.from(tr.children).map(c => c.innerText.trim()))"""
    )
    return rows


def test_the_page_makes_no_network_request(reports: dict[str, Any]) -> None:
    page = to_html(reports["sla"])
    assert not re.search(r"""<(script|img|link|iframe)[^>]+(src|href)=["']?https?:""", page)
    assert "@import" not in page and "url(" not in page


def test_text_from_the_crm_is_escaped(reports: dict[str, Any]) -> None:
    report = copy.deepcopy(reports["dry"])
    report["reconciliation"][0]["name"] = "<script>alert(1)</script>"
    page = to_html(report)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_same_report_same_page(reports: dict[str, Any]) -> None:
    assert to_html(reports["sla"]) == to_html(copy.deepcopy(reports["sla"]))


def test_a_truncated_table_says_so_and_the_csv_has_every_row(reports: dict[str, Any]) -> None:
    report = copy.deepcopy(reports["dry"])
    rows = report["reconciliation"]
    report["reconciliation"] = [
        {**row, "record": f"{row['record']}-{i}"} for i in range(40) for row in rows
    ]
    total = len(report["reconciliation"])
    assert total > HTML_ROWS
    page = to_html(report)
    assert f"Showing the first {HTML_ROWS} of {total} changes" in page and "report.csv" in page
    assert page.count('target="_blank"') >= HTML_ROWS
    assert len(to_csv(report).splitlines()) == total + 1


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_sla_panel_and_assignments_per_rep(
    browser: Browser, reports: dict[str, Any], tmp_path: Path, width: int
) -> None:
    report = reports["sla"]
    browser.open(_page(report, tmp_path), width)
    panel = browser.evaluate("document.querySelector('#sla').innerText")
    assert "no data" not in panel.lower() and "No SLA clocks" not in panel
    rows = {r[0]: r for r in _table(browser, "#sla tbody")}
    # The fast lane's hour lapsed untouched: judged 1, 0% compliance, 1 breach, and the clock of
    # the backup rep who got the lead runs (pending); the MQL lane's 24 hours are still running.
    assert rows["lane fast"][1:5] == ["1", "0.0%", "1", "1"]
    assert rows["lane mql"][1:5] == ["0", "", "0", "1"]
    assert rows["rep bob@acme.test"][1:4] == ["1", "0.0%", "1"]
    assert rows["rep mia@acme.test"][4] == "1"
    for lane, stats in report["sla"]["by_lane"].items():  # every lane of the JSON, on screen
        assert rows[f"lane {lane}"][1] == str(stats["judged"])
    reps = {r[0]: r for r in _table(browser, "#assignments tbody")}
    assert reps["mia@acme.test"][2:4] == ["1", "1"]  # the escalation: this run, last 30 days
    assert reps["ana@acme.test"][2:4] == ["0", "1"]  # handed off in the run before
    assert reps["bob@acme.test"][2:4] == ["0", "1"]
    no_overflow = browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_overflow, f"the page scrolls sideways at {width} px"
    browser.screenshot(tmp_path / f"sla-{width}.png")


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_dry_run_funnel_and_named_rows(
    browser: Browser, reports: dict[str, Any], tmp_path: Path, width: int
) -> None:
    report = reports["dry"]
    browser.open(_page(report, tmp_path), width)
    header = browser.evaluate("document.querySelector('header').innerText")
    assert "dry run" in header
    funnel = {r[0]: r[1:] for r in _table(browser, "#funnel tbody")}
    assert funnel["lead"] == ["1", "3", "100.0%"]  # the student stays a lead
    assert funnel["mql"] == ["2", "2", "66.7%"]  # the VP and the director would become MQLs
    sla = browser.evaluate("document.querySelector('#sla').innerText")
    assert "No clock judged yet: 2 running" in sla  # the two handoffs' clocks, in the dry run
    scores = browser.evaluate("document.querySelector('#scores svg').textContent")
    assert scores.strip(), "the score chart draws bars with counts"
    rows = _table(browser, "#change-rows tbody")
    assert len(rows) == report["counts"]["rows"] == 16
    vera = [r for r in rows if r[0] == "Vera"]
    assert vera and all(r[1] == "vp@bigco.com" and r[2] == "BigCo" for r in vera)
    assert {r[-1] for r in rows} == {"would write"}
    link = browser.evaluate(
        "Array.from(document.querySelectorAll('#change-rows a')).map(a => a.href)[0]"
    )
    assert link == f"https://app.hubspot.com/contacts/{PORTAL_ID}/record/0-1/c1"
    box = browser.evaluate(
        """(() => { const s = document.querySelector('#change-rows').parentElement;
            const r = s.getBoundingClientRect();
            return {right: r.right, inner: window.innerWidth, overflow: getComputedStyle(s).overflowX,
                    scroll: s.scrollWidth, client: s.clientWidth}; })()"""
    )
    assert box["right"] <= box["inner"], f"the table's box is cut at {width} px: {box}"
    if box["scroll"] > box["client"]:  # wider than the phone: it scrolls in its own box
        assert box["overflow"] in ("auto", "scroll"), box
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@needs_chromium
def test_rows_filter_by_what_a_manager_types(
    browser: Browser, reports: dict[str, Any], tmp_path: Path
) -> None:
    browser.open(_page(reports["dry"], tmp_path), 1400)
    browser.evaluate(
        """(() => { const i = document.getElementById('filter'); i.value = 'midco owner';
            i.dispatchEvent(new Event('input')); })()"""
    )
    rows = _table(browser, "#change-rows tbody")
    assert [(r[1], r[4]) for r in rows] == [("dir@midco.com", "owner_id")]
    assert browser.evaluate("document.getElementById('shown').innerText") == "1 shown"


@needs_chromium
def test_flags_and_dead_letters_are_on_the_page(
    browser: Browser, reports: dict[str, Any], tmp_path: Path
) -> None:
    browser.open(_page(reports["trouble"], tmp_path), 400)
    dead = _table(browser, "#dead-letters tbody")
    assert [(r[0], r[3], r[4]) for r in dead] == [("kid@uni.edu", "score", "1")]
    assert "INVALID_INTEGER" in dead[0][5]
    flags = _table(browser, "#flags tbody")
    assert [(r[0], r[2]) for r in flags] == [("Vera", "reassign_not_written")]
    assert "mia@acme.test" in flags[0][3]
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_run_warnings_show_on_the_page_and_in_markdown(reports: dict[str, Any]) -> None:
    from sync.report.render import to_markdown

    report = copy.deepcopy(reports["dry"])
    warning = "hubspot: page views unavailable on a professional HubSpot portal <tier>"
    report["run"]["warnings"] = [warning]
    assert "Warnings (1)" in to_html(report) and "&lt;tier&gt;" in to_html(report)
    assert f"- {warning}" in to_markdown(report)
    report["run"].pop("warnings")  # a report from before warnings existed
    assert "Warnings" not in to_html(report)
