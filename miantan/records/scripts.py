"""The script library (PRODUCT.md C7): lines an interviewer may say (openings, open questions,
empathy responses, closings) for each kind of talk, in Chinese and English.

Every organisation starts with its own copy of the built-in scripts (`data/scripts.json`,
`install_builtin_scripts`); from then on they are the organisation's and HR changes them. The
same people as for record templates read (every HR partner and administrator) and change (HR
for the whole organisation and administrators) them; every change is audited
(`records.script.<event>`), a refusal too.

During a talk its interviewer (the manager side of the record) sees the scripts of the talk's
kind beside the record and puts one into their private notes with one click (`insert_script`).
That adds a private note like any other (`records.notes.add_note`, audited
`records.note.added`); which script it was is not recorded anywhere, so no event says that an
empathy response for distress was used in somebody's talk. The reads (HR's list, the scripts
of a record, the empathy responses for an emotion cue) are in `records.scripts_queries`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import Http404
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import ConflictError, InvalidFields
from miantan.core.ids import as_id
from miantan.people.models import Employee, Organisation
from miantan.people.scopes import scope_for

from .definitions import LANGUAGES
from .enums import NoteTier, ScriptEmotion, ScriptScenario, ScriptStage
from .models import Note, Record, Script
from .notes import add_note
from .rules import can_edit_record_templates, may_use_scripts, side_of
from .scripts_queries import deny

DATA_FILE = Path(__file__).resolve().parent / "data" / "scripts.json"
DATA_FORMAT = "miantan.scripts"
MAX_TEXT = 1000
MAX_SCRIPTS = 2000


class InvalidScript(InvalidFields):
    error_code = "invalid_script"


# --- the built-ins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinScript:
    key: str
    scenario: str
    stage: str
    emotion: str
    text: dict[str, str]


@functools.cache
def builtin_scripts() -> tuple[BuiltinScript, ...]:
    """The scripts shipped in `data/scripts.json`, checked like those HR writes."""
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    if document.get("format") != DATA_FORMAT:
        raise ValueError(f"{DATA_FILE} is not a {DATA_FORMAT} file")
    scripts: list[BuiltinScript] = []
    for item in document["scripts"]:
        errors: dict[str, str] = {}
        scenario, stage, emotion, text = _clean(
            item.get("scenario"),
            item.get("stage"),
            item.get("emotion", ""),
            item.get("text"),
            errors,
        )
        if errors or not all(text.get(language) for language in LANGUAGES):
            raise ValueError(f"{DATA_FILE}: script {item.get('key')!r}: {errors or 'one language'}")
        scripts.append(BuiltinScript(str(item["key"]), scenario, stage, emotion, text))
    if len({script.key for script in scripts}) != len(scripts):
        raise ValueError(f"{DATA_FILE}: a key is used twice")
    return tuple(scripts)


def install_builtin_scripts(organisation: Organisation) -> int:
    """Give the organisation each built-in script it has not had yet (by key): one it changed
    or deactivated stays as it is. Returns how many were added; running it again adds none."""
    had = set(
        Script.objects.filter(organisation=organisation)
        .exclude(builtin="")
        .values_list("builtin", flat=True)
    )
    shipped = builtin_scripts()
    missing = [(n, s) for n, s in enumerate(shipped, start=1) if s.key not in had]
    if not missing:
        return 0
    with transaction.atomic():
        # Installed at the same moment by another request: theirs stand (the unique builtin key).
        Script.objects.bulk_create(
            [
                Script(
                    organisation=organisation,
                    scenario=s.scenario,
                    stage=s.stage,
                    emotion=s.emotion,
                    text=dict(s.text),
                    position=n,
                    builtin=s.key,
                )
                for n, s in missing
            ],
            ignore_conflicts=True,
        )
        audit(
            "records.script.installed",
            actor=None,
            object_type="records.script",
            organisation_id=organisation.pk,
            data={"scripts": len(missing)},
        )
    return len(missing)


# --- HR: writes --------------------------------------------------------------------------------


def ensure_editor(user: Any, organisation: Organisation, script: Script | None = None) -> None:
    """Refuse (audited) somebody who may not change scripts, before showing the form."""
    action = "records.script.edited" if script is not None else "records.script.created"
    _editor(user, organisation, action, script)


def create_script(
    organisation: Organisation,
    *,
    actor: Any,
    scenario: Any,
    stage: Any,
    text: Any,
    emotion: Any = "",
) -> Script:
    """A new script, after the organisation's others. `text` is {"zh-hans": …, "en": …} (one
    language is enough; a plain string is taken as Chinese); `emotion` only for an empathy
    response."""
    _editor(actor, organisation, "records.script.created")
    errors: dict[str, str] = {}
    clean = _clean(scenario, stage, emotion, text, errors)
    if Script.objects.filter(organisation=organisation).count() >= MAX_SCRIPTS:
        errors["text"] = _("An organisation has at most %(limit)s scripts.") % {
            "limit": MAX_SCRIPTS
        }
    if errors:
        raise InvalidScript(errors)
    with transaction.atomic():
        last = Script.objects.filter(organisation=organisation).aggregate(n=Max("position"))["n"]
        script = Script.objects.create(
            organisation=organisation,
            scenario=clean[0],
            stage=clean[1],
            emotion=clean[2],
            text=clean[3],
            position=(last or 0) + 1,
        )
        _audit("records.script.created", actor, script)
    return script


def update_script(
    script: Script, *, actor: Any, scenario: Any, stage: Any, text: Any, emotion: Any = ""
) -> Script:
    """The script's kind of talk, stage, emotion and text, checked as for a new one."""
    _editor(actor, script.organisation, "records.script.edited", script)
    errors: dict[str, str] = {}
    scenario, stage, emotion, text = _clean(scenario, stage, emotion, text, errors)
    if errors:
        raise InvalidScript(errors)
    if (scenario, stage, emotion, text) == (
        script.scenario,
        script.stage,
        script.emotion,
        script.text,
    ):
        return script
    with transaction.atomic():
        script.scenario, script.stage, script.emotion, script.text = scenario, stage, emotion, text
        script.save(update_fields=["scenario", "stage", "emotion", "text", "updated_at"])
        _audit("records.script.edited", actor, script)
    return script


def set_active(script: Script, active: bool, *, actor: Any) -> Script:
    """Deactivate a script (no talk offers it any more; notes made with it keep their text) or
    use it again."""
    action = "records.script.reactivated" if active else "records.script.deactivated"
    _editor(actor, script.organisation, action, script)
    if script.is_active == active:
        return script
    with transaction.atomic():
        script.is_active = active
        script.save(update_fields=["is_active", "updated_at"])
        _audit(action, actor, script)
    return script


# --- during a talk -----------------------------------------------------------------------------


def insert_script(
    record: Record, script_id: Any, *, actor: Any, language: str | None = None
) -> Note:
    """The script's text (in `language`, else the active one) as a new private note of the
    interviewer. Anyone else is refused (audited as a refused note); a script of another
    organisation or unknown is 404, a deactivated one is refused (409)."""
    talk = record.talk
    if not may_use_scripts(side_of(actor, talk)):
        audit(
            "records.note.added",
            actor=actor,
            outcome=Outcome.DENIED,
            obj=record,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise PermissionDenied
    pk = as_id(script_id)
    script = (
        Script.objects.filter(organisation_id=record.organisation_id, pk=pk).first()
        if pk is not None
        else None
    )
    if script is None:
        raise Http404
    if not script.is_active:
        raise ConflictError(
            _("HR has taken this script out of use; choose another one."), code="script_retired"
        )
    return add_note(
        record, actor=actor, body=script.text_in(language or get_language()), tier=NoteTier.PRIVATE
    )


# --- helpers -----------------------------------------------------------------------------------


def _clean(
    scenario: Any, stage: Any, emotion: Any, text: Any, errors: dict[str, str]
) -> tuple[str, str, str, dict[str, str]]:
    if scenario not in ScriptScenario.values:
        errors["scenario"] = _("Choose a kind of talk: %(kinds)s.") % {
            "kinds": ", ".join(ScriptScenario.values)
        }
    if stage not in ScriptStage.values:
        errors["stage"] = _("Choose a stage: %(stages)s.") % {
            "stages": ", ".join(ScriptStage.values)
        }
    emotion = emotion or ""
    if emotion and emotion not in ScriptEmotion.values:
        errors["emotion"] = _("Choose an emotion: %(emotions)s, or none.") % {
            "emotions": ", ".join(ScriptEmotion.values)
        }
    elif emotion and stage != ScriptStage.EMPATHY:
        errors["emotion"] = _("Only an empathy response answers an emotion.")
    return str(scenario), str(stage), str(emotion), _text(text, errors)


def _text(raw: Any, errors: dict[str, str]) -> dict[str, str]:
    """A bilingual text {"zh-hans": …, "en": …}; a plain string is taken as Chinese."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"zh-hans": raw}
    if not isinstance(raw, dict) or any(
        not isinstance(k, str) or not isinstance(v, str) for k, v in raw.items()
    ):
        errors["text"] = _('Give the text as {"zh-hans": …, "en": …}.')
        return {}
    cleaned = {k.lower(): v.strip() for k, v in raw.items() if k.lower() in LANGUAGES}
    cleaned = {k: v for k, v in cleaned.items() if v}
    if not cleaned:
        errors["text"] = _("Write the script in Chinese or English.")
    elif any(len(value) > MAX_TEXT for value in cleaned.values()):
        errors["text"] = _("Keep it to %(limit)s characters.") % {"limit": MAX_TEXT}
    return cleaned


def _editor(
    actor: Any, organisation: Organisation, action: str, script: Script | None = None
) -> Employee:
    """The acting employee, if they may change the organisation's scripts; else the refusal is
    audited and PermissionDenied raised."""
    own = scope_for(actor).employee
    if (
        own is None
        or not own.is_active
        or own.organisation_id != organisation.pk
        or not can_edit_record_templates.test(actor)
    ):
        deny(action, actor, script.pk if script is not None else "")
    return own


def _audit(action: str, actor: Any, script: Script) -> None:
    audit(
        action,
        actor=actor,
        obj=script,
        organisation_id=script.organisation_id,
        data={"scenario": script.scenario, "stage": script.stage, "emotion": script.emotion},
    )


__all__ = [
    "MAX_TEXT",
    "BuiltinScript",
    "InvalidScript",
    "builtin_scripts",
    "create_script",
    "ensure_editor",
    "insert_script",
    "install_builtin_scripts",
    "set_active",
    "update_script",
]
