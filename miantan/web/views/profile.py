"""The performance profile (绩效画像) of a person and of a department, and the evidence log
written from the person's profile."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.interviews.queries import last_talks_of
from miantan.metrics.catalogue import kpis_visible_to
from miantan.metrics.enums import EvidenceKind
from miantan.metrics.evidence import (
    MAX_TEXT,
    InvalidEvidence,
    ensure_may_record,
    entry_of,
    record_evidence,
    remove_evidence,
)
from miantan.metrics.models import Kpi
from miantan.metrics.profiles import access_department_profile, access_profile
from miantan.metrics.rules import can_record_evidence, can_remove_evidence
from miantan.people.queries import access_employee
from miantan.records.feedback import feedback_in_file


class EvidenceForm(forms.Form):
    """Input of the "Record an event" form; the rules about dates and length are the service's."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[("", "—"), *EvidenceKind.choices],
    )
    happened_on = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kpi = forms.TypedChoiceField(
        label=gettext_lazy("KPI (optional)"), required=False, coerce=int, empty_value=None
    )
    text = forms.CharField(
        label=gettext_lazy("What happened"),
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, kpis: QuerySet[Kpi], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kpis = {kpi.pk: kpi for kpi in kpis}
        language = get_language() or "zh-hans"
        self.fields["kpi"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((pk, kpi.display_name(language)) for pk, kpi in self.kpis.items()),
        ]
        self.fields["happened_on"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_kpi(self) -> Kpi | None:
        pk = self.cleaned_data.get("kpi")
        return self.kpis.get(pk) if pk is not None else None


@login_required
def profile(request: HttpRequest, employee_id: int) -> HttpResponse:
    return _profile_page(request, employee_id)


def _profile_page(
    request: HttpRequest,
    employee_id: int,
    form: EvidenceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    profile = access_profile(request.user, employee_id)
    employee = profile.employee
    can_record = can_record_evidence.test(request.user, employee)
    if can_record and form is None:
        form = EvidenceForm(kpis=kpis_visible_to(request.user))
    for entry in profile.evidence:
        entry.employee = employee  # the rules read it; it is the same person
    removable = {e.pk for e in profile.evidence if can_remove_evidence.test(request.user, e)}
    return render(
        request,
        "web/profile.html",
        {
            "profile": profile,
            "employee": employee,
            "charts": profile.chart_data(),
            "evidence_form": form if can_record else None,
            "removable": removable,
            "last_talks": last_talks_of(employee, viewer=request.user),
            "after_talk": feedback_in_file(employee, viewer=request.user),
        },
        status=status,
    )


@login_required
@require_POST
def evidence_create(request: HttpRequest, employee_id: int) -> HttpResponse:
    employee = access_employee(request.user, employee_id)
    ensure_may_record(request.user, employee)
    form = EvidenceForm(request.POST, kpis=kpis_visible_to(request.user))
    if form.is_valid():
        try:
            record_evidence(request.user, employee, **form.cleaned_data)
        except InvalidEvidence as error:
            for field, message in error.errors.items():
                form.add_error(field if field in form.fields else None, str(message))
        else:
            messages.success(request, _("The event was recorded."))
            return redirect(_evidence_anchor(employee.pk))
    return _profile_page(request, employee.pk, form, status=400)


@login_required
@require_POST
def evidence_remove(request: HttpRequest, employee_id: int, entry_id: int) -> HttpResponse:
    employee = access_employee(request.user, employee_id)
    remove_evidence(request.user, entry_of(employee, entry_id))
    messages.success(request, _("The entry was removed from the evidence log."))
    return redirect(_evidence_anchor(employee.pk))


def _evidence_anchor(employee_id: int) -> str:
    return reverse("web:profile", kwargs={"employee_id": employee_id}) + "#evidence-heading"


@login_required
def department_profile(request: HttpRequest, department_id: int) -> HttpResponse:
    team = access_department_profile(request.user, department_id)
    return render(
        request,
        "web/department_profile.html",
        {"team": team, "department": team.department, "charts": team.chart_data()},
    )
