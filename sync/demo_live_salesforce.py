"""`handoff demo`'s live demo request on Salesforce: a Lead and its "Request a demo" campaign
response made through simple-salesforce, decided by the change event subscriber `handoff run`
uses (sync/change_events.py, over the sandbox's Pub/Sub API), and shown as the rep sees it: the
Lead's owner, status, score and reasons, and the owner's task, read back through simple-salesforce.

It runs the demo's config with what a speed-to-lead team adds (docs/speed-to-lead.md): change
events on, and a reminder rung in the fast lane's ladder, so that the owner has a task in their
queue as soon as a lead is handed over ("first touch due by ..."), on a calendar open now (the demo
runs at any hour). The example's own rungs stay as they are. The file is written beside the
demo's store, for the reader to open.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connectors.errors import ConnectorError

WAIT = 60.0  # the demo gives up (and says what went wrong) after this
SUBSCRIBE_WAIT = 30.0
CAMPAIGN = "Request a demo"
DEMO_LEAD = {
    "FirstName": "Rowan",
    "LastName": "Ellis",
    "Title": "VP of Sales",
    "Company": "Lakeview Robotics",
    "NumberOfEmployees": 600,
    "Country": "US",
    "State": "MA",
}
CHANGE_EVENTS = re.compile(r"(?m)^( +)session_id: \$\{SALESFORCE_SESSION_ID\}\n")
REMIND_AT_ONCE = (
    '- {at: "100%", action: task_owner}\n        - {at: "+15m"',
    '- {at: "0.01%", action: remind_owner}\n        - {at: "100%", action: task_owner}\n'
    '        - {at: "+15m"',
)


def speed_to_lead_text(example: str) -> str:
    """The demo's config (Salesforce alone or with HubSpot) as a speed-to-lead run reads it."""
    from sync.speed_config import ACCOUNT_ENGAGEMENT, CALENDAR_OPEN_NOW

    found = CHANGE_EVENTS.search(example)
    if found is None:
        raise ValueError("the demo config has no Salesforce session_id line")
    indent = found.group(1)
    text = (
        example[: found.end()]
        + f"{indent}change_events: true\n{indent}pubsub_endpoint: ${{SALESFORCE_PUBSUB_ENDPOINT}}\n"
        + example[found.end() :]
    )
    # no Account Engagement: the web-to-lead form's campaign response is the demo request
    text = ACCOUNT_ENGAGEMENT.sub("", text)
    for old, new in (REMIND_AT_ONCE, CALENDAR_OPEN_NOW):
        if old not in text:
            raise ValueError(f"the demo config no longer has {old!r}")
        text = text.replace(old, new, 1)
    return text


@dataclass(frozen=True)
class RepView:
    """The demo Lead as the rep sees it in Salesforce."""

    lead_id: str
    owner: str  # "Name <email>"
    status: str
    score: str
    reasons: str
    tasks: list[str]  # 'for Owner Name: "Subject"'


def live_salesforce_request(sandbox: Any, config: Path, directory: Path, console: Console) -> None:
    """Subscribe as `handoff run` does, make a demo request, tell what the rep sees."""
    from sync.change_events import listening
    from sync.runtime import Runtime

    if getattr(sandbox, "pubsub", None) is None:
        return
    speed = directory / "speed-to-lead.yaml"
    speed.write_text(speed_to_lead_text(config.read_text()))
    console.print(
        f"Config {speed} (the demo's, with change events on and a task for the owner at once)",
        markup=False,
        highlight=False,
    )
    sf = _client(sandbox.info)
    runtime = Runtime(str(speed), "run", log_level="error")
    service = sandbox.pubsub.service
    try:
        before = service.subscribes
        with listening(runtime) as listener:
            if listener is None:
                console.print("No Salesforce connection has change events on: nothing to show.")
                return
            topics = len(listener.subscriptions)
            if not _until(lambda: service.subscribes >= before + topics, SUBSCRIBE_WAIT):
                console.print(
                    f"The change event subscription did not start within {SUBSCRIBE_WAIT:.0f} s "
                    f"(Pub/Sub API {sandbox.info.salesforce_pubsub_endpoint}): no live "
                    "Salesforce demo request this time."
                )
                return
            email = f"rowan.ellis.{secrets.token_hex(2)}@lakeview-robotics.com"
            campaign = _campaign(sf)
            started = time.monotonic()
            lead_id = _demo_request(sf, campaign, email)
            done = _until(lambda: bool(_tasks(sf, lead_id)), WAIT, every=0.25)
            seconds = time.monotonic() - started
            received = sum(sub.batches for sub in listener.subscriptions)
            decided = listener.decided
        mapping = runtime.config.connections[_salesforce(runtime)].objects["lead"]
        view = read_rep_view(sf, lead_id, {k: m.property for k, m in mapping.items()})
    except (SalesforceError, requests.RequestException, ConnectorError, OSError) as exc:
        console.print(f"The live Salesforce demo request failed: {exc}", markup=False)
        return
    finally:
        runtime.close()
    if not done:
        console.print(_gave_up(email, view, received, decided), markup=False, highlight=False)
        return
    _tell(console, email, view, seconds)


def _tell(console: Console, email: str, view: RepView, seconds: float) -> None:
    lines = [
        f"{DEMO_LEAD['FirstName']} {DEMO_LEAD['LastName']} <{email}>, {DEMO_LEAD['Title']} at "
        f"{DEMO_LEAD['Company']}, asked for a demo: a Lead and its '{CAMPAIGN}' campaign response, "
        "made through simple-salesforce. Salesforce published the change events (Pub/Sub API) "
        "and Handoff's subscriber decided that Lead at once, no scheduled sync involved.",
        f"What the rep sees on Lead {view.lead_id}, read back through simple-salesforce "
        f"{seconds:.1f} s after the request:",
        f"  Owner   {view.owner}",
        f"  Status  {view.status}",
        f"  Score   {view.score} ({view.reasons})",
        *[f"  Task    {task}" for task in view.tasks],
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _gave_up(email: str, view: RepView, received: int, decided: int) -> str:
    why = (
        "no change event arrived from the Pub/Sub API"
        if not received
        else "change events arrived but the Lead was not decided"
        if not decided
        else f"the Lead was decided (owner {view.owner or 'none'}, status {view.status or 'none'})"
        " but no task for its owner was made"
    )
    return f"The demo request from {email} was not routed within {WAIT:.0f} s: {why}."


def _salesforce(runtime: Any) -> int:
    return next(i for i, c in enumerate(runtime.config.connections) if c.kind == "salesforce")


def _client(info: Any) -> Any:
    session = requests.Session()
    session.trust_env = False  # the environment's CA bundle must not replace the sandbox's
    session.verify = str(info.ca_file)
    return Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=session,
    )


def _campaign(sf: Any) -> str:
    found = sf.query(f"SELECT Id FROM Campaign WHERE Name = '{CAMPAIGN}'")["records"]
    return str(found[0]["Id"] if found else sf.Campaign.create({"Name": CAMPAIGN})["id"])


def _demo_request(sf: Any, campaign: str, email: str) -> str:
    """What a web-to-lead form makes: the Lead, then its "Request a demo" campaign response."""
    lead = sf.Lead.create({**DEMO_LEAD, "Email": email})
    sf.CampaignMember.create({"CampaignId": campaign, "LeadId": lead["id"], "Status": "Responded"})
    return str(lead["id"])


def _tasks(sf: Any, lead_id: str) -> list[dict[str, Any]]:
    """Handoff's tasks on the Lead (they carry Handoff_Task_Key__c)."""
    soql = (
        "SELECT Subject, OwnerId FROM Task "
        f"WHERE WhoId = '{lead_id}' AND Handoff_Task_Key__c != null"
    )
    return list(sf.query_all(soql)["records"])


def read_rep_view(sf: Any, lead_id: str, props: dict[str, str]) -> RepView:
    """The Lead's owner, status, score and reasons, and Handoff's tasks, as Salesforce holds them
    (`props`: canonical field -> the Lead field the config maps it to)."""
    fields = sorted({"Id", *(props[k] for k in ("owner_id", "lifecycle_stage", "score",
                                                 "score_reasons"))})  # fmt: skip
    lead = sf.query(f"SELECT {', '.join(fields)} FROM Lead WHERE Id = '{lead_id}'")["records"][0]
    tasks = _tasks(sf, lead_id)
    users = {
        row["Id"]: f"{row['Name']} <{row['Email']}>"
        for row in sf.query_all("SELECT Id, Name, Email FROM User")["records"]
    }
    score = lead.get(props["score"])
    return RepView(
        lead_id=lead_id,
        owner=users.get(lead.get(props["owner_id"]) or "", ""),
        status=str(lead.get(props["lifecycle_stage"]) or ""),
        score="" if score is None else f"{float(score):g}",
        reasons=str(lead.get(props["score_reasons"]) or ""),
        tasks=[
            f'for {users.get(t["OwnerId"], t["OwnerId"]).split(" <")[0]}: "{t["Subject"]}"'
            for t in tasks
        ],
    )


def _until(ready: Any, seconds: float, *, every: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True
