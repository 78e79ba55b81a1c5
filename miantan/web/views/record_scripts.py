"""The script library beside a talk's record, for its interviewer (PRODUCT.md C7).

The record page includes `web/records/_scripts.html` with the context of `scripts_for_record`;
a script's button posts here and the script's text becomes a private note of the interviewer
(`records.scripts.insert_script`). With htmx the notes panel is swapped in place; without it
the record page is shown again at the notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.records import scripts, scripts_queries
from miantan.records.enums import ScriptEmotion, ScriptScenario, ScriptStage
from miantan.records.queries import RecordPage, access_record

from . import record_extras


@dataclass(frozen=True)
class ScriptLine:
    id: int
    text: str
    emotion: str  # "" or a ScriptEmotion value
    emotion_label: str


@dataclass(frozen=True)
class ScriptStageView:
    key: str
    label: str
    scripts: list[ScriptLine]


def scripts_for_record(user: Any, page: RecordPage) -> dict[str, Any]:
    """What `_scripts.html` shows, for the record's interviewer (an empty dict for anyone
    else, and before the record is opened):

    - `script_stages`: list of `ScriptStageView` (key, label, scripts: list of `ScriptLine`
      with id, text in the viewer's language, emotion and its label), in the order of a talk;
    - `script_scenario`: the label of the record's kind of talk;
    - `scripts_can_insert`: the interviewer may put a script into their notes now (not once
      the record is confirmed)."""
    record = page.record
    if record is None or page.limited_to is not None:
        return {}
    record.talk = page.talk
    if not scripts_queries.may_use(user, record):
        return {}
    language = get_language()
    scenario = scripts_queries.scenario_of(record)
    emotions = dict(ScriptEmotion.choices)
    stages = dict(ScriptStage.choices)
    grouped = scripts_queries.scripts_for_scenario(record.organisation_id, scenario)
    return {
        "script_stages": [
            ScriptStageView(
                key=stage,
                label=str(stages[stage]),
                scripts=[
                    ScriptLine(
                        id=s.pk,
                        text=s.text_in(language),
                        emotion=s.emotion,
                        emotion_label=str(emotions.get(s.emotion, "")),
                    )
                    for s in found
                ],
            )
            for stage, found in grouped.items()
        ],
        "script_scenario": str(ScriptScenario(scenario).label),
        "scripts_can_insert": scripts_queries.may_insert(user, record),
    }


@login_required
@require_POST
def script_insert(request: HttpRequest, talk_id: int, script_id: int) -> HttpResponse:
    """The script's text as a new private note of the interviewer."""
    page = access_record(request.user, talk_id)
    record = page.record
    # No record yet, or a colleague who reads only the sections they were mentioned in.
    if record is None or page.limited_to is not None:
        raise Http404
    record.talk = page.talk
    htmx = request.headers.get("HX-Request") == "true"
    try:
        scripts.insert_script(record, script_id, actor=request.user, language=get_language())
    except DomainError as error:
        status, ok = str(error.message), False
    else:
        status, ok = _("The script was added to your private notes."), True
    if not htmx:
        (messages.success if ok else messages.error)(request, status)
        return redirect(reverse("web:record", kwargs={"talk_id": page.talk.pk}) + "#notes")
    context = {**record_extras.extras_context(request.user, page), "talk": page.talk}
    return render(
        request,
        "web/records/_notes_after_script.html",
        {**context, "script_status": status, "script_ok": ok},
    )
