"""The HTML report is a page people open: self-contained, and its charts really draw."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sync.report.render import to_html, to_markdown

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def sample_report() -> dict:  # type: ignore[type-arg]
    return {
        "schema": "handoff.report/v1",
        "run": {
            "id": "20261120T150000Z-live-crm-1",
            "as_of": "2026-11-20T15:00:00Z",
            "dry_run": False,
            "status": "ok",
            "api_calls": {},
            "errors": [],
        },
        "counts": {
            "pulled": {"crm": 3},
            "scored": 3,
            "planned": 2,
            "writes": {"applied": 2},
            "stage_changes": {"lead->mql": 1},
            "routed": {"round_robin": 1},
            "sla_actions": {},
        },
        "funnel": [
            {"stage": s, "count": n, "reached": r, "conversion": c}
            for s, n, r, c in [("lead", 2, 3, None), ("mql", 1, 1, 0.3333), ("sql", 0, 0, 0.0)]
        ],
        "scores": [{"band": "0-20", "count": 1}, {"band": "60-80", "count": 2}],
        "assignments": {
            "per_rep": [
                {
                    "rep": "ana@acme.test",
                    "territory": "na",
                    "weight": 1,
                    "assigned": 1,
                    "share": 1.0,
                }
            ],
            "decisions": [],
        },
        "sla": {
            "overall": {"judged": 2, "compliance": 0.5},
            "by_lane": {"fast": {"judged": 2, "compliance": 0.5, "median_first_touch": 1800.0}},
            "cadence": {},
        },
        "rejections": [{"reason": "no_budget", "count": 1}],
        "drift": [
            {
                "connection": "crm",
                "record_id": "c1",
                "field": "owner_id",
                "crm_value": "o2",
                "last_written": "o1",
                "wanted": None,
                "policy": "crm_wins",
            }
        ],
        "dead_letters": [],
        "reconciliation": [
            {
                "connection": "crm",
                "object": "contact",
                "record": "c1",
                "field": "score",
                "crm_value": None,
                "handoff_value": 72,
                "change": "update",
                "reason": "score",
                "status": "applied",
            }
        ],
        "disagreements": [],
        "duplicates": [],
        "flags": [],
    }


def test_html_is_self_contained() -> None:
    page = to_html(sample_report())
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # no network requests
    assert page.count("<svg") >= 5


def test_markdown_is_deterministic() -> None:
    assert to_markdown(sample_report()) == to_markdown(sample_report())
    assert "| score | people |" in to_markdown(sample_report())


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_charts_draw_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(to_html(sample_report()))
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    bars = re.findall(r'<rect class="bar"[^>]*width="([0-9.]+)"', dom)
    assert len(bars) >= 6, "the charts' bars are in the rendered DOM"
    assert any(float(w) > 10 for w in bars), "bars have real widths"
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1280,900",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10_000  # a laptop-sized page was painted
