"""The pipeline end to end on the in-memory CRM: decisions, writes, dry run, idempotence."""

from __future__ import annotations

from pipeline_harness import NOW, make_config, make_crm, seed_people
from sqlmodel import Session, select

from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem, PersonState


def _pipeline(url: str, crm=None):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    crm = crm or make_crm()
    return Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: NOW), crm, engine


def test_live_run_writes_scores_stage_and_owner(store_url: str) -> None:
    pipeline, crm, _ = _pipeline(store_url)
    seed_people(crm)
    result = pipeline.run()
    assert not result.errors, result.errors
    vp = crm.contact("c1")
    assert vp is not None
    assert vp.fields["owner_id"] in ("o1", "o2")  # fast lane: routed in the territory at once
    assert float(vp.fields["score"]) > 0
    assert "Demo" in str(vp.fields["score_reasons"]) or vp.fields["score_reasons"]
    student = crm.contact("c3")
    assert student is not None and student.fields.get("lifecycle_stage") == "lead"
    assert "owner_id" not in student.fields  # neither MQL nor fast lane: not routed


def test_second_run_writes_nothing(store_url: str) -> None:
    pipeline, crm, _ = _pipeline(store_url)
    seed_people(crm)
    first = pipeline.run()
    assert first.writes.items
    second = pipeline.run()
    assert second.planned == []
    assert second.writes.items == []


def test_dry_run_plans_exactly_what_the_live_run_applies(store_url: str) -> None:
    pipeline, crm, engine = _pipeline(store_url)
    seed_people(crm)
    dry = pipeline.run(dry_run=True)
    assert all(v in (None, "") or k != "score" for k, v in (crm.contact("c1").fields.items()))  # type: ignore[union-attr]
    with Session(engine) as session:
        assert session.exec(select(OutboxItem)).all() == []
        assert session.exec(select(PersonState)).all() == []
    live = pipeline.run()
    planned = sorted((i.key, i.field, i.value) for i in dry.writes.items)
    applied = sorted((i.key, i.field, i.value) for i in live.writes.items)
    assert planned and planned == applied


def test_a_lead_from_an_owned_account_goes_to_the_account_owner(sqlite_url: str) -> None:
    """The majority-of-colleagues guess, opted in (this CRM names no account owner)."""
    _, crm, engine = _pipeline(sqlite_url)
    config = make_config()
    config = config.model_copy(
        update={"routing": config.routing.model_copy(update={"account_owner_from_contacts": True})}
    )
    pipeline = Pipeline(config, engine, {"crm": crm}, clock=lambda: NOW)
    seed_people(crm)
    crm.put_contact(  # a colleague at BigCo that Mia already owns
        "c9",
        {
            "email": "cfo@bigco.com",
            "company_domain": "bigco.com",
            "owner_id": "o3",
            "country": "US",
        },
        modified_at=NOW,
    )
    result = pipeline.run()
    vp = crm.contact("c1")
    assert vp is not None and vp.fields["owner_id"] == "o3"  # mia@acme.test
    rules = {a["person"]: a["rule"] for a in result.tally.assignments}
    assert rules["email:vp@bigco.com"] == "account_owner"
    reasons = {a["person"]: a["reason"] for a in result.tally.assignments}
    assert "bigco.com (the owner most of its people have)" in reasons["email:vp@bigco.com"]


def test_colleagues_owners_are_no_account_owner_unless_opted_in(sqlite_url: str) -> None:
    pipeline, crm, _ = _pipeline(sqlite_url)
    seed_people(crm)
    crm.put_contact(
        "c9",
        {"email": "cfo@bigco.com", "company_domain": "bigco.com", "owner_id": "o3"},
        modified_at=NOW,
    )
    result = pipeline.run()
    rules = {a["person"]: a["rule"] for a in result.tally.assignments}
    assert rules["email:vp@bigco.com"] == "round_robin"
