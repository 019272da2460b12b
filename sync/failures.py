"""Failures of the environment a command meets (the store, the reports directory), as one clear
message and an exit code of their own, never a traceback (`config.cli.main` asks here).

Exit codes of `handoff`: 0 done; 1 a partial run (a connection stopped, writes refused: the report
says why, the next run resumes); 2 bad input or an unusable store (config, state.url, a damaged or
full store: the message names the file and the fix); 3 the run's CRM writes are applied and
recorded but its report could not be written (`handoff report` writes it again).
"""

from __future__ import annotations

from pathlib import Path

EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2
EXIT_REPORT_NOT_WRITTEN = 3


class ReportNotWritten(Exception):
    """A run's report files could not be written; the run itself is complete and recorded."""

    def __init__(self, run_id: str, directory: Path, error: OSError) -> None:
        reason = error.strerror or str(error)
        where = error.filename or directory
        super().__init__(
            f"run {run_id}: its changes are applied and recorded in the state store, but its "
            f"report could not be written to {where} ({reason}). Free space there (or fix "
            f"reports.directory), then run `handoff report --run {run_id}` to write it again."
        )
        self.run_id = run_id


def explain(exc: BaseException) -> tuple[str, int] | None:
    """(message, exit code) for a failure of the environment; None for anything else (a bug)."""
    if isinstance(exc, ReportNotWritten):
        return str(exc), EXIT_REPORT_NOT_WRITTEN
    from connectors.spill import ScratchUnwritable
    from sync.ledger import LedgerUnwritable

    if isinstance(exc, LedgerUnwritable | ScratchUnwritable):
        return str(exc), EXIT_BAD_INPUT
    from sync.store.health import last_store_url, store_failure

    message = store_failure(exc, last_store_url())
    if message is not None:
        return message, EXIT_BAD_INPUT
    return None
