"""One person's record as the CRM shows it, read and edited through the CRM's own client library
(hubspot-api-client, simple-salesforce) over HTTPS, with the property names from the config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from simple_salesforce import Salesforce

from config.model import HandoffConfig
from sandbox.runtime import Sandbox

READ = ("score", "score_reasons", "owner_id", "lifecycle_stage", "unsubscribed")


@dataclass(frozen=True)
class CrmPerson:
    record_id: str
    score: float | None
    reasons: str
    owner: str | None  # the owner's email
    stage: str  # the CRM's own value
    tasks: list[tuple[str | None, str]] = field(default_factory=list)  # (owner email, subject)


def _props(config: HandoffConfig, object_type: str) -> dict[str, str]:
    mapping = config.connections[0].objects[object_type]
    return {k: mapping[k].property for k in READ if k in mapping}


def _number(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


class HubSpotClient:
    def __init__(self, sandbox: Sandbox, config: HandoffConfig) -> None:
        info = sandbox.info
        self.api = HubSpot(
            access_token=info.hubspot_token,
            host=info.hubspot_base_url,
            ssl_ca_cert=str(info.ca_file),
        )
        self.config = config

    def owners(self) -> dict[str, str]:
        api = self.api.crm.owners.owners_api
        return {
            str(o.id): o.email
            for archived in (False, True)
            for o in api.get_page(limit=500, archived=archived).results
        }

    def person(self, object_type: str, record_id: str) -> CrmPerson:
        props = _props(self.config, object_type)
        contact = self.api.crm.contacts.basic_api.get_by_id(
            record_id, properties=list(props.values()), associations=["tasks"]
        )
        values = contact.properties
        owners = self.owners()
        tasks = []
        links = (contact.associations or {}).get("tasks")
        for link in links.results if links else []:
            task = self.api.crm.objects.tasks.basic_api.get_by_id(
                link.id, properties=["hs_task_subject", "hubspot_owner_id", "handoff_task_key"]
            ).properties
            if task.get("handoff_task_key"):
                tasks.append(
                    (owners.get(task.get("hubspot_owner_id") or ""), task["hs_task_subject"])
                )
        return CrmPerson(
            record_id,
            _number(values.get(props["score"])),
            values.get(props["score_reasons"]) or "",
            owners.get(values.get(props["owner_id"]) or ""),
            values.get(props["lifecycle_stage"]) or "",
            tasks,
        )

    def edit(self, object_type: str, record_id: str, canonical: dict[str, Any]) -> None:
        props = _props(self.config, object_type)
        changes = {
            props[k]: str(v).lower() if isinstance(v, bool) else v for k, v in canonical.items()
        }
        self.api.crm.contacts.basic_api.update(
            record_id, SimplePublicObjectInput(properties=changes)
        )


class SalesforceClient:
    def __init__(self, sandbox: Sandbox, config: HandoffConfig) -> None:
        info = sandbox.info
        session = requests.Session()
        session.trust_env = False  # the environment's CA bundle must not replace the sandbox's
        session.verify = str(info.ca_file)
        self.api: Any = Salesforce(
            instance_url=info.salesforce_instance_url,
            session_id=info.salesforce_session_id,
            session=session,
        )
        self.config = config

    def owners(self) -> dict[str, str]:
        rows = self.api.query_all("SELECT Id, Email FROM User")["records"]
        return {row["Id"]: row["Email"] for row in rows}

    def person(self, object_type: str, record_id: str) -> CrmPerson:
        props = _props(self.config, object_type)
        sobject = object_type.title()
        names = ", ".join(sorted({"Id", *props.values()}))
        row = self.api.query(f"SELECT {names} FROM {sobject} WHERE Id = '{record_id}'")["records"][
            0
        ]
        owners = self.owners()
        tasks = [
            (owners.get(t["OwnerId"]), t["Subject"])
            for t in self.api.query_all(
                f"SELECT Subject, OwnerId, Handoff_Task_Key__c FROM Task WHERE WhoId = '{record_id}'"
            )["records"]
            if t.get("Handoff_Task_Key__c")
        ]
        stage = props.get("lifecycle_stage")
        return CrmPerson(
            record_id,
            _number(row.get(props["score"])),
            row.get(props["score_reasons"]) or "",
            owners.get(row.get(props["owner_id"]) or ""),
            str(row.get(stage) or "") if stage else "",
            tasks,
        )

    def edit(self, object_type: str, record_id: str, canonical: dict[str, Any]) -> None:
        props = _props(self.config, object_type)
        getattr(self.api, object_type.title()).update(
            record_id, {props[k]: v for k, v in canonical.items()}
        )


def crm_client(
    crm: str, sandbox: Sandbox, config: HandoffConfig
) -> HubSpotClient | SalesforceClient:
    return HubSpotClient(sandbox, config) if crm == "hubspot" else SalesforceClient(sandbox, config)
