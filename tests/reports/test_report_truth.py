"""What the report says happened is what was written: escalations, stage moves, owners."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.reports.report_runs import NOW, Bench


def test_an_escalation_whose_owner_write_is_refused_is_no_reassignment(tmp_path: Path) -> None:
    """Bob got the VP's fast-lane lead; then a person gave the record to Ana in the CRM. When
    Bob's hour lapses, the ladder picks the backup (Mia), but the owner field is the person's
    now (crm_wins): nothing may say the lead was reassigned, and the CRM keeps Ana."""
    bench = Bench(f"sqlite:///{tmp_path / 'h.db'}")
    first = bench.run()
    assert {
        (r["record"], r["handoff_value"])
        for r in first["reconciliation"]
        if r["field"] == "owner_id"
    } == {("c1", "o2"), ("c2", "o1")}
    vera = bench.crm.contact("c1")
    assert vera is not None
    bench.crm.put_contact(
        "c1", {**vera.fields, "owner_id": "o1"}, modified_at=NOW + timedelta(minutes=30)
    )
    later = bench.run(at=NOW + timedelta(hours=3))
    owner_rows = [r for r in later["reconciliation"] if r["field"] == "owner_id"]
    assert owner_rows == []
    assert "escalation" not in later["counts"]["routed"]
    assert all(r["rule"] != "escalation" for r in later["assignments"]["decisions"])
    # Mia (the backup, no rep of the rotation) is nowhere: not this run, not the 30 days' ledger
    assert "mia@acme.test" not in {r["rep"] for r in later["assignments"]["per_rep"]}
    flags = [f for f in later["flags"] if f["flag"] == "reassign_not_written"]
    assert [(f["person"], f["name"]) for f in flags] == [("email:vp@bigco.com", "Vera")]
    assert "crm_wins" in flags[0]["detail"] and "mia@acme.test" in flags[0]["detail"]
    assert bench.crm.contact("c1").fields["owner_id"] == "o1"  # type: ignore[union-attr]


def test_stage_counts_match_the_rows(tmp_path: Path) -> None:
    report = Bench(f"sqlite:///{tmp_path / 'h.db'}").run()
    rows = [r for r in report["reconciliation"] if r["field"] == "lifecycle_stage"]
    written = sum(sum(moves.values()) for moves in report["counts"]["stage_writes"].values())
    assert written == len(rows) == report["counts"]["by_field"]["lifecycle_stage"] == 2
    assert sum(report["counts"]["by_status"].values()) == len(report["reconciliation"])
    assert report["counts"]["writes"] == report["counts"]["by_status"] == {"applied": 16}


def test_a_routed_owner_no_crm_takes_is_flagged_not_silent(tmp_path: Path) -> None:
    """The same people, but the owner field is not Handoff's to write: routing still picks a
    rep, nothing is written, and the report says so for each person (the lead reaches nobody
    otherwise, and nothing would tell)."""
    bench = Bench(f"sqlite:///{tmp_path / 'h.db'}")
    unmanaged = bench.config.model_copy(deep=True)
    objects = unmanaged.connections[0].objects["contact"]
    objects["owner_id"] = objects["owner_id"].model_copy(update={"managed": False})
    bench.config = unmanaged
    bench.pipeline = type(bench.pipeline)(unmanaged, bench.engine, {"crm": bench.crm})
    report = bench.run()
    assert [r for r in report["reconciliation"] if r["field"] == "owner_id"] == []
    flags = [f for f in report["flags"] if f["flag"] == "route_not_written"]
    assert {f["person"] for f in flags} == {"email:vp@bigco.com", "email:dir@midco.com"}
    assert all("owner_id is not managed on crm contact" in f["detail"] for f in flags)
