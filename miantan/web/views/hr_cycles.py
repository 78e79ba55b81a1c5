"""HR launches review cycles and follows their progress (PRODUCT.md A10, G2): the list with
the form for a new cycle, a cycle's progress page, and its launch."""

from __future__ import annotations

from html import escape
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.forms.utils import flatatt
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.interviews.cycle_queries import (
    access_cycle,
    cycle_departments_for,
    cycle_progress,
    cycles_with_counts,
    infeasible_pairs,
)
from miantan.interviews.cycle_rules import can_manage_cycles
from miantan.interviews.cycles import (
    MAX_WINDOW_DAYS,
    InvalidCycle,
    create_cycle,
    launch_cycle,
)
from miantan.interviews.enums import CycleState, Topic
from miantan.interviews.models import ReviewCycle
from miantan.interviews.services import MAX_MINUTES, MIN_MINUTES
from miantan.people.models import Department

CYCLES_PER_PAGE = 25
BUCKET_LABELS = {
    "proposed": pgettext_lazy("cycle progress", "Time proposed"),
    "waiting": pgettext_lazy("cycle progress", "Waiting for a time"),
    "accepted": pgettext_lazy("cycle progress", "Scheduled"),
    "held": pgettext_lazy("cycle progress", "Held"),
    "declined": pgettext_lazy("cycle progress", "Declined"),
    "cancelled": pgettext_lazy("cycle progress", "Cancelled"),
    "expired": pgettext_lazy("cycle progress", "Expired"),
    "overdue": pgettext_lazy("cycle progress", "Overdue"),
}


class QuickSelectMultiple(forms.SelectMultiple):
    """A multiple select rendered in one pass (an organisation has hundreds of departments)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = {str(item) for item in (value or [])}
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) in selected else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        return mark_safe(f"<select multiple{flatatt(final_attrs)}>{options}</select>")  # noqa: S308


class DepartmentsField(forms.ModelMultipleChoiceField):
    """Departments named in the page's language, indented by their depth."""

    def __init__(self, *args: Any, english: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, widget=QuickSelectMultiple(attrs={"size": 8}), **kwargs)
        self.english = english

    def label_from_instance(self, obj: Any) -> str:
        name = obj.name_en if self.english and obj.name_en else obj.name
        return "\u3000" * obj.depth + name


class CycleForm(forms.Form):
    """The cycle's fields; create_cycle checks the window, the scope and the rest again."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    topic = forms.ChoiceField(
        label=gettext_lazy("Topic"), choices=Topic.choices, initial=Topic.QUARTERLY_REVIEW
    )
    period = forms.CharField(
        label=pgettext_lazy("review cycle", "Period"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("For example 2026 Q4."),
    )
    departments = DepartmentsField(
        label=gettext_lazy("Departments"),
        queryset=Department.objects.none(),
        help_text=gettext_lazy("The departments below the chosen ones are included."),
    )
    window_start = forms.DateField(
        label=gettext_lazy("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    window_end = forms.DateField(
        label=gettext_lazy("Last day"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    duration_minutes = forms.IntegerField(
        label=gettext_lazy("Length of a talk (minutes)"),
        min_value=MIN_MINUTES,
        max_value=MAX_MINUTES,
        initial=45,
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["departments"]
        assert isinstance(field, DepartmentsField)
        field.queryset = cycle_departments_for(user).order_by("path")
        field.english = get_language() == "en"
        self.fields["window_end"].help_text = _("A cycle lasts at most %(days)s days.") % {
            "days": MAX_WINDOW_DAYS
        }


def require_cycle_manager(request: HttpRequest) -> None:
    if not can_manage_cycles.test(request.user):
        raise PermissionDenied


@login_required
def cycles(request: HttpRequest) -> HttpResponse:
    require_cycle_manager(request)
    if request.method != "POST":
        return _list(request, CycleForm(user=request.user))
    form = CycleForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            cycle = create_cycle(actor=request.user, **data)
        except InvalidCycle as error:
            for field, message in error.errors.items():
                form.add_error(field if field in form.fields else None, message)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The cycle was created. Check it, then launch it."))
            return redirect("web:cycle_detail", cycle_id=cycle.pk)
    return _list(request, form, status=400)


@login_required
def cycle_detail(request: HttpRequest, cycle_id: int) -> HttpResponse:
    require_cycle_manager(request)
    cycle = access_cycle(request.user, cycle_id)
    return _detail(request, cycle)


@login_required
@require_POST
def cycle_launch(request: HttpRequest, cycle_id: int) -> HttpResponse:
    require_cycle_manager(request)
    cycle = access_cycle(request.user, cycle_id, audit=False)
    try:
        report = launch_cycle(cycle, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _(
                "The cycle was launched: %(pairs)s talks, a time proposed for %(placed)s, "
                "%(infeasible)s without a time."
            )
            % {
                "pairs": report.pairs,
                "placed": report.placed,
                "infeasible": len(report.infeasible),
            },
        )
    return redirect("web:cycle_detail", cycle_id=cycle.pk)


def _list(request: HttpRequest, form: CycleForm, *, status: int = 200) -> HttpResponse:
    page = Paginator(cycles_with_counts(request.user), CYCLES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"form": form, "page": page, "cycles": list(page)}
    return render(request, "web/cycles.html", context, status=status)


def _detail(request: HttpRequest, cycle: ReviewCycle) -> HttpResponse:
    progress = cycle_progress(cycle)
    total = progress["total"]
    bars = [
        {
            "key": key,
            "label": label,
            "count": progress["buckets"][key],
            "percent": round(100 * progress["buckets"][key] / total) if total else 0,
        }
        for key, label in BUCKET_LABELS.items()
    ]
    context = {
        "cycle": cycle,
        "is_draft": cycle.state == CycleState.DRAFT,
        "progress": progress,
        "bars": bars,
        "buckets": list(BUCKET_LABELS.items()),
        "managers": [
            {**row, "cells": [(label, row[key]) for key, label in BUCKET_LABELS.items()]}
            for row in progress["managers"]
        ],
        "infeasible": infeasible_pairs(cycle),
        "infeasible_total": len((cycle.report or {}).get("infeasible", [])),
        "english": get_language() == "en",
    }
    return render(request, "web/cycle_detail.html", context)
