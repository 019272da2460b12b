"""First-run safety: `handoff run` on a store that never ran live does a dry run and stops there.

Until someone has read what the first run would write and said so (`handoff run --confirm`, or
`sync.first_run: live` in the config), the worker writes nothing to the CRMs.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sync.store.tables import RunRecord


def never_ran_live(engine: Engine) -> bool:
    """No live run (any outcome) was ever recorded in this store."""
    with Session(engine) as session:
        return (
            session.exec(
                select(RunRecord.id).where(col(RunRecord.dry_run).is_(False)).limit(1)
            ).first()
            is None
        )


def first_run_message(report: Path, config_path: str) -> str:
    return (
        "first run on this store: this was a dry run, nothing was written to the CRMs.\n"
        f"  read what it would write: {report}  (or `handoff report`)\n"
        f"  then start writing:       handoff run --confirm -c {config_path}\n"
        "  (or set sync.first_run: live in the config to skip this check)"
    )
