"""Activities: Task/Event touches and CampaignMember signals mapped by config."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses
from sf_fixtures import API, connection, make_connector, page, soql_of

from connectors.errors import FatalError
from connectors.records import ActivityKind, Actor, Contact

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def person(ident: str, object_type: str = "lead") -> Contact:
    return Contact(connection="sfdc", object_type=object_type, id=ident, modified_at=T0)


def _route(mocked: responses.RequestsMock, by_object: dict[str, list[dict[str, object]]]) -> None:
    def answer(request: object) -> tuple[int, dict[str, str], str]:
        import json
        from urllib.parse import parse_qs, urlsplit

        soql = parse_qs(urlsplit(request.url).query)["q"][0]  # type: ignore[attr-defined]
        name = soql.split(" FROM ")[1].split()[0]
        return 200, {}, json.dumps(page(by_object.get(name, [])))

    mocked.add_callback(responses.GET, f"{API}/query/", callback=answer)


def test_tasks_events_and_campaign_members_map_to_kinds_and_actors(
    mocked: responses.RequestsMock,
) -> None:
    _route(
        mocked,
        {
            "Task": [
                {
                    "Id": "00T1",
                    "WhoId": "00QA",
                    "OwnerId": "005R",
                    "Subject": "Call",
                    "TaskSubtype": "Call",
                    "CreatedDate": "2026-03-02T10:00:00.000+0000",
                },
                {
                    "Id": "00T2",
                    "WhoId": "00QA",
                    "OwnerId": "005R",
                    "Subject": "Todo",
                    "TaskSubtype": "Task",
                    "CreatedDate": "2026-03-02T11:00:00.000+0000",
                },
            ],
            "Event": [
                {
                    "Id": "00U1",
                    "WhoId": "003C",
                    "OwnerId": "005R",
                    "Subject": "Demo",
                    "StartDateTime": "2026-03-03T09:00:00.000+0000",
                }
            ],
            "CampaignMember": [
                {
                    "Id": "00v1",
                    "LeadId": "00QA",
                    "ContactId": None,
                    "CampaignId": "701W",
                    "Status": "Attended",
                    "CreatedDate": "2026-03-01T08:00:00.000+0000",
                },
                {
                    "Id": "00v2",
                    "LeadId": None,
                    "ContactId": "003C",
                    "CampaignId": "701W",
                    "Status": "Registered",
                    "CreatedDate": "2026-03-01T07:00:00.000+0000",
                },
            ],
        },
    )
    connector = make_connector()
    found = {
        a.id: a for a in connector.pull_activities([person("00QA"), person("003C", "contact")], T0)
    }
    assert set(found) == {"00T1", "00U1", "00v1", "00v2"}  # the plain to-do matches no mapping
    assert (found["00T1"].kind, found["00T1"].actor, found["00T1"].owner_id) == (
        ActivityKind.CALL,
        Actor.REP,
        "005R",
    )
    assert found["00T1"].channel == "phone"
    assert found["00U1"].kind is ActivityKind.MEETING and found["00U1"].contact_id == "003C"
    assert found["00v1"].kind is ActivityKind.WEBINAR_ATTENDED
    assert found["00v1"].actor is Actor.CONTACT and found["00v1"].owner_id is None
    assert found["00v2"].kind is ActivityKind.WEBINAR_REGISTERED
    assert found["00v2"].contact_id == "003C"
    queries = [soql_of(c) for c in mocked.calls]
    task_query = next(q for q in queries if " FROM Task " in q)
    assert "WhoId IN ('00QA', '003C')" in task_query
    assert "TaskSubtype" in task_query
    assert "CreatedDate >= 2026-03-01T00:00:00.000Z" in task_query
    member_query = next(q for q in queries if " FROM CampaignMember " in q)
    assert "LeadId IN ('00QA')" in member_query
    assert "ContactId IN ('003C')" in member_query


def test_the_in_list_is_chunked(mocked: responses.RequestsMock) -> None:
    _route(mocked, {})
    people = [person(f"00Q{n:05d}") for n in range(450)]
    list(make_connector().pull_activities(people, None))
    task_queries = [soql_of(c) for c in mocked.calls if " FROM Task " in soql_of(c)]
    assert len(task_queries) == 3  # 200 + 200 + 50 ids
    assert all(len(q) < 6000 for q in task_queries)
    assert all(">=" not in q for q in task_queries)  # since=None: everything


def test_a_hubspot_source_in_a_salesforce_connection_is_a_clear_config_error() -> None:
    conn = connection(activities=[{"source": "calls", "kind": "call"}])
    with pytest.raises(FatalError, match=r"activities\[0\]\.source 'calls'.*Task"):
        make_connector(conn)


def test_an_unknown_when_field_names_the_config_place(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{API}/query/",
        status=400,
        json=[{"errorCode": "INVALID_FIELD", "message": "No such column 'Kind__c' on Task"}],
    )
    with pytest.raises(FatalError, match=r"activities\[\]\.when") as info:
        list(make_connector().pull_activities([person("00QA")], None))
    assert "Kind__c" in str(info.value)
