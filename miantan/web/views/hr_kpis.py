"""HR and administrators keep the KPI catalogue: industry packs, each KPI's valid range, and
which KPI applies to which department and position, with what weight and target."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.metrics.catalogue import (
    PackStatus,
    access_assignment,
    access_kpi,
    assignments_visible_to,
    kpis_visible_to,
    pack_statuses,
)
from miantan.metrics.enums import PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment
from miantan.metrics.packs import PACK_LABELS, PACKS
from miantan.metrics.ranges import InvalidRange
from miantan.metrics.services import (
    MAX_WEIGHT,
    assign_kpi,
    load_pack_for,
    remove_assignment,
    set_kpi_range,
    update_assignment,
)
from miantan.people.models import Department, Organisation, Position
from miantan.people.queries import departments_visible_to, positions_visible_to
from miantan.people.scopes import scope_for

from ..forms import QuickSelect
from .spreadsheets import require_org_manager

ASSIGNMENTS_PER_PAGE = 100


class NamedChoiceField(forms.ModelChoiceField):
    """Options named in the page's language; departments indented by their depth."""

    def __init__(self, *args: Any, english: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, widget=QuickSelect, **kwargs)
        self.english = english

    def label_from_instance(self, obj: Model) -> str:
        name = getattr(obj, "name_en", "") if self.english else ""
        return "\u3000" * getattr(obj, "depth", 0) + (name or getattr(obj, "name", str(obj)))


class PackForm(forms.Form):
    pack = forms.ChoiceField(label=gettext_lazy("Industry pack"))

    def __init__(self, *args: Any, statuses: list[PackStatus], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loaded = pgettext_lazy("KPI pack", "loaded")
        self.fields["pack"].choices = [  # type: ignore[attr-defined]
            (s.key, _("%(name)s (%(state)s)") % {"name": s.label, "state": loaded})
            if s.loaded
            else (s.key, s.label)
            for s in statuses
        ]


class TargetForm(forms.Form):
    """The numbers of an assignment; the service checks them again."""

    weight = forms.DecimalField(
        label=gettext_lazy("Weight"),
        min_value=0,
        max_value=MAX_WEIGHT,
        max_digits=5,
        decimal_places=2,
        initial=1,
    )
    target = forms.DecimalField(
        label=gettext_lazy("Target"), min_value=0, max_digits=18, decimal_places=4
    )


class RangeForm(forms.Form):
    """A KPI's valid range; an empty end is no limit. The service checks the order."""

    min_value = forms.DecimalField(
        label=gettext_lazy("Lowest valid value"), required=False, max_digits=18, decimal_places=4
    )
    max_value = forms.DecimalField(
        label=gettext_lazy("Highest valid value"),
        required=False,
        max_digits=18,
        decimal_places=4,
    )


class AssignmentForm(TargetForm):
    kpi = NamedChoiceField(
        label=gettext_lazy("KPI"),
        queryset=Kpi.objects.none(),
        empty_label=pgettext_lazy("KPI assignment", "Choose a KPI"),
    )
    department = NamedChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=pgettext_lazy("KPI assignment", "Any department"),
        help_text=gettext_lazy("The KPI also applies to the departments below it."),
    )
    position = NamedChoiceField(
        label=gettext_lazy("Position"),
        queryset=Position.objects.none(),
        required=False,
        empty_label=pgettext_lazy("KPI assignment", "Any position"),
    )
    period_kind = forms.ChoiceField(
        label=pgettext_lazy("KPI assignment", "Period"),
        choices=PeriodKind.choices,
        initial=PeriodKind.MONTH,
    )
    field_order = ["kpi", "department", "position", "period_kind", "weight", "target"]

    def __init__(
        self,
        *args: Any,
        kpis: QuerySet[Any],
        departments: QuerySet[Any],
        positions: QuerySet[Any],
        english: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (
            ("kpi", kpis.order_by("code")),
            ("department", departments.order_by("path")),
            ("position", positions.order_by("name")),
        ):
            field = self.fields[name]
            assert isinstance(field, NamedChoiceField)
            field.queryset = queryset
            field.english = english

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scoped = data.get("department") or data.get("position")
        if not scoped and not self.has_error("department") and not self.has_error("position"):
            self.add_error(None, _("Choose a department, a position or both."))
        return data


@dataclass(frozen=True)
class KpiRow:
    """One KPI as the table shows it, with the range its edit form holds."""

    kpi: Kpi
    min_value: str
    max_value: str
    errors: list[str]


@dataclass(frozen=True)
class Row:
    """One assignment as the table shows it, with the values its edit form holds."""

    assignment: KpiAssignment
    weight: str
    target: str
    errors: list[str]


@login_required
def kpi_catalogue(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    return _page(request)


@login_required
@require_POST
def kpi_pack_load(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    form = PackForm(request.POST, statuses=pack_statuses(kpis_visible_to(request.user)))
    if form.is_valid():
        try:
            loaded = load_pack_for(
                _organisation(request), form.cleaned_data["pack"], actor=request.user
            )
        except DomainError as error:
            form.add_error("pack", error.message)
        else:
            notify = messages.success if loaded.changed else messages.info
            notify(request, loaded.message())
            return redirect("web:kpi_catalogue")
    return _page(request, pack_form=form, status=400)


@login_required
@require_POST
def kpi_assignment_create(request: HttpRequest) -> HttpResponse:
    require_org_manager(request)
    form = _assignment_form(request, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            assign_kpi(
                _organisation(request),
                kpi=data["kpi"],
                department=data.get("department"),
                position=data.get("position"),
                period_kind=data["period_kind"],
                weight=data["weight"],
                target=data["target"],
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The KPI was assigned."))
            return redirect("web:kpi_catalogue")
    return _page(request, assignment_form=form, status=400)


@login_required
@require_POST
def kpi_assignment_update(request: HttpRequest, assignment_id: int) -> HttpResponse:
    require_org_manager(request)
    assignment = access_assignment(request.user, assignment_id)
    form = TargetForm(request.POST)
    if form.is_valid():
        try:
            update_assignment(
                assignment,
                weight=form.cleaned_data["weight"],
                target=form.cleaned_data["target"],
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The weight and target were saved."))
            return _back_to_page(request)
    return _page(request, edited=(assignment.pk, form), status=400)


@login_required
@require_POST
def kpi_range_update(request: HttpRequest, kpi_id: int) -> HttpResponse:
    require_org_manager(request)
    kpi = access_kpi(request.user, kpi_id)
    form = RangeForm(request.POST)
    if form.is_valid():
        try:
            set_kpi_range(
                kpi,
                minimum=form.cleaned_data["min_value"],
                maximum=form.cleaned_data["max_value"],
                actor=request.user,
            )
        except InvalidRange as error:
            for field, message in error.errors.items():
                form.add_error(field, message)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("The valid range of %(kpi)s was saved.") % {"kpi": _kpi_name(kpi)}
            )
            response = redirect("web:kpi_catalogue")
            response["Location"] += f"#kpi-{kpi.pk}"
            return response
    return _page(request, edited_kpi=(kpi.pk, form), status=400)


@login_required
@require_POST
def kpi_assignment_remove(request: HttpRequest, assignment_id: int) -> HttpResponse:
    require_org_manager(request)
    assignment = access_assignment(request.user, assignment_id)
    try:
        remove_assignment(assignment, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The assignment was removed."))
    return _back_to_page(request)


def _page(
    request: HttpRequest,
    *,
    pack_form: PackForm | None = None,
    assignment_form: AssignmentForm | None = None,
    edited: tuple[int, TargetForm] | None = None,
    edited_kpi: tuple[int, RangeForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The catalogue page; a form that failed comes back bound, with its errors (and 400)."""
    kpis = list(kpis_visible_to(request.user))
    statuses = pack_statuses(kpis)
    assignments = assignments_visible_to(request.user)
    page = Paginator(assignments, ASSIGNMENTS_PER_PAGE).get_page(_page_number(request))
    context = {
        "groups": _by_pack([_kpi_row(kpi, edited_kpi) for kpi in kpis]),
        "packs": statuses,
        "pack_form": pack_form or PackForm(statuses=statuses),
        "assignment_form": assignment_form or _assignment_form(request),
        "page": page,
        "rows": [_row(assignment, edited) for assignment in page],
    }
    return render(request, "web/kpi_catalogue.html", context, status=status)


def _assignment_form(request: HttpRequest, data: Any = None) -> AssignmentForm:
    return AssignmentForm(
        data,
        kpis=kpis_visible_to(request.user),
        departments=departments_visible_to(request.user),
        positions=positions_visible_to(request.user),
        english=get_language() == "en",
    )


def _by_pack(rows: list[KpiRow]) -> list[tuple[Any, list[KpiRow]]]:
    """KPIs grouped by the pack they came from, in the packs' order; hand-made ones last."""
    order = {key: index for index, key in enumerate(PACKS)}
    groups: dict[str, list[KpiRow]] = {}
    for row in rows:
        groups.setdefault(row.kpi.pack, []).append(row)
    keys = sorted(groups, key=lambda key: (key == "", order.get(key, len(order)), key))
    own = pgettext_lazy("KPI pack", "Own KPIs")
    return [(PACK_LABELS.get(key, key) if key else own, groups[key]) for key in keys]


def _kpi_row(kpi: Kpi, edited: tuple[int, RangeForm] | None) -> KpiRow:
    if edited is not None and edited[0] == kpi.pk:
        form = edited[1]
        errors = [str(message) for messages_ in form.errors.values() for message in messages_]
        return KpiRow(kpi, form.data.get("min_value", ""), form.data.get("max_value", ""), errors)
    low, high = kpi.min_value, kpi.max_value
    return KpiRow(kpi, "" if low is None else _plain(low), "" if high is None else _plain(high), [])


def _kpi_name(kpi: Kpi) -> str:
    return kpi.display_name(get_language() or "zh-hans")


def _row(assignment: KpiAssignment, edited: tuple[int, TargetForm] | None) -> Row:
    if edited is not None and edited[0] == assignment.pk:
        form = edited[1]
        errors = [str(message) for messages_ in form.errors.values() for message in messages_]
        return Row(assignment, form.data.get("weight", ""), form.data.get("target", ""), errors)
    return Row(assignment, _plain(assignment.weight), _plain(assignment.target), [])


def _plain(number: Decimal) -> str:
    """400.0000 as 400 and 0.5000 as 0.5, for an input's value."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _page_number(request: HttpRequest) -> str | None:
    return request.POST.get("page") or request.GET.get("page")


def _back_to_page(request: HttpRequest) -> HttpResponse:
    """Back to the catalogue, on the page of assignments the form was sent from."""
    response = redirect("web:kpi_catalogue")
    number = _page_number(request)
    if number and number.isdigit() and number != "1":
        response["Location"] += f"?page={number}"
    return response


def _organisation(request: HttpRequest) -> Organisation:
    employee = scope_for(request.user).employee
    assert employee is not None  # can_import_org needs an employee
    return employee.organisation
