"""The talk script library over the API: the same capabilities as HR's script pages. List the
organisation's scripts (filtered by kind of talk, stage, emotion, whether in use), read one,
add one, change one or take it out of use.

Every HR partner and administrator of the organisation reads; HR for the whole organisation and
administrators write (`records.scripts` decides and audits). Scripts of another organisation
answer 404. A refused input answers 400 with every problem by its field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.records import scripts as services
from miantan.records import scripts_queries as queries
from miantan.records.enums import ScriptEmotion, ScriptScenario, ScriptStage
from miantan.records.models import Script
from miantan.records.rules import can_view_record_templates

from .bodies import body_of, parse
from .schemas import ErrorOut

router = Router(tags=["scripts"])

Text = dict[str, str]
TEXT = '{"zh-hans": …, "en": …}: one language is enough; a plain string is taken as Chinese'
SCENARIOS = ", ".join(ScriptScenario.values)
STAGES = ", ".join(ScriptStage.values)
EMOTIONS = ", ".join(ScriptEmotion.values)


class ScriptOut(Schema):
    id: int
    scenario: str = Field(description=f"the kind of talk: {SCENARIOS}")
    stage: str = Field(description=f"where in the talk: {STAGES}")
    emotion: str = Field(description=f"what an empathy response answers: {EMOTIONS}, or ''")
    text: Text
    is_active: bool = Field(description="talks offer the script")
    builtin: str = Field(description="the built-in script it was made from ('' for one HR wrote)")
    position: int
    updated_at: datetime


class ScriptErrorOut(Schema):
    detail: str
    code: str
    errors: dict[str, str]


class ScriptIn(Schema):
    scenario: str = Field(description=SCENARIOS)
    stage: str = Field(description=STAGES)
    emotion: str = Field(default="", description=f"{EMOTIONS}, or '' (empathy responses only)")
    text: Text | str = Field(description=TEXT)


class ScriptUpdateIn(Schema):
    """What to change; what is left out stays as it is."""

    scenario: str | None = None
    stage: str | None = None
    emotion: str | None = None
    text: Text | str | None = Field(default=None, description=TEXT)
    is_active: bool | None = None


def _answer_refusals(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return operation(*args, **kwargs)
        except services.InvalidScript as error:
            errors = {place: str(message) for place, message in error.errors.items()}
            return Status(400, {"detail": str(error.message), "code": error.code, "errors": errors})

    return run


router.add_decorator(_answer_refusals)

REFUSED: dict[int, type[Schema]] = {400: ScriptErrorOut, 403: ErrorOut, 404: ErrorOut}


def _out(script: Script) -> dict[str, Any]:
    return {
        "id": script.pk,
        "scenario": script.scenario,
        "stage": script.stage,
        "emotion": script.emotion,
        "text": script.text,
        "is_active": script.is_active,
        "builtin": script.builtin,
        "position": script.position,
        "updated_at": script.updated_at,
    }


@router.get("/scripts", response={200: list[ScriptOut], 403: ErrorOut})
def list_scripts(
    request: HttpRequest,
    scenario: str = "",
    stage: str = "",
    emotion: str = "",
    active: bool | None = None,
) -> object:
    """The organisation's scripts in the order talks show them, filtered by what is given."""
    scope = scope_for(request.user)
    if scope.organisation_id is None or not can_view_record_templates.test(request.user):
        raise PermissionDenied
    found = queries.scripts_visible_to(
        request.user, scenario=scenario, stage=stage, emotion=emotion, active=active
    )
    return [_out(script) for script in found]


@router.get("/scripts/{int:script_id}", response={200: ScriptOut, **REFUSED})
def get_script(request: HttpRequest, script_id: int) -> object:
    """One script."""
    return _out(queries.access_script(request.user, script_id))


@router.post("/scripts", response={201: ScriptOut, **REFUSED}, openapi_extra=body_of(ScriptIn))
def create_script(request: HttpRequest) -> object:
    """A new script, after the organisation's others."""
    scope = scope_for(request.user)
    if scope.organisation_id is None:
        raise PermissionDenied
    organisation = Organisation.objects.get(pk=scope.organisation_id)
    # Refused (and audited) before the body is read.
    services.ensure_editor(request.user, organisation)
    data = parse(ScriptIn, request, error=services.InvalidScript)
    made = services.create_script(
        organisation,
        actor=request.user,
        scenario=data.scenario,
        stage=data.stage,
        emotion=data.emotion,
        text=data.text,
    )
    return Status(201, _out(made))


@router.put(
    "/scripts/{int:script_id}",
    response={200: ScriptOut, **REFUSED},
    openapi_extra=body_of(ScriptUpdateIn),
)
def update_script(request: HttpRequest, script_id: int) -> object:
    """Change the kind of talk, stage, emotion, text or whether talks offer the script. All or
    nothing."""
    script = queries.access_script(request.user, script_id)
    services.ensure_editor(request.user, script.organisation, script)
    data = parse(ScriptUpdateIn, request, error=services.InvalidScript)
    with transaction.atomic():
        if any(v is not None for v in (data.scenario, data.stage, data.emotion, data.text)):
            stage = data.stage if data.stage is not None else script.stage
            emotion = data.emotion if data.emotion is not None else script.emotion
            # A script that stops being an empathy response answers no emotion any more.
            if data.stage is not None and data.emotion is None and stage != ScriptStage.EMPATHY:
                emotion = ""
            services.update_script(
                script,
                actor=request.user,
                scenario=data.scenario if data.scenario is not None else script.scenario,
                stage=stage,
                emotion=emotion,
                text=data.text if data.text is not None else script.text,
            )
        if data.is_active is not None:
            services.set_active(script, data.is_active, actor=request.user)
    return _out(queries.access_script(request.user, script_id))
