"""The report's change rows made as the run's writes land (sync/report/early_rows.py) against
the control: the same run's report with every row made at its end, as before. Both CRMs through
the sandbox; who each row names is read back through hubspot-api-client and simple-salesforce."""

from __future__ import annotations

from pathlib import Path

from crm_clients import HubSpotClient, SalesforceClient
from e2e_stack import Stack
from sqlmodel import Session

from sync.report.build import build_report
from sync.report.early_rows import EarlyRows
from sync.report.render import write_reports

FORMATS = ["csv", "json", "md", "html"]


def _files(stack: Stack, result: object, folder: Path) -> dict[str, str]:
    pipeline = stack.pipeline()
    with Session(stack.engine) as session:
        report = build_report(result, session, pipeline.config, pipeline.sla)  # type: ignore[arg-type]
    written = write_reports(report, folder, FORMATS)
    return {fmt: path.read_text(encoding="utf-8") for fmt, path in written.items()}


def test_rows_made_as_writes_land_are_the_rows_made_at_the_end(both_stack: Stack) -> None:
    result = both_stack.pipeline().run()
    early = result.ledger.early
    assert isinstance(early, EarlyRows)
    written = len(result.writes.items)
    assert written > 100, "the seeded portals get stage, score and owner writes"
    assert early.made == written, "every written change's record was named as it was decided"
    made = _files(both_stack, result, both_stack.directory / "made")
    result.ledger.early = None  # the control: every row made at the report, as before
    control = _files(both_stack, result, both_stack.directory / "control")
    for fmt in FORMATS:
        assert made[fmt] == control[fmt], fmt
    assert made["json"].count('"handoff_value"') > 500  # rows past the page's head too


def test_each_row_names_its_record_as_the_crm_holds_it(both_stack: Stack) -> None:
    result = both_stack.pipeline().run()
    with Session(both_stack.engine) as session:
        pipeline = both_stack.pipeline()
        report = build_report(result, session, pipeline.config, pipeline.sla)
    hubspot = HubSpotClient(both_stack.sandbox, both_stack.config)
    salesforce = SalesforceClient(both_stack.sandbox, both_stack.config)
    checked = {"hubspot": 0, "salesforce": 0}
    seen: set[tuple[str, str]] = set()
    for row in report["reconciliation"]:
        record = (row["connection"], row["record"])
        if row["change"] != "update" or record in seen or checked[row["connection"]] >= 8:
            continue
        seen.add(record)
        if row["connection"] == "hubspot":
            held = hubspot.api.crm.contacts.basic_api.get_by_id(
                row["record"], properties=["email", "firstname", "lastname", "company"]
            ).properties
            email, first, last = held.get("email"), held.get("firstname"), held.get("lastname")
        else:
            held = salesforce.api.__getattr__(row["object"].capitalize()).get(row["record"])
            email, first, last = held["Email"], held["FirstName"], held["LastName"]
        assert row["email"] == (email or None), row
        assert row["name"] == (" ".join(p for p in (first, last) if p) or None), row
        checked[row["connection"]] += 1
    assert checked == {"hubspot": 8, "salesforce": 8}
