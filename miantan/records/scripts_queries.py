"""Reading the script library (PRODUCT.md C7; the writes are in `records.scripts`): the
organisation's scripts for HR, the scripts a record's interviewer is offered, the empathy
responses the talk's emotion cues ask for.

HR partners and administrators read the library (the template predicates); beside a record
only its interviewer (the manager side) is offered scripts. Reading a script is no reading of
personal data: only a refusal is audited.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import get_language

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.ids import as_id
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for

from . import builtin
from .enums import ScriptEmotion, ScriptScenario, ScriptStage
from .models import Record, Script
from .rules import (
    can_edit_record_templates,
    can_view_record_templates,
    may_use_scripts,
    may_write_notes,
    side_of,
)

# A record's kind of talk: by the built-in template its template was made from, else by the
# talk's topic (interviews.enums.Topic).
SCENARIO_OF_TEMPLATE = {
    builtin.ANNUAL: ScriptScenario.ANNUAL,
    builtin.QUARTERLY: ScriptScenario.QUARTERLY,
    builtin.MONTHLY: ScriptScenario.MONTHLY,
    builtin.NEW_HIRE: ScriptScenario.NEW_HIRE,
    builtin.IMPROVEMENT: ScriptScenario.IMPROVEMENT,
    builtin.CAREER: ScriptScenario.CAREER,
    builtin.PROMOTION: ScriptScenario.CAREER,
}
SCENARIO_OF_TOPIC = {
    "quarterly_review": ScriptScenario.QUARTERLY,
    "career": ScriptScenario.CAREER,
    "promotion": ScriptScenario.CAREER,
    "improvement": ScriptScenario.IMPROVEMENT,
    "project_recognition": ScriptScenario.MONTHLY,
    "other": ScriptScenario.MONTHLY,
}
STAGE_ORDER = tuple(ScriptStage)


# --- HR ----------------------------------------------------------------------------------------


def scripts_visible_to(
    user: Any, *, scenario: str = "", stage: str = "", emotion: str = "", active: bool | None = None
) -> QuerySet[Script]:
    """The organisation's scripts for its HR partners and administrators (none for anyone
    else), by stage and position, filtered by what is given."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_view_record_templates.test(user):
        return Script.objects.none()
    scripts = Script.objects.filter(organisation_id=scope.organisation_id)
    if scenario:
        scripts = scripts.filter(scenario=scenario)
    if stage:
        scripts = scripts.filter(stage=stage)
    if emotion:
        scripts = scripts.filter(emotion=emotion)
    if active is not None:
        scripts = scripts.filter(is_active=active)
    return scripts.order_by("position", "pk")


def access_script(user: Any, script_id: Any) -> Script:
    """The script, for a reader of scripts; 404 for one of another organisation or unknown,
    PermissionDenied (audited) for somebody who reads no scripts."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_view_record_templates.test(user):
        deny("records.script.viewed", user, script_id)
    pk = as_id(script_id)
    script = scripts_visible_to(user).filter(pk=pk).first() if pk is not None else None
    if script is None:
        raise Http404
    return script


def may_edit(user: Any, organisation_id: int | None) -> bool:
    """The user may change the scripts of this organisation (to show the buttons)."""
    scope = scope_for(user)
    return scope.organisation_id == organisation_id and bool(can_edit_record_templates.test(user))


# --- during a talk -----------------------------------------------------------------------------


def scenario_of(record: Record) -> str:
    """The record's kind of talk: that of the built-in template its template was made from
    (or whose key it has), else that of the talk's topic."""
    template = record.template_version.template
    for key in (template.builtin, template.key):
        if key in SCENARIO_OF_TEMPLATE:
            return SCENARIO_OF_TEMPLATE[key].value
    return SCENARIO_OF_TOPIC.get(record.talk.topic, ScriptScenario.MONTHLY).value


def scripts_for_scenario(organisation_id: int, scenario: str) -> dict[str, list[Script]]:
    """The active scripts of the kind of talk and those for any talk, by stage in the order of
    a talk (stages without scripts left out); the kind's own first."""
    scripts = Script.objects.filter(
        organisation_id=organisation_id,
        is_active=True,
        scenario__in=(scenario, ScriptScenario.GENERAL),
    )
    ordered = sorted(scripts, key=lambda s: (s.scenario != scenario, s.position, s.pk))
    grouped: dict[str, list[Script]] = {}
    for stage in STAGE_ORDER:
        found = [s for s in ordered if s.stage == stage]
        if found:
            grouped[stage.value] = found
    return grouped


def may_use(user: Any, record: Record) -> bool:
    """The user is the record's interviewer: the panel of scripts is theirs."""
    return may_use_scripts(side_of(user, record.talk))


def may_insert(user: Any, record: Record) -> bool:
    """The interviewer may put a script into their notes now (the record is still written)."""
    side = side_of(user, record.talk)
    return may_use_scripts(side) and may_write_notes(side, record)


def scripts_for_cue(
    organisation: Organisation | int, label: str, language: str | None, *, scenario: str = ""
) -> list[Script]:
    """The active empathy responses for an emotion the talk's cues name ("frustration",
    "distress", "disengagement", "defensiveness"): those of `scenario` first, then those for
    any talk, then the rest; within each, those written in `language` first. An unknown
    label has none."""
    if label not in ScriptEmotion.values:
        return []
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    scripts = Script.objects.filter(
        organisation_id=organisation_id,
        is_active=True,
        stage=ScriptStage.EMPATHY,
        emotion=label,
    )
    language = (language or get_language() or "zh-hans").lower()

    def rank(script: Script) -> tuple[int, int, int, int]:
        if scenario and script.scenario == scenario:
            kind = 0
        else:
            kind = 1 if script.scenario == ScriptScenario.GENERAL else 2
        written = 0 if (script.text or {}).get(language) else 1
        return (kind, written, script.position, script.pk)

    return sorted(scripts, key=rank)


# --- helpers -----------------------------------------------------------------------------------


def deny(action: str, actor: Any, object_id: Any = "") -> NoReturn:
    """Audit the refusal of a script's reading or change, then refuse."""
    own = scope_for(actor).employee
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        object_type="records.script",
        object_id=str(object_id)[:64],
        organisation_id=own.organisation_id if own is not None else None,
    )
    raise PermissionDenied
