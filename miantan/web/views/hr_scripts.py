"""HR's script library (PRODUCT.md C7): the list with its filters, a new script, one script
to read or change, deactivate and use again.

Every HR partner and administrator of the organisation reads the scripts; HR for the whole
organisation and administrators change them. The services in `records.scripts` decide and
audit; these views only show what they may and put the services' errors on the inputs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError, InvalidFields
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.records import scripts as services
from miantan.records import scripts_queries as queries
from miantan.records.enums import ScriptEmotion, ScriptScenario, ScriptStage
from miantan.records.models import Script
from miantan.records.rules import can_view_record_templates

PER_PAGE = 40
ANY = ("", pgettext_lazy("filter", "All"))


class FilterForm(forms.Form):
    scenario = forms.ChoiceField(
        label=gettext_lazy("Kind of talk"), choices=[ANY, *ScriptScenario.choices], required=False
    )
    stage = forms.ChoiceField(
        label=pgettext_lazy("script", "Stage"), choices=[ANY, *ScriptStage.choices], required=False
    )
    emotion = forms.ChoiceField(
        label=gettext_lazy("Answers"), choices=[ANY, *ScriptEmotion.choices], required=False
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[
            ANY,
            ("active", pgettext_lazy("scripts", "In use")),
            ("inactive", pgettext_lazy("scripts", "Deactivated")),
        ],
        required=False,
    )

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or ""
        return {
            "scenario": data.get("scenario") or "",
            "stage": data.get("stage") or "",
            "emotion": data.get("emotion") or "",
            "active": {"active": True, "inactive": False}.get(status),
        }


class ScriptForm(forms.Form):
    scenario = forms.ChoiceField(label=gettext_lazy("Kind of talk"), choices=ScriptScenario.choices)
    stage = forms.ChoiceField(label=pgettext_lazy("script", "Stage"), choices=ScriptStage.choices)
    emotion = forms.ChoiceField(
        label=gettext_lazy("Answers (empathy responses only)"),
        choices=[("", pgettext_lazy("emotion", "any feeling")), *ScriptEmotion.choices],
        required=False,
        help_text=gettext_lazy(
            "When the talk's cues notice this feeling, the interviewer is offered this response."
        ),
    )
    text_zh = forms.CharField(
        label=gettext_lazy("Text (Chinese)"),
        max_length=services.MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    text_en = forms.CharField(
        label=gettext_lazy("Text (English)"),
        max_length=services.MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    @classmethod
    def of(cls, script: Script) -> ScriptForm:
        return cls(
            initial={
                "scenario": script.scenario,
                "stage": script.stage,
                "emotion": script.emotion,
                "text_zh": script.text.get("zh-hans", ""),
                "text_en": script.text.get("en", ""),
            }
        )

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "scenario": data["scenario"],
            "stage": data["stage"],
            "emotion": data["emotion"],
            "text": {"zh-hans": data["text_zh"], "en": data["text_en"]},
        }

    def put_errors(self, error: DomainError) -> None:
        """The service's errors on the inputs ("text" on the Chinese one)."""
        if not isinstance(error, InvalidFields):
            self.add_error(None, str(error.message))
            return
        places = {"scenario": "scenario", "stage": "stage", "emotion": "emotion", "text": "text_zh"}
        for place, message in error.errors.items():
            self.add_error(places.get(place), str(message))


def _require_reader(request: HttpRequest) -> None:
    scope = scope_for(request.user)
    if scope.organisation_id is None or not can_view_record_templates.test(request.user):
        raise PermissionDenied


def _own_organisation(request: HttpRequest) -> Organisation:
    """For a write: the service decides who may, and audits a refusal."""
    scope = scope_for(request.user)
    if scope.organisation_id is None:
        raise PermissionDenied
    return Organisation.objects.get(pk=scope.organisation_id)


def script_row(script: Script) -> dict[str, Any]:
    """What a page shows of a script: both texts and the labels of its kind, stage, emotion."""
    return {
        "script": script,
        "zh": script.text.get("zh-hans", ""),
        "en": script.text.get("en", ""),
        "scenario": script.get_scenario_display(),
        "stage": script.get_stage_display(),
        "emotion": script.get_emotion_display() if script.emotion else "",
    }


# --- the list ----------------------------------------------------------------------------------


@login_required
def script_list(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    form = FilterForm(request.GET or None)
    chosen = queries.scripts_visible_to(request.user, **form.filters())
    page = Paginator(chosen, PER_PAGE).get_page(request.GET.get("page"))
    # A new script starts with the kind of talk, stage and emotion the list is filtered by.
    chosen_filters = {k: v for k, v in form.filters().items() if k != "active" and v}
    new_url = reverse("web:script_create")
    if chosen_filters:
        new_url += "?" + urlencode(chosen_filters)
    return render(
        request,
        "web/hr/scripts/list.html",
        {
            "form": form,
            "page": page,
            "rows": [script_row(script) for script in page.object_list],
            "new_url": new_url,
            "may_edit": queries.may_edit(request.user, scope_for(request.user).organisation_id),
        },
    )


# --- a new script ------------------------------------------------------------------------------


@login_required
def script_create(request: HttpRequest) -> HttpResponse:
    organisation = _own_organisation(request)
    services.ensure_editor(request.user, organisation)
    if request.method != "POST":
        initial = {key: request.GET.get(key, "") for key in ("scenario", "stage", "emotion")}
        return _form_page(request, ScriptForm(initial=initial), script=None)
    form = ScriptForm(request.POST)
    if form.is_valid():
        try:
            services.create_script(organisation, actor=request.user, **form.values())
        except DomainError as error:
            form.put_errors(error)
        else:
            messages.success(request, _("The script was added."))
            return redirect("web:scripts")
    return _form_page(request, form, script=None, status=400)


# --- one script --------------------------------------------------------------------------------


@login_required
def script_page(request: HttpRequest, script_id: int) -> HttpResponse:
    found = queries.access_script(request.user, script_id)
    if request.method != "POST":
        form = (
            ScriptForm.of(found) if queries.may_edit(request.user, found.organisation_id) else None
        )
        return _form_page(request, form, script=found)
    # Refused (and audited) before the input is read.
    services.ensure_editor(request.user, found.organisation, found)
    form = ScriptForm(request.POST)
    if form.is_valid():
        try:
            services.update_script(found, actor=request.user, **form.values())
        except DomainError as error:
            found.refresh_from_db()
            form.put_errors(error)
        else:
            messages.success(request, _("The script was saved."))
            return redirect("web:scripts")
    return _form_page(request, form, script=found, status=400)


def _form_page(
    request: HttpRequest, form: ScriptForm | None, *, script: Script | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "web/hr/scripts/edit.html",
        {
            "form": form,
            "script": script,
            "row": script_row(script) if script is not None else None,
            "may_edit": form is not None,
        },
        status=status,
    )


@login_required
@require_POST
def script_deactivate(request: HttpRequest, script_id: int) -> HttpResponse:
    return _set_active(request, script_id, active=False)


@login_required
@require_POST
def script_reactivate(request: HttpRequest, script_id: int) -> HttpResponse:
    return _set_active(request, script_id, active=True)


def _set_active(request: HttpRequest, script_id: int, *, active: bool) -> HttpResponse:
    found = queries.access_script(request.user, script_id)
    services.set_active(found, active, actor=request.user)
    if active:
        messages.success(request, _("The script is offered in talks again."))
    else:
        messages.success(
            request,
            _("The script was deactivated: talks no longer offer it; notes made with it stay."),
        )
    return redirect("web:script", script_id=found.pk)
