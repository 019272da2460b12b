"""The example configs set up for speed to lead: what the fast-path tests and benchmarks run.

The example's own config waits for business hours and dry-runs a first run; a speed-to-lead run
asks the owner for a task as soon as the fast lane hands a person over, on a calendar open now
whatever the wall clock says, writes live from the first tick, and listens for the CRM's events:
HubSpot webhooks on `listen_port`, or Salesforce change events through the Pub/Sub API.
"""

from __future__ import annotations

import re

from sync.demo import example_config

HUBSPOT_SECRET = (
    "access_token: ${HUBSPOT_TOKEN}",
    "access_token: ${HUBSPOT_TOKEN}\n      client_secret: ${HUBSPOT_CLIENT_SECRET}",
)
SALESFORCE_CHANGE_EVENTS = (
    "ca_file: ${HANDOFF_CA_FILE:-}",
    "ca_file: ${HANDOFF_CA_FILE:-}\n      change_events: true\n"
    "      pubsub_endpoint: ${SALESFORCE_PUBSUB_ENDPOINT}",
)
FAST_LANE_TASK_NOW = (
    '- {at: "100%", action: task_owner}\n        - {at: "+15m"',
    '- {at: "0.01%", action: task_owner}\n        - {at: "+15m"',
)
CALENDAR_OPEN_NOW = (
    "territory_calendars: {na-east: us-east,",
    "territory_calendars: {na-east: always,",
)
LIVE_FIRST_RUN = ("\nsync:\n", "\nsync:\n  first_run: live\n")
ACCOUNT_ENGAGEMENT = re.compile(r"(?m)^      account_engagement:.*\n(^        .*\n)+")


def speed_to_lead_config(
    crm: str,
    *,
    sync_every: str = "1h",
    sla_every: str = "1h",
    listen_port: int | None = None,
    state_url: str | None = None,
) -> str:
    """The `crm` example config (hubspot or salesforce) as a speed-to-lead run reads it."""
    text = example_config(crm).read_text()
    if state_url is not None:
        text = text.replace("${HANDOFF_STATE_URL:-sqlite:///handoff.db}", state_url)
    if crm == "hubspot":
        text = _replace_once(text, HUBSPOT_SECRET)
    else:
        # no Account Engagement: a web-to-lead form's campaign response is the demo request
        text = ACCOUNT_ENGAGEMENT.sub("", text)
        text = _replace_once(text, SALESFORCE_CHANGE_EVENTS)
    for edit in (FAST_LANE_TASK_NOW, CALENDAR_OPEN_NOW, LIVE_FIRST_RUN):
        text = _replace_once(text, edit)
    text = re.sub(r"(?m)^schedules:.*$", "", text)
    if listen_port is not None:
        text += f"\nhttp: {{listen: '127.0.0.1:{listen_port}', hubspot_webhooks: [hubspot]}}"
    return text + f"\nschedules: {{sync_every: {sync_every}, sla_every: {sla_every}}}\n"


def _replace_once(text: str, edit: tuple[str, str]) -> str:
    old, new = edit
    if old not in text:  # the example changed: say which edit no longer applies
        raise ValueError(f"the example config no longer has {old!r}")
    return text.replace(old, new, 1)
