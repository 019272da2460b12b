"""The both-CRMs example through the real clients and the sandbox: the report tells no false drift
(HubSpot's one `marketingqualifiedlead` holds both mql and sal), raises no flag for the ordinary
lead statuses of a rep's work (NEW, CONNECTED ...), and links every row to its record."""

from __future__ import annotations

from datetime import timedelta

from e2e_stack import Stack
from sqlmodel import Session, select

from sync.report.build import build_report
from sync.store.tables import PersonRecord

WORKING = {"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "ATTEMPTED_TO_CONTACT", "CONNECTED"}


def test_no_false_drift_no_false_flags_and_rows_link_to_records(both_stack: Stack) -> None:
    pipeline = both_stack.pipeline()
    first = pipeline.run()
    with Session(both_stack.engine) as session:
        statuses = [
            r.fields.get("rejection_reason")
            for r in session.exec(select(PersonRecord).where(PersonRecord.connection == "hubspot"))
        ]
        report = build_report(first, session, pipeline.config, pipeline.sla)
    assert WORKING & set(statuses), "the seeded portal has leads being worked"
    assert "UNQUALIFIED" not in statuses, "HubSpot's Unqualified reads as the not_icp code"
    stage_writes = report["counts"]["stage_writes"]["hubspot"]
    assert "mql->sal" not in stage_writes, "sal is marketingqualifiedlead there already"
    later = pipeline.run(as_of=first.as_of + timedelta(days=1))  # everyone decided again
    with Session(both_stack.engine) as session:
        again = build_report(later, session, pipeline.config, pipeline.sla)
    for run in (report, again):
        assert not [d for d in run["drift"] if d["field"] == "lifecycle_stage"], run["drift"][:3]
        invalid = [f for f in run["flags"] if f["flag"] == "invalid_rejection_code"]
        assert not [f for f in invalid if any(s in f["detail"] for s in WORKING)], invalid[:3]
    info = both_stack.sandbox.info
    prefixes = {
        "hubspot": f"https://app.hubspot.com/contacts/{info.hubspot_portal_id}/record/0-1/",
        "salesforce": f"{info.salesforce_instance_url}/lightning/r/",
    }
    rows = [r for r in report["reconciliation"] if r["change"] == "update"]
    assert {r["connection"] for r in rows} == set(prefixes)
    for row in rows:
        assert row["link"].startswith(prefixes[row["connection"]]), row
        assert row["link"].endswith(
            f"/{row['record']}" + ("/view" if row["connection"] == "salesforce" else "")
        )
        assert row["email"], row
