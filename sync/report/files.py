"""Where reports live: `<reports.directory>/<run id>/report.*`, plus `latest.json` naming the last run.

Each run's report is also kept in the store (`run_reports`, saved before any file is written), so
a reports directory that cannot take the files (a full disk) loses nothing: `handoff report`
writes them again from the store, and the run's exit code says so (`ReportNotWritten`, exit 3).

A run's change rows are streamed, never held whole: from its ledger into the files and the
store's parts (`run_report_rows`), and from those parts when written again.

Only the newest `reports.keep` runs stay, as folders and in the store: a worker reporting every
minute keeps both bounded.
"""

from __future__ import annotations

import itertools
import json
import shutil
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from config.model import HandoffConfig
from config.secrets import redact_deep
from routing.sla.engine import SlaEngine
from sync.failures import ReportNotWritten
from sync.pipeline import RunResult
from sync.report.build import SCHEMA, build_report
from sync.report.render import replaced, streamed_lists, write_reports
from sync.report.rows import HEAD, StreamedRows
from sync.store.tables import RunReport, RunReportRows
from sync.store.types import utc_now

PART_ROWS = 2000  # change rows per saved part (~1 MB of JSON text)
PACKERS = 2  # threads compressing parts


def write_run_reports(
    result: RunResult, engine: Engine, config: HandoffConfig, sla: SlaEngine
) -> Path:
    """Build the run's report, keep it in the store, then write its files (ReportNotWritten when
    the directory cannot take them: the run and its report data are recorded all the same)."""
    with Session(engine) as session:
        report = redact_deep(build_report(result, session, config, sla))
    save_report(engine, report)
    base = Path(config.reports.directory)
    folder = base / result.run_id
    try:
        write_reports(report, folder, sorted(set(config.reports.formats) | {"json", "md"}))
        mark_latest(base, result.run_id)
    except OSError as exc:
        raise ReportNotWritten(result.run_id, folder, exc) from None
    prune_reports(base, config.reports.keep, current=result.run_id)
    prune_stored_reports(engine, config.reports.keep)
    return folder


def prune_reports(base: Path, keep: int, *, current: str) -> list[Path]:
    """Delete all but the newest `keep` run folders (by when they were written; the current
    run's always stays). Only folders holding a run report are touched."""
    runs = [
        p
        for p in base.iterdir()
        if p.is_dir() and p.name != current and (p / "report.json").is_file()
    ]
    runs.sort(key=lambda p: ((p / "report.json").stat().st_mtime_ns, p.name), reverse=True)
    doomed = runs[max(keep - 1, 0) :]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)
    return doomed


def prune_stored_reports(engine: Engine, keep: int) -> int:
    """Keep the newest `keep` reports in the store as well."""
    with Session(engine) as session:
        old = session.exec(
            select(RunReport.run_id)
            .order_by(col(RunReport.created_at).desc(), col(RunReport.run_id).desc())
            .offset(keep)
        ).all()
        for start in range(0, len(old), 500):
            doomed = old[start : start + 500]
            session.execute(delete(RunReport).where(col(RunReport.run_id).in_(doomed)))
            session.execute(delete(RunReportRows).where(col(RunReportRows.run_id).in_(doomed)))
        session.commit()
    return len(old)


def _packed(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, sort_keys=True).encode("utf-8"), 6)


def _unpacked(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


def save_report(engine: Engine, report: dict[str, Any]) -> None:
    """The report's model with the first rows of each list in `run_reports`, the other rows in
    parts of PART_ROWS in `run_report_rows` (streamed: never all in memory)."""
    run_id = report["run"]["id"]
    lists = streamed_lists(report)
    model = _packed(replaced(report, {path: list(rows[:HEAD]) for path, rows in lists}))
    with Session(engine) as session:
        session.execute(delete(RunReportRows).where(col(RunReportRows.run_id) == run_id))
        session.merge(RunReport(run_id=run_id, created_at=utc_now(), report=model))
        link = session.connection()
        for path, rows in lists:
            for part, (count, data) in enumerate(_packed_parts(rows)):
                link.execute(
                    insert(RunReportRows).values(
                        run_id=run_id, list=".".join(path), part=part, rows=count, data=data
                    )
                )
        session.commit()


def _packed_parts(rows: StreamedRows) -> Iterator[tuple[int, bytes]]:
    """A list's rows after its head in parts of PART_ROWS (each row's JSON text, a part is them
    in a list), compressed by PACKERS threads while the next parts are read: zlib lets go of the
    GIL, and a full sync's ~5,000,000 rows are ~2 GB of text to compress."""
    tail = rows.tail_texts()

    def texts() -> Iterator[tuple[int, bytes]]:
        while chunk := list(itertools.islice(tail, PART_ROWS)):
            yield len(chunk), ("[" + ",".join(chunk) + "]").encode("utf-8")

    with ThreadPoolExecutor(PACKERS, thread_name_prefix="report-pack") as pool:
        pending: deque[tuple[int, Future[bytes]]] = deque()
        for count, text in texts():
            pending.append((count, pool.submit(zlib.compress, text, 6)))
            if len(pending) > PACKERS:  # a part for each packer in hand, never the whole list
                count, packed = pending.popleft()
                yield count, packed.result()
        while pending:
            count, packed = pending.popleft()
            yield count, packed.result()


def _saved_rows(engine: Engine, run_id: str, name: str, head: list[dict[str, Any]]) -> Any:
    """A saved list: the model's head, then its parts read back one at a time."""
    with Session(engine) as session:
        rest = session.execute(
            sa_select(func.coalesce(func.sum(col(RunReportRows.rows)), 0)).where(
                col(RunReportRows.run_id) == run_id, col(RunReportRows.list) == name
            )
        ).scalar_one()

    def tail() -> Iterator[dict[str, Any]]:
        part = 0
        while True:
            with Session(engine) as session:
                data = session.execute(
                    sa_select(col(RunReportRows.data)).where(
                        col(RunReportRows.run_id) == run_id,
                        col(RunReportRows.list) == name,
                        col(RunReportRows.part) == part,
                    )
                ).scalar_one_or_none()
            if data is None:
                return
            yield from _unpacked(data)
            part += 1

    return StreamedRows(head, len(head) + int(rest), tail)


def stored_report(engine: Engine, run_id: str | None = None) -> dict[str, Any] | None:
    """A run's report from the store (the newest when `run_id` is None), or None."""
    with Session(engine) as session:
        query = select(RunReport)
        if run_id is None:
            query = query.order_by(col(RunReport.created_at).desc(), col(RunReport.run_id).desc())
        else:
            query = query.where(RunReport.run_id == run_id)
        row = session.exec(query.limit(1)).first()
    if row is None:
        return None
    report: dict[str, Any] = _unpacked(row.report)
    with Session(engine) as session:
        names = session.execute(
            sa_select(col(RunReportRows.list))
            .where(col(RunReportRows.run_id) == row.run_id)
            .distinct()
        ).scalars()
        paths = {tuple(str(name).split(".")) for name in names}
    found = {}
    for path in paths:
        value: Any = report
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, list):
            found[path] = _saved_rows(engine, row.run_id, ".".join(path), value)
    return replaced(report, found) if found else report


def mark_latest(directory: Path, run_id: str) -> None:
    (Path(directory) / "latest.json").write_text(
        json.dumps({"run_id": run_id}) + "\n", encoding="utf-8"
    )


def load_report(
    directory: Path, run_id: str | None = None, engine: Engine | None = None
) -> dict[str, Any]:
    """A run's report (the last run's by default). With the store's `engine`, the store is asked
    first: it holds every run's report even when its files could not be written."""
    base = Path(directory)
    if engine is not None:
        saved = stored_report(engine, run_id)
        if saved is not None:
            return _current(saved, base)
    if run_id is None:
        latest = base / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(
                f"no report yet in {base}: run `handoff sync` (or `handoff sync --dry-run`) first"
            )
        run_id = json.loads(latest.read_text(encoding="utf-8"))["run_id"]
    path = base / str(run_id) / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"no report for run {run_id} in {base}")
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return _current(report, base)


class OutdatedReport(FileNotFoundError):
    """A report saved by an older Handoff, in a format this one does not render."""


def _current(report: dict[str, Any], base: Path) -> dict[str, Any]:
    if report.get("schema") != SCHEMA:
        run_id = report.get("run", {}).get("id", "?")
        raise OutdatedReport(
            f"the report of run {run_id} is in {report.get('schema') or 'an unknown format'}, "
            f"written by an older Handoff: its files in {base / str(run_id)} are as written then; "
            f"`handoff sync` writes a {SCHEMA} report"
        )
    return report


def render_saved(report: dict[str, Any], directory: Path, formats: list[str]) -> dict[str, Path]:
    """Write a saved report's files again (ReportNotWritten when the directory cannot take them)."""
    run_id = report["run"]["id"]
    folder = Path(directory) / run_id
    try:
        written = write_reports(report, folder, sorted(set(formats) | {"json"}))
    except OSError as exc:
        raise ReportNotWritten(run_id, folder, exc) from None
    return {fmt: path for fmt, path in written.items() if fmt in formats}
