"""The HubSpot emulator's routing table: (method, path pattern, endpoint label, handler).

First match wins. The label names the endpoint in the request log, the fault drills' knobs and
the per-endpoint counts; `{object_type}` in a label is filled from the path.
"""

from __future__ import annotations

import re

from sandbox.hubspot import (
    batch_api,
    catalog_api,
    engagements_v1_api,
    forms_api,
    legacy_properties_api,
    marketing_events_api,
    marketing_lists_api,
    objects_api,
    pipelines_api,
    settings_api,
    timeline_api,
)
from sandbox.hubspot.context import Handler

_T = r"(?P<object_type>[A-Za-z0-9_-]+)"
# The Forms API's unauthenticated submit (its own 50 / 10 s limit, not modelled) and the token
# exchange take no access token.
UNAUTHENTICATED = frozenset({"oauth.token", "forms.submit"})
# (method, path pattern, label template, handler); first match wins.
ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    (m, re.compile(p), label, h)
    for m, p, label, h in (
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/search/?$",
            "{object_type}.search",
            objects_api.search_objects,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/batch/read$",
            "{object_type}.batch_read",
            batch_api.batch_read,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/batch/create$",
            "{object_type}.batch_create",
            batch_api.batch_create,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/batch/update$",
            "{object_type}.batch_update",
            batch_api.batch_update,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/batch/upsert$",
            "{object_type}.batch_upsert",
            batch_api.batch_upsert,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/batch/archive$",
            "{object_type}.batch_archive",
            batch_api.batch_archive,
        ),
        (
            "POST",
            rf"^/crm/v3/objects/{_T}/merge$",
            "{object_type}.merge",
            objects_api.merge_objects,
        ),
        ("GET", rf"^/crm/v3/objects/{_T}/?$", "{object_type}.list", objects_api.list_objects),
        ("POST", rf"^/crm/v3/objects/{_T}/?$", "{object_type}.create", objects_api.create_object),
        (
            "GET",
            rf"^/crm/v3/objects/{_T}/(?P<object_id>[^/]+)$",
            "{object_type}.get",
            objects_api.get_object,
        ),
        (
            "PATCH",
            rf"^/crm/v3/objects/{_T}/(?P<object_id>[^/]+)$",
            "{object_type}.update",
            objects_api.update_object,
        ),
        (
            "DELETE",
            rf"^/crm/v3/objects/{_T}/(?P<object_id>[^/]+)$",
            "{object_type}.archive",
            objects_api.archive_object,
        ),
        (
            "GET",
            rf"^/crm/v4/objects/{_T}/(?P<object_id>[^/]+)/associations/(?P<to_object_type>[^/]+)$",
            "associations.list",
            timeline_api.get_associations,
        ),
        (
            "POST",
            r"^/crm/v4/associations/(?P<from_object_type>[^/]+)/(?P<to_object_type>[^/]+)/batch/read$",
            "associations.batch_read",
            timeline_api.batch_read_associations,
        ),
        ("GET", r"^/crm/v3/owners/?$", "owners.list", catalog_api.list_owners),
        ("GET", r"^/crm/v3/owners/(?P<owner_id>[^/]+)$", "owners.get", catalog_api.get_owner),
        ("GET", rf"^/crm/v3/properties/{_T}/?$", "properties.list", catalog_api.list_properties),
        ("POST", rf"^/crm/v3/properties/{_T}/?$", "properties.create", catalog_api.create_property),
        (
            "GET",
            rf"^/crm/v3/properties/{_T}/(?P<name>[^/]+)$",
            "properties.get",
            catalog_api.get_property,
        ),
        ("GET", r"^/events/v3/events/event-types/?$", "events.types", timeline_api.event_types),
        ("GET", r"^/events/v3/events/?$", "events.list", timeline_api.list_events),
        ("GET", r"^/marketing/v3/forms/?$", "forms.list", forms_api.list_forms),
        (
            "POST",
            r"^/submissions/v3/integration/submit/(?P<portal_id>[^/]+)/(?P<form_guid>[^/]+)/?$",
            "forms.submit",
            forms_api.submit_form,
        ),
        (
            "GET",
            r"^/form-integrations/v1/submissions/forms/(?P<form_guid>[^/]+)/?$",
            "forms.submissions",
            forms_api.form_submissions,
        ),
        (
            "GET",
            r"^/marketing/v3/marketing-events/participations/contacts/(?P<contact_identifier>[^/]+)/breakdown/?$",
            "marketing_events.participations",
            marketing_events_api.contact_breakdown,
        ),
        (
            "GET",
            r"^/marketing/v3/marketing-events/participations/(?P<marketing_event_id>\d+)/breakdown/?$",
            "marketing_events.event_participations",
            marketing_events_api.event_breakdown,
        ),
        (
            "GET",
            r"^/marketing/v3/marketing-events/?$",
            "marketing_events.list",
            marketing_events_api.list_events,
        ),
        # -- what third-party connectors read besides (docs/sandbox.md, "Served for peers") --
        (
            "GET",
            r"^/properties/v2/(?P<object_type>[A-Za-z0-9_-]+)/properties/?$",
            "properties_v2.list",
            legacy_properties_api.list_legacy_properties,
        ),
        ("GET", r"^/crm/v3/schemas/?$", "schemas.list", settings_api.list_schemas),
        ("GET", r"^/settings/v3/users/?$", "users.list", settings_api.list_users),
        ("GET", r"^/settings/v3/users/teams/?$", "teams.list", settings_api.list_teams),
        (
            "GET",
            r"^/crm/v3/pipelines/(?P<object_type>[^/]+)/?$",
            "pipelines.list",
            pipelines_api.list_pipelines,
        ),
        (
            "GET",
            r"^/crm-pipelines/v1/pipelines/(?P<object_type>[^/]+)/?$",
            "pipelines_v1.list",
            pipelines_api.list_pipelines_v1,
        ),
        ("POST", r"^/crm/v3/lists/search/?$", "lists.search", marketing_lists_api.search_lists),
        (
            "GET",
            r"^/email/public/v1/events/?$",
            "email_events.list",
            marketing_lists_api.email_events,
        ),
        (
            "GET",
            r"^/email/public/v1/subscriptions/timeline/?$",
            "subscriptions.timeline",
            marketing_lists_api.subscription_timeline,
        ),
        (
            "GET",
            r"^/email/public/v1/subscriptions/?$",
            "subscriptions.types",
            marketing_lists_api.subscription_types,
        ),
        (
            "GET",
            r"^/email/public/v1/campaigns(/by-id)?/?$",
            "email_campaigns.list",
            marketing_lists_api.email_campaigns,
        ),
        (
            "GET",
            r"^/marketing-emails/v1/emails/with-statistics/?$",
            "marketing_emails.list",
            marketing_lists_api.marketing_emails,
        ),
        ("GET", r"^/automation/v3/workflows/?$", "workflows.list", marketing_lists_api.workflows),
        (
            "GET",
            r"^/engagements/v1/engagements/paged/?$",
            "engagements_v1.paged",
            engagements_v1_api.paged,
        ),
        (
            "GET",
            r"^/engagements/v1/engagements/recent/modified/?$",
            "engagements_v1.recent",
            engagements_v1_api.recent,
        ),
    )
]
