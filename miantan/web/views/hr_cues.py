"""The organisation's switch for emotion cues during talks (PRODUCT.md C8), shown on HR's record
templates page: administrators and HR for the whole organisation switch it; `records.cues`
decides and audits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.people.scopes import scope_for
from miantan.records import cues


class SwitchForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")


def cues_panel(user: Any) -> dict[str, Any] | None:
    """What the templates page shows of the switch: whether cues are on and whether the user
    may switch them (None without an organisation)."""
    own = scope_for(user).employee
    if own is None:
        return None
    organisation = own.organisation
    return {
        "enabled": cues.is_enabled(organisation),
        "may_switch": cues.may_switch(user, organisation),
    }


@login_required
@require_POST
def talk_cues(request: HttpRequest) -> HttpResponse:
    own = scope_for(request.user).employee
    if own is None:
        raise PermissionDenied
    organisation = own.organisation
    cues.ensure_may_switch(request.user, organisation)
    form = SwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the cues are on or off."))
        return redirect("web:record_templates")
    enabled = form.cleaned_data["enabled"]
    cues.set_enabled(organisation, enabled, actor=request.user)
    if enabled:
        messages.success(request, _("Emotion cues are on: interviewers see them during talks."))
    else:
        messages.success(request, _("Emotion cues are off: nobody sees them during talks."))
    return redirect("web:record_templates")
