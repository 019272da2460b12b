"""SLA engine throughput: start N clocks, credit touches to half, evaluate the ladder, report.

    .venv/bin/python bench/sla_throughput.py [--leads 5000] [--url sqlite:///tmp/sla-bench.db]

Prints wall time per phase; the store is SQLite in a temp dir unless --url is given.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session

from config.sla import SlaConfig
from routing.sla import BusinessCalendar, SlaEngine, Touch
from sync.store.engine import make_engine
from sync.store.schema import upgrade

CONFIG = {
    "calendars": {
        "ny": {
            "timezone": "America/New_York",
            "hours": "09:00-17:00",
            "holidays": {"country": "US", "subdivision": "NY"},
        },
        "always": {"always_open": True},
    },
    "default_calendar": "ny",
    "policies": {
        "fast": {
            "lane": "fast",
            "first_touch": "1h",
            "cadence": {"touches": 3, "channels": 2, "within": "5bd"},
            "ladder": [
                {"at": "80%", "action": "remind_owner"},
                {"at": "100%", "action": "task_owner"},
                {"at": "+15m", "action": "reassign_backup", "notify_manager": True},
            ],
        },
        "mql": {
            "lane": "mql",
            "first_touch": "24h",
            "touch": {"by": "any_rep"},
            "ladder": [{"at": "100%", "action": "task_owner"}, {"at": "+1bd", "action": "flag"}],
        },
    },
}


def _timed(label: str, started: float, count: int) -> None:
    elapsed = time.perf_counter() - started
    print(f"{label:<28} {elapsed:8.3f} s  ({count / elapsed:,.0f}/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'sla.db'}"
        engine = make_engine(url)
        upgrade(engine)
        sla = SlaEngine(SlaConfig.model_validate(CONFIG))
        ny = ZoneInfo("America/New_York")
        start = datetime(2026, 11, 16, 8, 0, tzinfo=ny)

        cal = BusinessCalendar("America/New_York", holidays=("US", "NY"))
        t0 = time.perf_counter()
        n_calendar = 20000
        for i in range(n_calendar):
            cal.add(start + timedelta(minutes=7 * i), timedelta(hours=1 + i % 30))
        _timed("calendar.add", t0, n_calendar)

        with Session(engine) as session:
            t0 = time.perf_counter()
            for i in range(args.leads):
                sla.start_clock(
                    session,
                    lead_key=f"lead-{i}",
                    owner_email=f"rep{i % 40}@example.com",
                    lane="fast" if i % 3 else "mql",
                    territory=f"t{i % 5}",
                    started_at=start + timedelta(minutes=i % 600),
                )
            session.commit()
            _timed("start_clock", t0, args.leads)

            touches = [
                Touch(
                    f"lead-{i}",
                    f"rep{i % 40}@example.com",
                    "call",
                    "phone",
                    start + timedelta(hours=2, minutes=i % 600),
                )
                for i in range(0, args.leads, 2)
            ]
            t0 = time.perf_counter()
            sla.record_touches(session, touches)
            session.commit()
            _timed("record_touches", t0, len(touches))

            t0 = time.perf_counter()
            actions = sla.evaluate(session, start + timedelta(days=2))
            session.commit()
            _timed(f"evaluate ({len(actions)} actions)", t0, args.leads)

            t0 = time.perf_counter()
            sla.evaluate(session, start + timedelta(days=2, minutes=1))
            session.commit()
            _timed("evaluate again (no-op)", t0, args.leads)

            t0 = time.perf_counter()
            report = sla.metrics(session, start - timedelta(days=1), start + timedelta(days=10))
            _timed("metrics", t0, args.leads)
            print(f"compliance {report.overall.compliance:.3f}, judged {report.overall.judged}")
        engine.dispose()


if __name__ == "__main__":
    main()
