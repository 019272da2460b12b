"""What the CRM shows, read through the CRM's own client library (hubspot-api-client,
simple-salesforce) over HTTPS, and the human edits a scenario makes in the CRM before a run.

Stages come back in the domain's words through the connection's own mapping (`values`): a CRM
value that several canonical stages share (HubSpot keeps MQL and SAL both as
`marketingqualifiedlead`) reads as any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import requests
from hubspot import HubSpot
from scenario_format import ActivityEdit
from simple_salesforce import Salesforce

from sandbox.portal import PortalActivity
from sandbox.runtime import Sandbox


@dataclass(frozen=True)
class TaskView:
    owner: str | None  # the owner's email
    subject: str
    body: str
    due: date | None


@dataclass(frozen=True)
class PersonView:
    stage_value: str
    stages: frozenset[str]
    owner: str | None  # the owner's email
    reasons: str
    tasks: list[TaskView] = field(default_factory=list)
    fit: float | None = None
    behaviour: float | None = None


class CrmReader(Protocol):
    def person(self, person_id: str) -> PersonView: ...
    def edit(self, person_id: str, fields: dict[str, str]) -> None: ...
    def log_activity(self, person_id: str, log: ActivityEdit, at: datetime) -> None: ...


_READ = ("lifecycle_stage", "owner_id", "score_reasons", "score_fit", "score_behaviour")


def _number(mapping: dict[str, Any], props: dict[str, Any], canonical: str) -> float | None:
    spec = mapping.get(canonical)
    raw = props.get(spec["property"]) if spec else None
    return None if raw in (None, "") else float(raw)


def _mapping(config: dict[str, Any], object_type: str) -> dict[str, Any]:
    objects: dict[str, Any] = config["connections"][0]["objects"]
    mapping: dict[str, Any] = objects.get(object_type) or {}
    return mapping


def _stages(mapping: dict[str, Any], value: str) -> frozenset[str]:
    values: dict[str, str] = (mapping.get("lifecycle_stage") or {}).get("values") or {}
    return frozenset(stage for stage, crm_value in values.items() if crm_value == value)


def _crm_value(mapping: dict[str, Any], canonical: str, value: str) -> tuple[str, str]:
    spec = mapping.get(canonical)
    if spec is None:
        raise KeyError(f"the connection maps no field {canonical!r}: add it to the scenario config")
    values: dict[str, str] = spec.get("values") or {}
    return str(spec["property"]), values.get(value, value)


class HubSpotReader:
    def __init__(
        self, sandbox: Sandbox, config: dict[str, Any], emails: dict[str, str], team: dict[str, str]
    ) -> None:
        info = sandbox.info
        assert sandbox.hubspot is not None and info.hubspot_base_url and info.hubspot_token
        self.emulator = sandbox.hubspot
        self.client = HubSpot(
            access_token=info.hubspot_token,
            host=info.hubspot_base_url,
            ssl_ca_cert=str(info.ca_file),
        )
        self.mapping = _mapping(config, "contact")
        self.emails, self.team = emails, team

    def _owners(self) -> dict[str, str]:
        api = self.client.crm.owners.owners_api
        found: dict[str, str] = {}
        for archived in (False, True):
            for owner in api.get_page(limit=500, archived=archived).results:
                found[str(owner.id)] = owner.email
        return found

    def _owner_id(self, handle: str) -> str:
        email = self.team[handle]
        return next(i for i, e in self._owners().items() if e == email)

    def _contact(self, person_id: str, associations: list[str] | None = None) -> Any:
        names = [str(self.mapping[k]["property"]) for k in _READ if k in self.mapping]
        return self.client.crm.contacts.basic_api.get_by_id(
            self.emails[person_id],
            id_property="email",
            properties=names,
            associations=associations,
        )

    def person(self, person_id: str) -> PersonView:
        contact = self._contact(person_id, ["tasks"])
        props = contact.properties
        value = props.get(self.mapping["lifecycle_stage"]["property"]) or ""
        owners = self._owners()
        owner_id = props.get(self.mapping["owner_id"]["property"])
        tasks: list[TaskView] = []
        links = (contact.associations or {}).get("tasks")
        for link in links.results if links else []:
            task = self.client.crm.objects.tasks.basic_api.get_by_id(
                link.id,
                properties=[
                    "hs_task_subject",
                    "hs_task_body",
                    "hubspot_owner_id",
                    "hs_timestamp",
                    "handoff_task_key",
                ],
            ).properties
            if not task.get("handoff_task_key"):
                continue  # a rep's own task, not Handoff's
            stamp = task.get("hs_timestamp")
            tasks.append(
                TaskView(
                    owners.get(task.get("hubspot_owner_id") or ""),
                    task.get("hs_task_subject") or "",
                    task.get("hs_task_body") or "",
                    datetime.fromisoformat(stamp.replace("Z", "+00:00")).date() if stamp else None,
                )
            )
        return PersonView(
            value,
            _stages(self.mapping, value),
            owners.get(owner_id or ""),
            props.get(self.mapping["score_reasons"]["property"]) or "",
            tasks,
            _number(self.mapping, props, "score_fit"),
            _number(self.mapping, props, "score_behaviour"),
        )

    def edit(self, person_id: str, fields: dict[str, str]) -> None:
        contact_id = self._contact(person_id).id
        changes: dict[str, str] = {}
        for canonical, value in fields.items():
            if canonical == "owner_id":
                changes[self.mapping["owner_id"]["property"]] = self._owner_id(value)
                continue
            name, crm_value = _crm_value(self.mapping, canonical, value)
            changes[name] = crm_value
        self.emulator.update_contact(contact_id, changes)  # a human edit in the HubSpot UI

    def log_activity(self, person_id: str, log: ActivityEdit, at: datetime) -> None:
        contact_id = self._contact(person_id).id
        owner = self._owner_id(log.owner) if log.owner else None
        self.emulator.add_activity(
            contact_id, log.kind, at, properties=dict(log.properties), owner_id=owner
        )


class SalesforceReader:
    def __init__(
        self, sandbox: Sandbox, config: dict[str, Any], emails: dict[str, str], team: dict[str, str]
    ) -> None:
        info = sandbox.info
        assert sandbox.salesforce is not None and info.salesforce_instance_url
        self.emulator = sandbox.salesforce
        session = requests.Session()
        session.trust_env = False  # the environment's CA bundle must not replace the sandbox's
        session.verify = str(info.ca_file)
        self.client: Any = Salesforce(
            instance_url=info.salesforce_instance_url,
            session_id=info.salesforce_session_id,
            session=session,
        )
        self.config, self.emails, self.team = config, emails, team

    def _owners(self) -> dict[str, str]:
        """Users who are people; a record owned by the integration user has no rep yet."""
        rows = self.client.query_all("SELECT Id, Email, UserType FROM User")["records"]
        return {row["Id"]: row["Email"] for row in rows if row["UserType"] != "AutomatedProcess"}

    def _owner_id(self, handle: str) -> str:
        email = self.team[handle]
        return next(i for i, e in self._owners().items() if e == email)

    def _record(self, person_id: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        email = self.emails[person_id].replace("'", "\\'")
        for sobject in ("Lead", "Contact"):
            mapping = _mapping(self.config, sobject.lower())
            names = {"Id"} | {str(mapping[k]["property"]) for k in _READ if k in mapping}
            soql = f"SELECT {', '.join(sorted(names))} FROM {sobject} WHERE Email = '{email}'"
            rows = self.client.query(soql)["records"]
            if rows:
                return sobject, mapping, rows[0]
        raise KeyError(f"no Lead or Contact with the email of {person_id}")

    def person(self, person_id: str) -> PersonView:
        _, mapping, row = self._record(person_id)
        owners = self._owners()
        stage_spec = mapping.get("lifecycle_stage")
        value = str(row.get(stage_spec["property"]) or "") if stage_spec else ""
        soql = (
            "SELECT Subject, Description, OwnerId, ActivityDate, Handoff_Task_Key__c "
            f"FROM Task WHERE WhoId = '{row['Id']}'"
        )
        tasks = [
            TaskView(
                owners.get(task["OwnerId"]),
                task.get("Subject") or "",
                task.get("Description") or "",
                date.fromisoformat(task["ActivityDate"]) if task.get("ActivityDate") else None,
            )
            for task in self.client.query_all(soql)["records"]
            if task.get("Handoff_Task_Key__c")
        ]
        reasons = mapping.get("score_reasons")
        return PersonView(
            value,
            _stages(mapping, value),
            owners.get(row.get(mapping["owner_id"]["property"]) or ""),
            str(row.get(reasons["property"]) or "") if reasons else "",
            tasks,
            _number(mapping, row, "score_fit"),
            _number(mapping, row, "score_behaviour"),
        )

    def edit(self, person_id: str, fields: dict[str, str]) -> None:
        _, mapping, row = self._record(person_id)
        changes: dict[str, Any] = {}
        for canonical, value in fields.items():
            if canonical == "owner_id":
                changes[mapping["owner_id"]["property"]] = self._owner_id(value)
                continue
            name, crm_value = _crm_value(mapping, canonical, value)
            changes[name] = crm_value
        self.emulator.update_record(row["Id"], **changes)  # a human edit in Salesforce

    def log_activity(self, person_id: str, log: ActivityEdit, at: datetime) -> None:
        _, _, row = self._record(person_id)
        owner = self._owner_id(log.owner) if log.owner else None
        subject = log.properties.get("subject") or log.kind.title()
        if log.kind in ("call", "email"):
            self.emulator.add_activity(
                "Task",
                WhoId=row["Id"],
                OwnerId=owner,
                Subject=subject,
                Status="Completed",
                TaskSubtype=log.kind.title(),
                ActivityDate=at.date(),
            )
        elif log.kind == "meeting":
            self.emulator.add_activity(
                "Event",
                WhoId=row["Id"],
                OwnerId=owner,
                Subject=subject,
                StartDateTime=at,
                EndDateTime=at,
                DurationInMinutes=0,
            )
        elif log.kind in ("page_view", "form_submission", "email_open", "email_click"):
            # web behaviour lives in Account Engagement: a visitor activity of the prospect
            self.emulator.pardot.add_activity(
                PortalActivity("", person_id, log.kind, at, None, dict(log.properties))
            )
        else:
            raise NotImplementedError(f"logging a {log.kind} in Salesforce is not supported yet")
