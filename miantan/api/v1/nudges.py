"""Nudge rules over the API (PRODUCT.md F1, F2): the same capabilities as HR's page. List the
organisation's rules, change one (settings, on/off, name, description), and preview how many
people a rule would nudge now.

Every HR partner and administrator of the organisation reads; HR for the whole organisation and
administrators change (`nudges.services` decides and audits). A rule of another organisation
answers 404. A refused input answers 400 with every problem by its field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from miantan.nudges import queries, services
from miantan.nudges.enums import NudgeKind
from miantan.nudges.models import NudgeRule
from miantan.nudges.params import DESCRIPTIONS, effective

from .bodies import FieldErrorsOut, answer_refusals, body_of, parse
from .schemas import ErrorOut

router = Router(tags=["nudges"])
router.add_decorator(answer_refusals)

KINDS = ", ".join(NudgeKind.values)
REFUSED: dict[int, type[Schema]] = {400: FieldErrorsOut, 403: ErrorOut, 404: ErrorOut}


class NudgeRuleOut(Schema):
    id: int
    kind: str = Field(description=KINDS)
    name: str = Field(description="the name HR gave, else the kind's own, in your language")
    description: str
    params: dict[str, Any] = Field(description="the kind's settings, defaults filled in")
    enabled: bool
    last_run_at: datetime | None
    last_count: int = Field(description="people nudged at the last run")
    updated_at: datetime


class NudgeRuleIn(Schema):
    """What to change; what is left out stays as it is."""

    params: dict[str, Any] | None = Field(
        default=None, description="every setting of the kind; one left out takes its default"
    )
    enabled: bool | None = None
    name: str | None = None
    description: str | None = None


class PreviewOut(Schema):
    rule: int
    people: int = Field(description="how many people the rule would nudge now")


def _out(rule: NudgeRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "kind": rule.kind,
        "name": rule.name or str(rule.get_kind_display()),
        "description": rule.description or str(DESCRIPTIONS.get(rule.kind, "")),
        "params": effective(rule.kind, rule.params),
        "enabled": rule.enabled,
        "last_run_at": rule.last_run_at,
        "last_count": rule.last_count,
        "updated_at": rule.updated_at,
    }


@router.get("/nudge-rules", response={200: list[NudgeRuleOut], 403: ErrorOut})
def list_nudge_rules(request: HttpRequest) -> object:
    """The organisation's rules, one of every kind."""
    return [_out(rule) for rule in queries.rules_visible_to(request.user)]


@router.put(
    "/nudge-rules/{int:rule_id}",
    response={200: NudgeRuleOut, **REFUSED},
    openapi_extra=body_of(NudgeRuleIn),
)
def update_nudge_rule(request: HttpRequest, rule_id: int) -> object:
    """Change a rule's settings, switch it on or off, rename or describe it. All or nothing."""
    rule = queries.access_rule(request.user, rule_id)
    # Refused (and audited) before the body is read.
    services.ensure_may_edit(request.user, rule)
    data = parse(NudgeRuleIn, request)
    services.update_rule(
        rule,
        actor=request.user,
        params=data.params,
        enabled=data.enabled,
        name=data.name,
        description=data.description,
    )
    return _out(queries.access_rule(request.user, rule_id))


@router.get(
    "/nudge-rules/{int:rule_id}/preview", response={200: PreviewOut, 403: ErrorOut, 404: ErrorOut}
)
def preview_nudge_rule(request: HttpRequest, rule_id: int) -> object:
    """How many people the rule, with its saved settings, would nudge now (nothing is sent)."""
    rule = queries.access_rule(request.user, rule_id)
    return {"rule": rule.pk, "people": services.preview(rule)}
