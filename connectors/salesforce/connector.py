"""`SalesforceConnector`: the `CrmConnector` port over simple-salesforce.

Salesforce names live only here and in the connection's field mappings. simple-salesforce does
the REST calls; it is given a `GuardedSession` (limits, the one retry policy, daily budget,
session refresh, usage counting) and a token from `connectors.salesforce.auth`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
import tenacity
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from config.connections import Connection, SalesforceSettings
from connectors.base import ApiUsage, ContactBatch
from connectors.errors import FatalError, SkippableError
from connectors.mapping import FieldCodec
from connectors.ratelimit import RateLimiter
from connectors.records import (
    Activity,
    Contact,
    FieldChange,
    Owner,
    TaskRequest,
    WriteOutcome,
)
from connectors.salesforce.accounts import AccountReader
from connectors.salesforce.activities import SOURCES as ACTIVITY_SOURCES
from connectors.salesforce.activities import ActivityPull
from connectors.salesforce.auth import token_source
from connectors.salesforce.bulk import BulkUpdater
from connectors.salesforce.collections import CollectionWriter, describe_error
from connectors.salesforce.pull import SOBJECTS, ContactPull
from connectors.salesforce.schema import MissingField, missing_fields
from connectors.salesforce.soql import chunks, in_list
from connectors.salesforce.tasks import TaskWriter
from connectors.salesforce.transport import DailyBudget, GuardedSession
from connectors.salesforce.writes import FieldWriter

if TYPE_CHECKING:  # grpc and fastavro load with the change event client only (~0.14 s a start)
    from connectors.salesforce.cdc import PubSubClient

log = structlog.get_logger("handoff.salesforce")

# Salesforce has no per-second API limit (only the daily allocation and 25 concurrent long
# requests); this keeps a runaway loop from burning the day's budget in minutes.
DEFAULT_CALLS_PER_SECOND = 100


WEB_BEHAVIOUR = "web behaviour (page views, forms, email)"


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class SalesforceConnector:
    """Leads and Contacts, their activities, Users, field writes and Tasks in one Salesforce org."""

    def __init__(
        self,
        connection: Connection,
        *,
        limiter: RateLimiter | None = None,
        policy: Callable[[ApiUsage], tenacity.Retrying] | None = None,
        clock: Callable[[], datetime] = _wall_clock,
        page_size: int = 2000,
        bulk_poll_seconds: float = 2.0,
    ) -> None:
        if connection.kind != "salesforce" or connection.salesforce is None:
            raise FatalError(
                f"connection '{connection.name}' is kind '{connection.kind}', not salesforce",
                connection=connection.name,
            )
        self.connection = connection
        self.settings: SalesforceSettings = connection.salesforce
        self.name = connection.name
        self.usage = ApiUsage()
        self.page_size = page_size
        self.bulk_poll_seconds = bulk_poll_seconds
        # records per apply call: big enough that a large sync goes through Bulk API 2.0 jobs
        self.write_chunk_records = max(1000, 5 * self.settings.bulk_threshold)
        self.session = GuardedSession(
            connection=self.name,
            usage=self.usage,
            limiter=limiter or RateLimiter(DEFAULT_CALLS_PER_SECOND, 1.0),
            budget=DailyBudget(reserve=self.settings.daily_budget_reserve),
            timeout=self.settings.timeout_seconds,
            ca_file=str(self.settings.ca_file) if self.settings.ca_file else None,
            policy=policy,
        )
        self.tokens = token_source(self.settings, connection=self.name, clock=clock)
        self.session.tokens = self.tokens
        self.codecs = {
            object_type: FieldCodec(
                connection.field_mappings(object_type),
                wire="json",
                connection=self.name,
                closed=connection.custom_names(object_type),
            )
            for object_type in connection.objects
        }
        self.problems: list[SkippableError] = []  # malformed values seen while pulling
        self.warnings: list[str] = []  # for the run's report: refused access, missing fields
        self._check_activity_sources()
        self._sf: Salesforce | None = None
        self._accounts = AccountReader(lambda: self.sf, connection.accounts, self._warn)

    @property
    def companies_read(self) -> int:
        """Account records read since the run began (`begin_accounts`), for lead matching."""
        return self._accounts.read

    def begin_accounts(self) -> None:
        # the feed hands `warnings` to the run and clears them after each pull
        self._accounts = AccountReader(lambda: self.sf, self.connection.accounts, self._warn)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)
            log.warning("salesforce.warning", connection=self.name, warning=message)

    def _check_activity_sources(self) -> None:
        for index, mapping in enumerate(self.connection.activities):
            if mapping.source not in ACTIVITY_SOURCES:
                raise FatalError(
                    f"connections[{self.name}].activities[{index}].source '{mapping.source}' is "
                    f"not a Salesforce activity source: use one of "
                    f"{', '.join(sorted(ACTIVITY_SOURCES))}",
                    connection=self.name,
                )

    # --- plumbing -----------------------------------------------------------------------------

    @property
    def sf(self) -> Salesforce:
        """The simple-salesforce client, logged in on first use."""
        if self._sf is None:
            if self.tokens.can_refresh and not self.tokens.token:
                self.tokens.refresh(self.session)
            self._sf = Salesforce(
                instance_url=self.tokens.instance_url,
                session_id=self.tokens.token,
                session=self.session,
                version=self.settings.api_version,
                object_pairs_hook=dict,
            )
        return self._sf

    @contextmanager
    def _translated(self, doing: str, *, fields_from: str = "objects") -> Iterator[None]:
        """simple-salesforce errors the transport let through become connector errors."""
        try:
            yield
        except SalesforceError as exc:
            code, message = describe_error(exc)
            hint = {
                "INVALID_FIELD": f"a field named under connections[].{fields_from} does not "
                "exist on the object (or is hidden from the integration user): fix the name or "
                "add the field (see missing_fields())",
                "INVALID_TYPE": "the object is not available to the integration user",
                "MALFORMED_QUERY": "a SOQL filter is malformed (check activities[].when values)",
                "INSUFFICIENT_ACCESS": "grant the integration user access to the object",
            }.get(code, "check the integration user's permissions and the connection config")
            raise FatalError(
                f"Salesforce refused {doing} ({message}): {hint}",
                connection=self.name,
                status=exc.status,
            ) from None

    def _writer(self) -> CollectionWriter:
        return CollectionWriter(self.sf, self.name)

    # --- the port -----------------------------------------------------------------------------

    def object_types(self) -> Sequence[str]:
        return [name for name in ("lead", "contact") if name in self.connection.objects]

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        if object_type not in self.codecs:
            raise FatalError(
                f"object '{object_type}' is not mapped for connection '{self.name}': add it "
                "under connections[].objects",
                connection=self.name,
            )
        pull = ContactPull(
            self.sf,
            self.name,
            object_type,
            self.codecs[object_type],
            self.connection.overlap,
            page_size=self.page_size,
            problems=self.problems,
            accounts=self._accounts,
        )
        with self._translated(f"the {SOBJECTS[object_type]} pull"):
            yield from pull.batches(since, until)

    def read_contacts(self, object_type: str, ids: Sequence[str]) -> list[Contact]:
        """These records as a pull maps them (the change event fast path); missing ones absent."""
        pull = ContactPull(
            self.sf,
            self.name,
            object_type,
            self.codecs[object_type],
            self.connection.overlap,
            problems=self.problems,
            accounts=self._accounts,
        )
        with self._translated(f"reading {SOBJECTS[object_type]} records"):
            return pull.by_ids(list(ids))

    def change_events(self) -> PubSubClient:
        """A Pub/Sub API client for this org's change events (connectors/salesforce/cdc.py),
        authenticated with this connection's token (logged in first if needed)."""

        def token() -> str:
            if self.tokens.can_refresh and not self.tokens.token:
                self.tokens.refresh(self.session)
            return self.tokens.token

        from connectors.salesforce.cdc import PubSubClient

        return PubSubClient(
            self.settings.pubsub_endpoint,
            token=token,
            instance_url=lambda: self.tokens.instance_url,
            ca_file=self.settings.ca_file,
            connection=self.name,
        )

    def _activity_pull(self) -> ActivityPull:
        return ActivityPull(
            self.sf, self.name, self.connection.activities, self.settings.campaign_stage_field
        )

    def _keep(self, activity: Activity) -> bool:
        """Whether a read activity is kept (a subclass drops what another source records)."""
        return True

    def pull_activities(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> Iterator[Activity]:
        """These people's activities (a pull run streams them instead: `activity_streams`)."""
        where = "activities[].when (or salesforce.campaign_stage_field)"
        with self._translated("the activity pull", fields_from=where):
            yield from filter(self._keep, self._activity_pull().activities(contacts, since))

    def activity_streams(self) -> list[str]:
        """The activity sources a pull run reads as org-wide streams (RecordActivityStreams)."""
        return list(self._activity_pull().sources())

    def pull_activity_stream(
        self, stream: str, since: datetime | None, until: datetime
    ) -> Iterator[tuple[list[Activity], datetime]]:
        """One source's activities modified in [since - overlap, until], as (page, cursor)."""
        start = since - self.connection.overlap if since is not None else None
        where = "activities[].when (or salesforce.campaign_stage_field)"
        with self._translated(f"the {stream} stream", fields_from=where):
            for page, cursor in self._activity_pull().stream(stream, start, until, self.page_size):
                yield [a for a in page if self._keep(a)], cursor

    def campaign_stages(self, ids: Collection[str]) -> dict[str, str]:
        """Campaign id -> its asset's funnel stage (`salesforce.campaign_stage_field`)."""
        field = self.settings.campaign_stage_field
        if not field or not ids:
            return {}
        stages: dict[str, str] = {}
        with self._translated(
            "reading campaign stages", fields_from="salesforce.campaign_stage_field"
        ):
            for chunk in chunks(sorted(ids)):
                soql = f"SELECT Id, {field} FROM Campaign WHERE Id IN {in_list(chunk)}"
                for raw in self.sf.query_all_iter(soql):
                    if raw.get(field):
                        stages[str(raw["Id"])] = str(raw[field]).strip().lower()
        return stages

    def campaign_member_people(self, ids: Collection[str]) -> list[tuple[str, str]]:
        """(object type, record id) of the Lead or Contact each CampaignMember is for."""
        people: list[tuple[str, str]] = []
        with self._translated("reading campaign members"):
            for chunk in chunks(sorted(ids)):
                soql = (
                    f"SELECT Id, LeadId, ContactId FROM CampaignMember WHERE Id IN {in_list(chunk)}"
                )
                for raw in self.sf.query_all_iter(soql):
                    if raw.get("ContactId"):
                        people.append(("contact", str(raw["ContactId"])))
                    elif raw.get("LeadId"):
                        people.append(("lead", str(raw["LeadId"])))
        return people

    def behaviour_sources(self) -> dict[str, str]:
        """Behaviour source -> what reads it (`handoff crm setup --check`)."""
        return {
            "rep touches": "Task and Event (SOQL)",
            "campaign responses": "CampaignMember with Campaign.Name, Campaign.Type and Status",
            WEB_BEHAVIOUR: "not read: Salesforce keeps none; set "
            "salesforce.account_engagement.business_unit_id to read Account Engagement (Pardot)",
        }

    def with_accounts(self, contacts: Sequence[Contact]) -> list[Contact]:
        """New Leads matched to Accounts by domain (AccountLookup); Contacts carry theirs from
        the pull's relationship fields already."""
        with self._translated("the lead-to-account match", fields_from="accounts"):
            return self._accounts.match_leads(contacts)

    def pull_owners(self) -> Sequence[Owner]:
        # Standard users only: automated-process and integration users own records created
        # through the API but are not reps (a lead they own is unassigned for routing).
        soql = (
            "SELECT Id, Email, FirstName, LastName, Name, IsActive FROM User "
            "WHERE UserType = 'Standard' ORDER BY Id"
        )
        with self._translated("the User pull"):
            return [
                Owner(
                    connection=self.name,
                    id=str(raw["Id"]),
                    email=raw.get("Email") or None,
                    name=str(
                        raw.get("Name")
                        or " ".join(p for p in (raw.get("FirstName"), raw.get("LastName")) if p)
                    ),
                    active=bool(raw.get("IsActive")),
                )
                for raw in self.sf.query_all_iter(soql)
            ]

    def read_fields(
        self, object_type: str, ids: Sequence[str], fields: Sequence[str]
    ) -> Mapping[str, Mapping[str, Any]]:
        writer = FieldWriter(self.sf, self.name, self.codecs, self._writer())
        with self._translated(f"reading {object_type} fields"):
            return writer.read(object_type, ids, fields)

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        if not changes:
            return []
        writer = FieldWriter(
            self.sf,
            self.name,
            self.codecs,
            self._writer(),
            bulk=BulkUpdater(self.sf, self.name, poll_seconds=self.bulk_poll_seconds),
            bulk_threshold=self.settings.bulk_threshold,
        )
        with self._translated("the field updates"):
            return writer.apply(changes)

    def create_tasks(self, tasks: Sequence[TaskRequest]) -> Sequence[WriteOutcome]:
        if not tasks:
            return []
        writer = TaskWriter(self.sf, self.name, self._writer())
        with self._translated("creating tasks"):
            return writer.create(tasks)

    def missing_field_definitions(self) -> list[MissingField]:
        """Mapped fields (and `Task.Handoff_Task_Key__c`) the org lacks, with their metadata."""
        with self._translated("describing objects"):
            return list(
                missing_fields(
                    self.sf, {t: self.connection.field_mappings(t) for t in self.connection.objects}
                )
            )

    def missing_fields(self) -> list[str]:
        """`FieldSetup`: 'Lead.Handoff_Score__c'-style names of the fields the org lacks."""
        return sorted(f"{m.sobject}.{m.field}" for m in self.missing_field_definitions())

    def create_missing_fields(self) -> list[str]:
        """`FieldSetup`: Salesforce cannot create fields through the REST data API, so this
        fails with the exact CustomField metadata an admin adds (Setup or a metadata deploy)."""
        missing = self.missing_field_definitions()
        if not missing:
            return []
        lines = "; ".join(
            f"{m.sobject}.{m.field} for '{m.canonical}': {json.dumps(dict(m.metadata))}"
            for m in missing
        )
        raise FatalError(
            f"Salesforce fields must be added by an admin (Setup > Object Manager > Fields & "
            f"Relationships, or deploy these CustomField definitions): {lines}",
            connection=self.name,
        )

    def close(self) -> None:
        self.session.close()
