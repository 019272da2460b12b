"""The `sla:` config section: a well-formed example parses; mistakes fail with one clear line."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config.loader import format_location
from config.model import HandoffConfig
from config.references import reference_problems
from config.sla import SlaConfig

EXAMPLE = yaml.safe_load(
    """
calendars:
  ny: {timezone: America/New_York, days: [mon, tue, wed, thu, fri], hours: "09:00-17:00",
       holidays: {country: US, subdivision: NY}}
  london: {timezone: Europe/London, hours: "08:30-17:30", holidays: {country: GB, subdivision: ENG}}
  always: {always_open: true}
default_calendar: ny
territory_calendars: {emea: london}
rep_calendars: {Ana@Example.com: london}
policies:
  fast:
    lane: fast
    calendar: always
    first_touch: 5m
    touch: {kinds: [call, email, meeting], by: owner}
    cadence: {touches: 3, channels: 2, within: 5bd}
    ladder:
      - {at: 80%, action: remind_owner}
      - {at: 100%, action: task_owner}
      - {at: +15m, action: reassign_backup, notify_manager: true, webhook: true}
  mql:
    lane: mql
    first_touch: 24h
    touch: {kinds: [call, email], by: any_rep}
    ladder:
      - {at: 100%, action: task_owner}
      - {at: +1bd, action: reassign_backup, notify_manager: true}
webhook_url: https://hooks.slack.com/services/T000/B000/XXXX
"""
)


def _with(path: list[str], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


def _error(data: dict[str, Any]) -> str:
    """The one problem found by the field checks and the cross-reference checks together (as
    the loader runs them), with its location."""
    routing = {"territories": [{"name": "emea"}, {"name": "apac"}]}
    found = [
        f"{format_location(path)}: {message}"
        for path, message in reference_problems({"sla": data, "routing": routing})
        if path[0] == "sla"
    ]
    try:
        SlaConfig.model_validate(data)
    except ValidationError as exc:
        found += [str(error["msg"]) for error in exc.errors()]
    assert len(found) == 1, found
    assert "\n" not in found[0]
    return found[0]


def test_example_parses_and_resolves_calendars() -> None:
    config = SlaConfig.model_validate(EXAMPLE)
    fast = config.policies["fast"]
    assert fast.first_touch == timedelta(minutes=5)
    assert [r.share for r in fast.ladder] == [0.8, 1.0, None]
    assert fast.ladder[2].offset(timedelta(hours=8)) == timedelta(minutes=15)
    assert config.policies["mql"].ladder[1].offset(timedelta(hours=8)) == timedelta(hours=8)
    mql = config.policies["mql"]
    assert config.calendar_for(fast, owner_email="bo@example.com", territory="emea") == "always"
    assert config.calendar_for(mql, owner_email="ANA@example.com", territory=None) == "london"
    assert config.calendar_for(mql, owner_email="bo@example.com", territory="emea") == "london"
    assert config.calendar_for(mql, owner_email="bo@example.com", territory="west") == "ny"
    assert config.policy_for("fast") == ("fast", fast)
    assert config.policy_for("nurture") is None


def test_sla_section_is_part_of_the_root_config() -> None:
    root = HandoffConfig.model_validate(
        {
            "connections": [
                {
                    "name": "hubspot",
                    "kind": "hubspot",
                    "hubspot": {"access_token": "pat-test"},
                    "objects": {"contact": {"email": {"property": "email"}}},
                }
            ],
            "sla": EXAMPLE,
            "routing": {  # territory_calendars names a territory routing defines
                "territories": [{"name": "emea", "reps": [{"email": "ana@example.com"}]}],
                "fallback": {"owner": "queue@example.com"},
            },
        }
    )
    assert set(root.sla.policies) == {"fast", "mql"}
    with pytest.raises(ValidationError, match="unknown territory 'emea'"):
        HandoffConfig.model_validate({**root.model_dump(by_alias=True), "routing": {}})
    assert HandoffConfig.model_fields["sla"].default == SlaConfig()


def test_negative_window_is_rejected() -> None:
    assert "duration" in _error(_with(["policies", "fast", "first_touch"], "-5m"))


def test_unknown_calendar_is_rejected() -> None:
    message = _error(_with(["policies", "mql", "calendar"], "paris"))
    assert "sla.policies.mql.calendar" in message and "sla.calendars" in message
    assert "unknown calendar" in _error(_with(["territory_calendars"], {"apac": "sydney"}))


def test_backwards_hours_are_rejected() -> None:
    message = _error(_with(["calendars", "ny", "hours"], "17:00-09:00"))
    assert "ends before it starts" in message and "09:00-17:00" in message
    assert "not a range" in _error(_with(["calendars", "ny", "hours"], "9-5"))


def test_unknown_time_zone_is_rejected() -> None:
    message = _error(_with(["calendars", "ny", "timezone"], "America/Gotham"))
    assert "America/New_York" in message


def test_unknown_holiday_country_or_subdivision_is_rejected() -> None:
    assert "ISO country code" in _error(_with(["calendars", "ny", "holidays"], {"country": "XX"}))
    message = _error(_with(["calendars", "ny", "holidays"], {"country": "US", "subdivision": "ZZ"}))
    assert "not a subdivision of US" in message


def test_bad_ladder_and_touch_rules_are_rejected() -> None:
    rung = {"at": "soon", "action": "task_owner"}
    assert "'+15m'" in _error(_with(["policies", "fast", "ladder"], [rung]))
    rung = {"at": "100%", "action": "call_the_ceo"}
    _error(_with(["policies", "fast", "ladder"], [rung]))
    touch = {"kinds": ["page_view"]}
    assert "call" in _error(_with(["policies", "fast", "touch"], touch))


def test_policy_without_any_calendar_is_rejected() -> None:
    data = _with(["default_calendar"], None)
    assert "default_calendar" in _error(data)


def test_two_policies_on_one_lane_are_rejected() -> None:
    data = _with(["policies", "mql", "lane"], "fast")
    assert "one policy" in _error(data)


def test_unknown_lane_and_stage_are_rejected_with_the_closest_name() -> None:
    message = _error(_with(["policies", "mql", "lane"], "mgl"))
    assert message.startswith("sla.policies.mql.lane: lane 'mgl'")
    assert "did you mean 'mql'?" in message and "use fast or mql" in message
    message = _error(_with(["policies", "mql", "stages"], ["mql", "sqll"]))
    assert message.startswith("sla.policies.mql.stages[1]: unknown stage 'sqll'")
    assert "did you mean 'sql'?" in message


def test_a_rep_calendar_names_a_rep_by_email() -> None:
    assert "is not an e-mail address" in _error(_with(["rep_calendars"], {"ana": "london"}))


def test_webhook_rung_needs_a_webhook_url() -> None:
    assert "sla.webhook_url" in _error(_with(["webhook_url"], None))


def test_the_lanes_policies_may_watch_are_the_lanes_clocks_start_in() -> None:
    from config.references import CLOCK_LANES
    from sync.decide import LANE_FAST, LANE_MQL

    assert set(CLOCK_LANES) == {LANE_FAST, LANE_MQL}
