"""The scoring and lifecycle sections of `handoff.yaml`.

The defaults ARE the worked default model of the domain notes (fit 50 / behaviour 50, MQL at 60
with 20 from fit, 20% behaviour decay per 30 idle days), so a config with no `scoring:` section
still scores sensibly. Every rule is data; `scoring.model.ScoringModel.from_config` compiles it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal, cast

from pydantic import ConfigDict, Field, field_validator, model_validator

from config.base import Duration, StrictModel
from config.scoring_defaults import (
    ACADEMIC_SUFFIXES,
    BEHAVIOUR_RULES,
    FAST_LANE_TRIGGERS,
    FIT_RULES,
    FREE_MAIL,
    REJECTION_CODES,
    SENIORITY_LEVELS,
)
from connectors.activity_keys import property_name_problem
from connectors.records import ActivityKind

AssetStage = Literal["top", "middle", "bottom"]
RejectionOutcome = Literal["recycle", "disqualify"]


def _compiled(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(
            f"{where} {value!r} is not a valid regular expression ({exc}); "
            "escape special characters, e.g. \\. for a literal dot"
        ) from None
    return value


def _template(value: str, where: str) -> str:
    try:
        value.format(value="x", count=1, s="", assets="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{where} {value!r}: only {{value}}, {{count}}, {{s}} and {{assets}} may appear in "
            f"braces ({exc!r}); double a literal brace: {{{{ }}}}"
        ) from None
    return value


def _lower_list(values: list[str]) -> list[str]:
    return [v.strip().lower() for v in values if v.strip()]


class FitRule(StrictModel):
    """Points when a contact field matches: exactly one of equals / in / regex / range / domains."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    label: str = Field(
        "<Field> is {value}",
        min_length=1,
        description="reason text; {value} is the field value; left out: the field's name and "
        "value, e.g. Employee band is large",
    )
    field: str = Field(
        min_length=1,
        description="a canonical field, email_domain, or a custom field by its name "
        "(connections[].custom_fields)",
    )
    points: int
    equals: str | int | float | bool | None = None
    in_: list[str] | None = Field(None, alias="in", description="any of (case-insensitive)")
    regex: str | None = Field(None, description="searched case-insensitively")
    at_least: float | None = Field(None, description="numeric range: value >= at_least")
    below: float | None = Field(None, description="numeric range: value < below")
    domains: list[str] | None = Field(None, description="the domain or any subdomain of it")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _default_label(cls, data: Any) -> Any:
        if isinstance(data, dict) and "label" not in data and isinstance(data.get("field"), str):
            from config.custom_fields import field_title

            return {**data, "label": f"{field_title(data['field'])} is {{value}}"}
        return data

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return _template(value, "fit rule label")

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _compiled(value, "fit rule regex")

    @model_validator(mode="after")
    def _one_matcher(self) -> FitRule:
        kinds = [
            name
            for name, present in (
                ("equals", self.equals is not None),
                ("in", self.in_ is not None),
                ("regex", self.regex is not None),
                ("at_least/below", self.at_least is not None or self.below is not None),
                ("domains", self.domains is not None),
            )
            if present
        ]
        if len(kinds) != 1:
            raise ValueError(
                f"fit rule '{self.id}': give exactly one of equals, in, regex, at_least/below, "
                f"domains (got {', '.join(kinds) or 'none'})"
            )
        if self.at_least is not None and self.below is not None and self.below <= self.at_least:
            raise ValueError(f"fit rule '{self.id}': below must be greater than at_least")
        return self


class SeniorityLevel(StrictModel):
    name: str = Field(min_length=1, description="shown in reasons, e.g. Director")
    pattern: str = Field(description="regex searched in the title, case-insensitive")
    points: int = Field(ge=0)

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return _compiled(value, "seniority pattern") or value


class TitleLadder(StrictModel):
    """Seniority ladder: the first level whose pattern is found in the title scores."""

    levels: list[SeniorityLevel] = Field(
        default_factory=lambda: [SeniorityLevel.model_validate(x) for x in SENIORITY_LEVELS]
    )
    target_function: str | None = Field(
        None, description="regex the title must also match (e.g. marketing|sales); none = any"
    )

    @field_validator("target_function")
    @classmethod
    def _function(cls, value: str | None) -> str | None:
        return _compiled(value, "title_ladder.target_function")


class ActivityFilter(StrictModel):
    """Which activities a rule counts; every given condition must hold. Only the contact's own
    activities are signals: rep touches never match."""

    kinds: list[ActivityKind] = Field(min_length=1)
    url_contains: list[str] | None = Field(None, description="any of, case-insensitive")
    url_regex: str | None = None
    form_name_regex: str | None = None
    asset_stages: list[AssetStage] | None = None
    properties: dict[str, str] = Field(
        default_factory=dict,
        description="property equals value (case-insensitive): a canonical activity key "
        "(docs/activity-properties.md) or a raw CRM property as raw.<name>, e.g. raw.hs_url",
    )

    @field_validator("url_regex", "form_name_regex")
    @classmethod
    def _regexes(cls, value: str | None) -> str | None:
        return _compiled(value, "activity filter regex")

    @field_validator("properties")
    @classmethod
    def _property_names(cls, value: dict[str, str]) -> dict[str, str]:
        problems = [p for name in value if (p := property_name_problem(name))]
        if problems:
            raise ValueError("; ".join(problems))
        return value


class BehaviourRule(StrictModel):
    """Points per matching activity, capped; or, with min_count + window, a one-off combo bonus
    when min_count matches fall inside any window (e.g. pricing 2+ times in 7 days)."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    label: str = Field(
        min_length=1,
        description="reason text: {count} is the number of matches, {s} an 's' when it is not "
        "1, {assets} the names of what matched (webinar, form, page title, email subject)",
    )
    match: ActivityFilter
    points: int = Field(gt=0, description="per occurrence, or once for a combo")
    cap: int | None = Field(None, gt=0, description="most points this rule can add")
    within: Duration | None = Field(None, description="only activities this recent count")
    min_count: int | None = Field(None, ge=2, description="combo: matches needed in the window")
    window: Duration | None = Field(None, description="combo: the sliding window")
    distinct_days: bool = Field(False, description="combo: count distinct UTC days, not hits")

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return _template(value, "behaviour rule label")

    @model_validator(mode="after")
    def _combo(self) -> BehaviourRule:
        if (self.min_count is None) != (self.window is None):
            raise ValueError(f"behaviour rule '{self.id}': a combo needs both min_count and window")
        if self.cap is not None and self.cap < self.points:
            raise ValueError(
                f"behaviour rule '{self.id}': cap {self.cap} is below points {self.points}"
            )
        return self


class DomainPenalty(StrictModel):
    points: int = Field(le=0, description="a penalty: zero or negative")
    domains: list[str] = Field(default_factory=list, description="the domain or a subdomain")
    suffixes: list[str] = Field(default_factory=list, description="domain endings, e.g. .edu")
    disqualify: bool = Field(False, description="never MQL, never fast lane")
    label: str = "Penalty domain"

    @field_validator("domains", "suffixes")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return _lower_list(values)


class TitlePenalty(StrictModel):
    points: int = Field(-20, le=0)
    pattern: str = r"\b(intern|internship|student|trainee|assistant|apprentice|junior)\b"
    disqualify: bool = False
    label: str = "No budget authority"

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        return _compiled(value, "negative.no_budget_title.pattern") or value


class FlagPenalty(StrictModel):
    points: int = Field(-10, le=0)
    disqualify: bool = False
    label: str = "Unsubscribed"


class NegativeRules(StrictModel):
    academic: DomainPenalty = DomainPenalty(
        points=-30, suffixes=ACADEMIC_SUFFIXES, disqualify=True, label="Student/academic domain"
    )
    free_mail: DomainPenalty = DomainPenalty(
        points=-10, domains=FREE_MAIL, label="Free-mail domain"
    )
    competitor: DomainPenalty = DomainPenalty(points=-50, disqualify=True, label="Competitor")
    no_budget_title: TitlePenalty = TitlePenalty()
    unsubscribed: FlagPenalty = FlagPenalty()


class Caps(StrictModel):
    fit: int = Field(50, ge=0, description="most points from fit rules")
    behaviour: int = Field(50, ge=0, description="most points from behaviour, before decay")


class IcpConfig(StrictModel):
    """Who is outside the ICP: fit below min_fit, a company below min_company_size, or any
    disqualifier. Such a contact's total never passes `ceiling`."""

    min_fit: int = Field(10, ge=0)
    min_company_size: int | None = Field(10, ge=0, description="unknown sizes are not excluded")
    ceiling: int = Field(25, ge=0)


class DecayConfig(StrictModel):
    share: float = Field(0.2, ge=0, le=1, description="behaviour share lost per idle period")
    period: Duration = Field(default=timedelta(days=30))
    mode: Literal["compound", "linear"] = Field(
        "compound", description="compound: 20% of what is left each period; linear: of the start"
    )


class MqlRule(StrictModel):
    threshold: int = Field(60, ge=0, description="total needed")
    min_fit: int = Field(20, ge=0, description="fit needed as well")
    or_fit_above: int | None = Field(None, description="alternative: fit above this ...")
    or_behaviour_above: int | None = Field(None, description="... and behaviour above this")

    @model_validator(mode="after")
    def _alt(self) -> MqlRule:
        if (self.or_fit_above is None) != (self.or_behaviour_above is None):
            raise ValueError("mql: set both or_fit_above and or_behaviour_above, or neither")
        return self


class FastLaneTrigger(StrictModel):
    """Sales-ready at once: a matching recent activity, or a contact field value (referral)."""

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1)
    match: ActivityFilter | None = None
    field: str | None = None
    values: list[str] | None = Field(None, description="field values, case-insensitive")

    @model_validator(mode="after")
    def _one(self) -> FastLaneTrigger:
        by_field = self.field is not None and self.values is not None
        if (self.match is not None) == by_field:
            raise ValueError(f"fast-lane trigger '{self.id}': give either match or field + values")
        return self


class FastLaneConfig(StrictModel):
    within: Duration = Field(
        default=timedelta(days=14), description="how recent a trigger activity must be"
    )
    triggers: list[FastLaneTrigger] = Field(
        default_factory=lambda: [FastLaneTrigger.model_validate(x) for x in FAST_LANE_TRIGGERS]
    )


def default_fit_rules() -> list[FitRule]:
    """The worked default fit rules (size bands, industry, region, stack)."""
    return [FitRule.model_validate(x) for x in FIT_RULES]


def default_behaviour_rules() -> list[BehaviourRule]:
    """The worked default behaviour rules (pricing, webinars, funnel assets, email, visits)."""
    return [BehaviourRule.model_validate(x) for x in BEHAVIOUR_RULES]


class RewriteReasonWhen(StrictModel):
    """When the reason line (and breakdown) in the CRM is rewritten: a new or lost signal, a
    verdict change (MQL, fast lane, disqualified), a new model, or the score moving this far
    from the one the line was written with. Never for the passing of time alone."""

    score_delta: int = Field(
        5, ge=0, description="points the score must move since the reasons were last written"
    )


class ScoringConfig(StrictModel):
    """The scoring model: fit + behaviour - penalties, capped, decayed, thresholded."""

    fit: list[FitRule] = Field(default_factory=default_fit_rules)
    title_ladder: TitleLadder = TitleLadder()
    behaviour: list[BehaviourRule] = Field(default_factory=default_behaviour_rules)
    negative: NegativeRules = NegativeRules()
    caps: Caps = Caps()
    icp: IcpConfig = IcpConfig()
    decay: DecayConfig = DecayConfig()
    mql: MqlRule = MqlRule()
    fast_lane: FastLaneConfig = FastLaneConfig()
    lookback: Duration = Field(
        default=timedelta(days=365), description="activities older than this are ignored"
    )
    rewrite_reason_when: RewriteReasonWhen = RewriteReasonWhen()

    @model_validator(mode="after")
    def _unique_ids(self) -> ScoringConfig:
        ids = [r.id for r in self.fit] + [r.id for r in self.behaviour]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"scoring rule ids must be unique: {', '.join(dupes)} repeated")
        return self


class LifecycleConfig(StrictModel):
    """Lifecycle policy: automation owns stages up to MQL; sales' rejections recycle or
    disqualify by reason code, and Handoff carries them out (docs/lifecycle.md)."""

    rejection_codes: dict[str, RejectionOutcome] = Field(
        default_factory=lambda: cast(dict[str, RejectionOutcome], dict(REJECTION_CODES)),
        description="valid rejection reason code -> recycle | disqualify. A rejection with one "
        "of these codes, at MQL, SAL or SQL, is carried out: the lifecycle stage is written to "
        "the `recycled` or `disqualified` value of the owning connection's "
        "`lifecycle_stage.values`; the owner stays. Any other value: nothing changes, and the "
        "report flags it",
    )
    working_statuses: list[str] = Field(
        default_factory=list,
        description="values of the rejection reason field that mean sales is working the lead, "
        "not rejecting it (HubSpot's lead status: NEW, OPEN, IN_PROGRESS, CONNECTED ...): no flag",
    )
    accepted_statuses: list[str] = Field(
        default_factory=list,
        description="values of the rejection reason field that mean sales accepted the lead: an "
        "MQL holding one is a SAL (HubSpot keeps MQL and SAL as one lifecycle stage; its lead "
        "status says which: IN_PROGRESS, ATTEMPTED_TO_CONTACT, CONNECTED ...)",
    )
    recycle_cooldown: Duration = Field(
        default=timedelta(days=90), description="a recycled lead may re-MQL after this"
    )
    auto_disqualify: bool = Field(
        False, description="move automation-owned leads with a scoring disqualifier to disqualified"
    )

    @field_validator("rejection_codes")
    @classmethod
    def _codes(cls, value: dict[str, RejectionOutcome]) -> dict[str, RejectionOutcome]:
        bad = [c for c in value if not re.fullmatch(r"[a-z0-9_]+", c)]
        if bad:
            raise ValueError(f"rejection code {bad[0]!r}: use lower_snake_case, e.g. no_budget")
        return value
