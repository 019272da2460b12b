"""Present a neutral `Portal` as Salesforce records.

PortalOwner -> User; PortalCompany -> Account; PortalPerson kind "lead" -> Lead, kind "contact" ->
Contact (AccountId); rep calls/emails -> completed Task (TaskSubtype Call/Email), meetings -> Event;
webinar registered/attended -> CampaignMember (Status Registered/Attended) on a Webinar campaign;
form submissions -> CampaignMember with Status "Responded" on a Web campaign named after the form
("Demo Request", "Contact Sales", ...), one membership per person and campaign as Salesforce allows;
PortalTask -> open Task. Salesforce has no native object for page views, email opens/clicks, trial
milestones or notes, so the org skips them: page views, form fills and email opens/clicks are
served as Account Engagement (Pardot) visitor activities by `sandbox.salesforce.pardot`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.portal import Portal, PortalActivity, PortalPerson
from sandbox.salesforce.ids import derived_id
from sandbox.salesforce.org import SalesforceOrg, utc_ms
from sandbox.salesforce.predicates import Record
from sandbox.salesforce.schema import custom_field

# Canonical lifecycle stage -> Lead Status (default picklist of this sandbox).
STAGE_STATUS = {
    "subscriber": "Open - Not Contacted",
    "lead": "Open - Not Contacted",
    "mql": "MQL",
    "sal": "Working - Contacted",
    "sql": "SQL",
    "opportunity": "Closed - Converted",
    "customer": "Closed - Converted",
    "recycled": "Nurture",
    "disqualified": "Disqualified",
}
# HubSpot-style hs_lead_status values a portal may carry -> Lead Status.
LEAD_STATUS = {
    "NEW": "Open - Not Contacted",
    "OPEN": "Open - Not Contacted",
    "ATTEMPTED_TO_CONTACT": "Working - Contacted",
    "IN_PROGRESS": "Working - Contacted",
    "CONNECTED": "Working - Contacted",
    "OPEN_DEAL": "SQL",
    "BAD_TIMING": "Nurture",
    "UNQUALIFIED": "Disqualified",
}
TASK_STATUS = {
    "NOT_STARTED": "Not Started",
    "IN_PROGRESS": "In Progress",
    "WAITING": "Waiting on someone else",
    "DEFERRED": "Deferred",
    "COMPLETED": "Completed",
}
# A custom Campaign field with the funnel stage (top/middle/bottom) of the campaign's asset, as
# orgs commonly add; fixtures' `asset_stage` on a form or webinar fills it.
FUNNEL_STAGE_FIELD = "Funnel_Stage__c"
SKIPPED_KINDS = frozenset({"page_view", "email_open", "email_click", "trial_milestone", "note"})


def lead_status(person: PortalPerson, picklist: tuple[str, ...]) -> str:
    if person.lead_status in picklist:
        return person.lead_status
    mapped = LEAD_STATUS.get(person.lead_status.upper()) or STAGE_STATUS.get(
        person.lifecycle_stage, "Open - Not Contacted"
    )
    return mapped if mapped in picklist else picklist[0]


def load_portal(org: SalesforceOrg, portal: Portal) -> None:
    """Insert the portal's records into `org` (no API validation; ids derived from portal ids)."""
    origin = org.created_at
    org.insert(
        "User",
        {
            "Username": "integration@handoff.sandbox",
            "Email": "integration@handoff.sandbox",
            "FirstName": "Integration",
            "LastName": "User",
            "Alias": "integ",
            "IsActive": True,
            "TimeZoneSidKey": "GMT",
            "UserType": "AutomatedProcess",
        },
        at=origin,
        record_id=org.api_user_id,
    )
    for owner in portal.owners:
        org.insert(
            "User",
            {
                "Username": owner.email,
                "Email": owner.email,
                "FirstName": owner.first_name,
                "LastName": owner.last_name,
                "Alias": (owner.first_name[:1] + owner.last_name[:4]).lower(),
                "IsActive": owner.active,
                "TimeZoneSidKey": "GMT",
                "UserType": "Standard",
            },
            at=origin,
            record_id=derived_id("User", owner.id),
        )
    companies = {c.id: c for c in portal.companies}
    for account in portal.companies:
        org.insert(
            "Account",
            {
                "Name": account.name,
                "Website": f"https://www.{account.domain}",
                "NumberOfEmployees": account.employees,
                "Industry": account.industry,
                "BillingCountry": account.country,
                "BillingState": account.state or None,
                "OwnerId": _user(org, account.owner_id),
            },
            at=origin,
            record_id=derived_id("Account", account.id),
        )
    people: dict[str, Record] = {}
    for person in portal.people:
        company = companies.get(person.company_id or "")
        values: dict[str, Any] = {
            "FirstName": person.first_name,
            "LastName": person.last_name,
            "Email": person.email,
            "Title": person.title,
            "OwnerId": _user(org, person.owner_id or (company.owner_id if company else None)),
            "HasOptedOutOfEmail": person.unsubscribed,
            "CreatedDate": utc_ms(person.created_at),
            "LastModifiedDate": utc_ms(person.modified_at),
            "SystemModstamp": utc_ms(person.modified_at),
        }
        if person.kind == "contact":
            sobject = "Contact"
            values["AccountId"] = derived_id("Account", company.id) if company else None
            values["MailingCountry"] = company.country if company else None
            values["MailingState"] = (company.state or None) if company else None
        else:
            sobject = "Lead"
            status_field = org.schema["Lead"].get("Status")
            values["Status"] = lead_status(person, status_field.picklist if status_field else ())
            values["Company"] = company.name if company else "[not provided]"
            if company:
                values |= {
                    "Country": company.country,
                    "State": company.state or None,
                    "NumberOfEmployees": company.employees,
                    "Industry": company.industry,
                    "Website": f"https://www.{company.domain}",
                }
        values |= _properties(org, sobject, person.properties)
        people[person.id] = org.insert(
            sobject, values, at=values["CreatedDate"], record_id=derived_id(sobject, person.id)
        )
    for activity in sorted(portal.activities, key=lambda a: a.occurred_at):
        person_record = people.get(activity.person_id)
        if person_record is not None and activity.kind not in SKIPPED_KINDS:
            _activity(org, activity, person_record)
        elif activity.kind == "page_view" and activity.properties.get("asset_stage"):
            # the page's tracking campaign, connected to Salesforce, with the funnel stage
            at = utc_ms(activity.occurred_at)
            stage = activity.properties["asset_stage"]
            _campaign(org, content_campaign(activity.properties), "Content", at, stage)
    now = org.now()
    for task in portal.tasks:
        person_record = people.get(task.person_id)
        if person_record is None:
            continue
        status = TASK_STATUS.get(task.status.upper(), "Not Started")
        org.insert(
            "Task",
            {
                "Subject": task.subject,
                "WhoId": person_record["Id"],
                "OwnerId": _user(org, task.owner_id),
                "ActivityDate": task.due_at.date(),
                "Status": status,
                "TaskSubtype": "Task",
                "Handoff_Task_Key__c": task.task_key,
                "CompletedDateTime": now if status == "Completed" else None,
            },
            at=now,
            record_id=derived_id("Task", task.id),
        )


def _user(org: SalesforceOrg, owner_id: str | None) -> str:
    return derived_id("User", owner_id) if owner_id else org.api_user_id


def _properties(org: SalesforceOrg, sobject: str, properties: dict[str, str]) -> dict[str, Any]:
    """Raw CRM properties that name Salesforce fields; unknown `__c` names become custom fields."""
    obj = org.schema[sobject]
    out: dict[str, Any] = {}
    for key, raw in properties.items():
        spec = obj.get(key)
        if spec is None and key.endswith("__c"):
            spec = custom_field(key)
            obj.add(spec)
        if spec is None or not spec.createable:
            continue
        if spec.type in ("double", "currency", "int"):
            try:
                out[spec.name] = float(raw) if spec.type != "int" else int(float(raw))
            except ValueError:
                continue
        elif spec.type == "boolean":
            out[spec.name] = str(raw).lower() == "true"
        else:
            out[spec.name] = raw
    return out


def _activity(org: SalesforceOrg, activity: PortalActivity, person: Record) -> None:
    at = utc_ms(activity.occurred_at)
    props = activity.properties
    owner = _user(org, activity.owner_id) if activity.owner_id else person["OwnerId"]
    kind = activity.kind
    if kind in ("call", "email", "task"):
        subtype = {"call": "Call", "email": "Email", "task": "Task"}[kind]
        org.insert(
            "Task",
            {
                "Subject": props.get("subject") or subtype,
                "WhoId": person["Id"],
                "OwnerId": owner,
                "Status": "Completed",
                "TaskSubtype": subtype,
                "Type": subtype if kind != "task" else None,
                "ActivityDate": at.date(),
                "CompletedDateTime": at,
            },
            at=at,
            record_id=derived_id("Task", activity.id),
        )
        _bump(person, at, activity=True)
    elif kind == "meeting":
        org.insert(
            "Event",
            {
                "Subject": props.get("subject") or "Meeting",
                "WhoId": person["Id"],
                "OwnerId": owner,
                "StartDateTime": at,
                "EndDateTime": at + timedelta(minutes=30),
                "ActivityDateTime": at,
                "ActivityDate": at.date(),
                "DurationInMinutes": 30,
            },
            at=at,
            record_id=derived_id("Event", activity.id),
        )
        _bump(person, at, activity=True)
    elif kind in ("webinar_registered", "webinar_attended", "form_submission"):
        if kind == "form_submission":
            name, ctype, status = props.get("form_name") or "Contact Sales", "Web", "Responded"
        else:
            # `webinar_name` as sandbox/fixtures/README.md documents (`webinar`: older fixtures)
            name = props.get("webinar_name") or props.get("webinar") or "Product Webinar"
            ctype = "Webinar"
            status = "Attended" if kind == "webinar_attended" else "Registered"
        campaign = _campaign(org, name, ctype, at, props.get("asset_stage"))
        _membership(org, campaign, person, status, at)
        _bump(person, at, activity=False)


def content_campaign(props: dict[str, str]) -> str:
    """The name of the campaign a staged page's views are tracked under."""
    return props.get("campaign") or f"Web content: {props.get('title') or props.get('url') or '/'}"


def campaign_id(name: str, ctype: str) -> str:
    """The id of the sandbox campaign for a form (`Web`) or webinar (`Webinar`) name."""
    return derived_id("Campaign", f"{ctype}:{name}")


def _campaign(
    org: SalesforceOrg, name: str, ctype: str, at: datetime, stage: str | None = None
) -> str:
    """The campaign named `name`; an asset's funnel stage goes to the custom Campaign field
    `FUNNEL_STAGE_FIELD` (added to the org's schema on first use)."""
    record_id = campaign_id(name, ctype)
    values: dict[str, Any] = {"Name": name, "Type": ctype, "Status": "In Progress"}
    if stage:
        if org.schema["Campaign"].get(FUNNEL_STAGE_FIELD) is None:
            org.schema["Campaign"].add(custom_field(FUNNEL_STAGE_FIELD))
        values[FUNNEL_STAGE_FIELD] = stage
    if record_id not in org.records["Campaign"]:
        org.insert(
            "Campaign",
            {**values, "IsActive": True},
            at=min(at, org.created_at),
            record_id=record_id,
        )
    elif stage and not org.records["Campaign"][record_id].get(FUNNEL_STAGE_FIELD):
        org.records["Campaign"][record_id][FUNNEL_STAGE_FIELD] = stage
    return record_id


def _membership(
    org: SalesforceOrg, campaign_id: str, person: Record, status: str, at: datetime
) -> None:
    member_id = derived_id("CampaignMember", f"{campaign_id}:{person['Id']}")
    member = org.records["CampaignMember"].get(member_id)
    responded = status in ("Attended", "Responded")
    if member is None:
        is_contact = person["Id"].startswith("003")
        org.insert(
            "CampaignMember",
            {
                "CampaignId": campaign_id,
                "LeadId": None if is_contact else person["Id"],
                "ContactId": person["Id"] if is_contact else None,
                "Status": status,
                "FirstName": person["FirstName"],
                "LastName": person["LastName"],
                "Email": person["Email"],
                "CompanyOrAccount": person.get("Company"),
                "LeadOrContactOwnerId": person["OwnerId"],
                "FirstRespondedDate": at.date() if responded else None,
            },
            at=at,
            record_id=member_id,
        )
    elif status == "Attended" or member["Status"] != "Attended":
        member["Status"] = status
        member["FirstRespondedDate"] = member["FirstRespondedDate"] or (
            at.date() if responded else None
        )
        org.derive("CampaignMember", member)
        org.touch(member, at)


def _bump(person: Record, at: datetime, *, activity: bool) -> None:
    if person["SystemModstamp"] < at:
        person["SystemModstamp"] = at
    if activity and (person["LastActivityDate"] is None or person["LastActivityDate"] < at.date()):
        person["LastActivityDate"] = at.date()
