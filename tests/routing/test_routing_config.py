"""`config validate` for the routing section: each problem is one clear line."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from routing_support import emea_config

from config.references import reference_problems
from config.routing import RoutingConfig


def _problems(raw: dict[str, Any]) -> list[str]:
    """The field checks' and the cross-reference checks' messages (as the loader runs both)."""
    found = [message for _, message in reference_problems({"routing": raw})]
    try:
        RoutingConfig.model_validate(raw)
    except ValidationError as exc:
        found += [str(error["msg"]) for error in exc.errors()]
    return found


def _error(raw: dict[str, Any]) -> str:
    problems = _problems(raw)
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    return problems[0]


def _territory(name: str, match: dict[str, Any], *reps: dict[str, Any], **extra: Any) -> dict:
    return {"name": name, "match": match, "reps": list(reps), **extra}


def _routing(*territories: dict[str, Any]) -> dict[str, Any]:
    return {"fallback": {"owner": "queue@x.com"}, "territories": list(territories)}


def test_example_config_loads_and_normalises_emails_and_values() -> None:
    config = emea_config(fallback={"owner": " Queue@X.com "})
    assert config.fallback is not None and config.fallback.owner == "queue@x.com"
    emea = config.territory("EMEA-mid")
    assert emea.match.regions == ["emea"]
    assert [r.weight for r in emea.reps] == [1, 1, 1, 1]
    assert "eve@x.com" in config.all_emails()


def test_default_routing_section_is_empty_and_valid() -> None:
    assert RoutingConfig().territories == []


def test_conflicting_weights_for_one_rep() -> None:
    message = _error(
        _routing(
            _territory("A", {"countries": ["de"]}, {"email": "bob@x.com", "weight": 2}),
            _territory("B", {"countries": ["fr"]}, {"email": "bob@x.com", "weight": 3}),
        )
    )
    assert "bob@x.com has weight 2 in 'A' but 3 in 'B'" in message


def test_same_rep_same_weight_in_two_territories_is_fine() -> None:
    assert not _problems(
        _routing(
            _territory("A", {"countries": ["de"]}, {"email": "bob@x.com", "weight": 2}),
            _territory("B", {"countries": ["fr"]}, {"email": "bob@x.com", "weight": 2}),
        )
    )


def test_overlapping_territories_with_equal_specificity_are_a_tie() -> None:
    message = _error(
        _routing(
            _territory("NA", {"countries": ["us", "ca"]}, {"email": "a@x.com"}),
            _territory("Healthcare", {"industries": ["healthcare"]}, {"email": "b@x.com"}),
        )
    )
    assert "'NA' and 'Healthcare' overlap with equal specificity" in message


def test_disjoint_or_more_specific_territories_are_not_a_tie() -> None:
    assert not _problems(
        _routing(
            _territory("US", {"countries": ["us"]}, {"email": "a@x.com"}),
            _territory("DE", {"countries": ["de"]}, {"email": "b@x.com"}),
            _territory("California", {"states": ["ca"]}, {"email": "c@x.com"}),
            _territory(
                "SMB", {"company_size": {"max": 49}, "countries": ["fr"]}, {"email": "d@x.com"}
            ),
            _territory(
                "Mid", {"company_size": {"min": 50}, "countries": ["fr"]}, {"email": "e@x.com"}
            ),
        )
    )


def test_unknown_backup_is_reported() -> None:
    message = _error(_routing(_territory("A", {}, {"email": "a@x.com"}, backup="nobody@x.com")))
    assert "backup nobody@x.com is not a rep, manager or the fallback owner" in message


def test_out_of_office_range_backwards() -> None:
    rep = {"email": "a@x.com", "out_of_office": [{"start": "2026-12-10", "end": "2026-12-01"}]}
    message = _error(_routing(_territory("A", {}, rep)))
    assert "ends (2026-12-01) before it starts (2026-12-10)" in message


def test_company_size_band_backwards() -> None:
    message = _error(_routing(_territory("A", {"company_size": {"min": 500, "max": 50}})))
    assert "company_size max (50) is below min (500)" in message


def test_working_hours_need_a_real_zone_and_order() -> None:
    rep = {"email": "a@x.com", "working_hours": {"timezone": "Mars/Olympus"}}
    assert "unknown time zone 'Mars/Olympus'" in _error(_routing(_territory("A", {}, rep)))
    rep = {"email": "a@x.com", "working_hours": {"start": "18:00", "end": "09:00"}}
    assert "end (09:00) must be after start (18:00)" in _error(_routing(_territory("A", {}, rep)))


def test_bad_email_weight_and_capacity() -> None:
    assert "is not an e-mail address" in _error(_routing(_territory("A", {}, {"email": "bob"})))
    assert "greater than or equal to 1" in _error(
        _routing(_territory("A", {}, {"email": "a@x.com", "weight": 0}))
    )
    assert "greater than or equal to 1" in _error(
        _routing(_territory("A", {}, {"email": "a@x.com", "capacity": {"per_day": 0}}))
    )


def test_territories_need_a_fallback_owner() -> None:
    message = _error({"territories": [_territory("A", {}, {"email": "a@x.com"})]})
    assert "routing.fallback.owner is required" in message


def test_duplicates_are_reported() -> None:
    assert "territory name 'A' is already used by routing.territories[0]" in _error(
        _routing(_territory("A", {"countries": ["de"]}), _territory("A", {"countries": ["fr"]}))
    )
    assert "lists a@x.com more than once" in _error(
        _routing(_territory("A", {}, {"email": "a@x.com"}, {"email": "A@x.com"}))
    )


def test_unknown_keys_are_rejected() -> None:
    message = _error(_routing(_territory("A", {"country": ["de"]})))
    assert "Extra inputs are not permitted" in message
