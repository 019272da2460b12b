"""The sandbox org's object and field metadata: what SOQL may select, writes may set and
`sobjects/{Type}/describe` reports.

Field names and types follow the Salesforce Object Reference (Lead, Contact, Account, User, Task,
Event, Campaign, CampaignMember) as summarised in crm-api-notes.md section 7. Flags per field:
`r` read-only (system or formula), `c` set on create only (e.g. Task.TaskSubtype, "set on create
only"), `q` required on create (REQUIRED_FIELD_MISSING), `x` external id + unique.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.salesforce.ids import KEY_PREFIXES

DEFAULT_LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "MQL",
    "SQL",
    "Nurture",
    "Closed - Converted",
    "Closed - Not Converted",
    "Disqualified",
)
# Task Status / Priority default picklists (Task object reference).
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
TASK_PRIORITIES = ("High", "Normal", "Low")
# ActivitySubtype-documented values usable as TaskSubtype (crm-api-notes section 7).
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
CAMPAIGN_MEMBER_STATUSES = ("Sent", "Registered", "Attended", "Responded")
RESPONDED_STATUSES = frozenset({"Attended", "Responded"})
HANDOFF_SCORE_FIELDS = (
    "Handoff_Score__c:double",
    "Handoff_Score_Fit__c:double",
    "Handoff_Score_Behaviour__c:double",
    "Handoff_Score_Reasons__c:textarea",
    "Handoff_Score_Breakdown__c:textarea",
)

_AUDIT = (
    "CreatedDate:datetime:r CreatedById:reference/User:r LastModifiedDate:datetime:r "
    "LastModifiedById:reference/User:r SystemModstamp:datetime:r"
)
_OBJECTS: dict[str, str] = {
    "Lead": "Id:id:r IsDeleted:boolean:r MasterRecordId:reference/Lead:r FirstName:string "
    "LastName:string:q Name:string:r Company:string:q Email:email Phone:phone Title:string "
    "Status:picklist LeadSource:picklist Industry:picklist NumberOfEmployees:int "
    "AnnualRevenue:currency Rating:picklist City:string State:string Country:string "
    "Website:url OwnerId:reference/User IsConverted:boolean:r ConvertedDate:date:r "
    "ConvertedContactId:reference/Contact:r ConvertedAccountId:reference/Account:r "
    "HasOptedOutOfEmail:boolean DoNotCall:boolean LastActivityDate:date:r",
    "Contact": "Id:id:r IsDeleted:boolean:r MasterRecordId:reference/Contact:r "
    "AccountId:reference/Account FirstName:string LastName:string:q Name:string:r Email:email "
    "Phone:phone Title:string Department:string LeadSource:picklist MailingCity:string "
    "MailingState:string MailingCountry:string OwnerId:reference/User HasOptedOutOfEmail:boolean "
    "DoNotCall:boolean LastActivityDate:date:r",
    "Account": "Id:id:r IsDeleted:boolean:r MasterRecordId:reference/Account:r Name:string:q "
    "Type:picklist Website:url Industry:picklist NumberOfEmployees:int BillingCity:string "
    "BillingState:string BillingCountry:string OwnerId:reference/User",
    "User": "Id:id:r Username:string:r Email:email:r FirstName:string:r LastName:string:r "
    "Name:string:r Alias:string:r IsActive:boolean TimeZoneSidKey:picklist:r UserType:picklist:r",
    "Task": "Id:id:r IsDeleted:boolean:r WhoId:reference/Lead,Contact WhatId:reference/Account "
    "AccountId:reference/Account:r OwnerId:reference/User Subject:string ActivityDate:date "
    "Status:picklist Priority:picklist IsClosed:boolean:r IsHighPriority:boolean:r "
    "Description:textarea Type:picklist TaskSubtype:picklist:c CompletedDateTime:datetime:r "
    "CallDurationInSeconds:int CallType:picklist CallDisposition:string "
    "Handoff_Task_Key__c:string:x",
    "Event": "Id:id:r IsDeleted:boolean:r WhoId:reference/Lead,Contact WhatId:reference/Account "
    "AccountId:reference/Account:r OwnerId:reference/User Subject:string "
    "StartDateTime:datetime EndDateTime:datetime ActivityDateTime:datetime ActivityDate:date "
    "DurationInMinutes:int IsAllDayEvent:boolean Location:string Description:textarea "
    "Type:picklist EventSubtype:picklist:c",
    "Campaign": "Id:id:r IsDeleted:boolean:r Name:string:q Type:picklist Status:picklist "
    "IsActive:boolean StartDate:date EndDate:date OwnerId:reference/User",
    "CampaignMember": "Id:id:r IsDeleted:boolean:r CampaignId:reference/Campaign:cq "
    "LeadId:reference/Lead:c ContactId:reference/Contact:c "
    "LeadOrContactId:reference/Lead,Contact:r LeadOrContactOwnerId:reference/User:r "
    "Status:picklist HasResponded:boolean:r FirstRespondedDate:date:r FirstName:string:r "
    "LastName:string:r Email:email:r CompanyOrAccount:string:r",
}
# Which picklists are restricted (a bad value fails with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST).
_RESTRICTED = {("Lead", "Status"), ("Task", "Status"), ("Task", "Priority")}
_PICKLISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Lead", "Status"): DEFAULT_LEAD_STATUSES,
    ("Task", "Status"): TASK_STATUSES,
    ("Task", "Priority"): TASK_PRIORITIES,
    ("Task", "TaskSubtype"): TASK_SUBTYPES,
    ("Event", "EventSubtype"): ("Event",),
    ("CampaignMember", "Status"): CAMPAIGN_MEMBER_STATUSES,
}
_DEFAULTS: dict[tuple[str, str], str] = {
    ("Lead", "Status"): "Open - Not Contacted",
    ("Task", "Status"): "Not Started",
    ("Task", "Priority"): "Normal",
    ("Task", "TaskSubtype"): "Task",
    ("Event", "EventSubtype"): "Event",
    ("CampaignMember", "Status"): "Sent",
}


@dataclass(slots=True)
class FieldSpec:
    name: str
    type: str  # describe type: id, reference, string, email, picklist, boolean, int, ...
    createable: bool = True
    updateable: bool = True
    required: bool = False
    custom: bool = False
    external_id: bool = False
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    default: str | None = None

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "custom": self.custom,
            "createable": self.createable,
            "updateable": self.updateable,
            "nillable": not self.required and self.type not in ("boolean", "id"),
            "externalId": self.external_id,
            "unique": self.external_id,
            "idLookup": self.type == "id" or self.external_id,
            "referenceTo": list(self.reference_to),
            "relationshipName": relationship_name(self),
            "restrictedPicklist": self.restricted,
            "defaultValueFormula": None,
            "picklistValues": [
                {
                    "value": value,
                    "label": value,
                    "active": True,
                    "defaultValue": value == self.default,
                    "validFor": None,
                }
                for value in self.picklist
            ],
        }


def relationship_name(spec: FieldSpec) -> str | None:
    """`AccountId` -> `Account`, `Partner__c` -> `Partner__r`; None for non-lookups."""
    if spec.type != "reference":
        return None
    if spec.name.endswith("__c"):
        return spec.name[:-3] + "__r"
    return spec.name[:-2] if spec.name.endswith("Id") else None


@dataclass(slots=True)
class ObjectSchema:
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # by lower-cased name

    def get(self, name: str) -> FieldSpec | None:
        return self.fields.get(name.lower())

    def add(self, spec: FieldSpec) -> None:
        self.fields[spec.name.lower()] = spec

    def describe(self, api_path: str) -> dict[str, object]:
        prefix = KEY_PREFIXES[self.name]
        base = f"{api_path}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.name,
            "keyPrefix": prefix,
            "custom": False,
            "createable": self.name != "User",
            "updateable": True,
            "deletable": self.name != "User",
            "queryable": True,
            "replicateable": True,
            "fields": [spec.describe() for spec in self.fields.values()],
            "urls": {
                "sobject": base,
                "describe": f"{base}/describe",
                "rowTemplate": f"{base}/{{ID}}",
            },
        }


def _parse(obj: str, token: str) -> FieldSpec:
    parts = token.split(":")
    name, kind, flags = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
    kind, _, refs = kind.partition("/")
    return FieldSpec(
        name=name,
        type=kind,
        createable="r" not in flags,
        updateable="r" not in flags and "c" not in flags,
        required="q" in flags,
        external_id="x" in flags,
        custom=name.endswith("__c"),
        reference_to=tuple(refs.split(",")) if refs else (),
        picklist=_PICKLISTS.get((obj, name), ()),
        restricted=(obj, name) in _RESTRICTED,
        default=_DEFAULTS.get((obj, name)),
    )


def build_schema(*, handoff_fields: bool = True) -> dict[str, ObjectSchema]:
    """A fresh copy of the org's metadata (knobs mutate it per emulator)."""
    schema: dict[str, ObjectSchema] = {}
    for obj, spec in _OBJECTS.items():
        tokens = spec.split()
        tokens += _AUDIT.split()
        if handoff_fields and obj in ("Lead", "Contact"):
            tokens += HANDOFF_SCORE_FIELDS
        schema[obj] = ObjectSchema(obj)
        for token in tokens:
            schema[obj].add(_parse(obj, token))
    return schema


def custom_field(name: str, kind: str = "string") -> FieldSpec:
    """A custom field added at run time (e.g. from a portal person's `properties`)."""
    return FieldSpec(name=name, type=kind, custom=True)
