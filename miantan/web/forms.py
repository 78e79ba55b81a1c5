from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Position
from miantan.people.queries import PeopleFilter


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or employee number"), required=False, max_length=100)
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=pgettext_lazy("department filter", "All departments"),
    )
    position = forms.ModelChoiceField(
        label=_("Position"),
        queryset=Position.objects.none(),
        required=False,
        empty_label=pgettext_lazy("position filter", "All positions"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[
            ("active", pgettext_lazy("employment status", "active")),
            ("left", pgettext_lazy("employment status", "left")),
            ("all", pgettext_lazy("status filter", "everyone")),
        ],
    )

    def __init__(
        self,
        *args: Any,
        departments: QuerySet[Department],
        positions: QuerySet[Position],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments.order_by("path")  # type: ignore[attr-defined]
        self.fields["position"].queryset = positions  # type: ignore[attr-defined]

    def to_filter(self) -> PeopleFilter:
        if not self.is_bound or not self.is_valid():
            return PeopleFilter()
        data = self.cleaned_data
        status = data.get("status") or EmploymentStatus.ACTIVE
        return PeopleFilter(
            q=data.get("q", "").strip(),
            department_id=data["department"].pk if data.get("department") else None,
            position_id=data["position"].pk if data.get("position") else None,
            status="" if status == "all" else status,
        )


class RoleAssignmentForm(forms.Form):
    employee_number = forms.CharField(label=_("Employee number"), max_length=50)
    role = forms.ChoiceField(label=_("Role"))
    department = forms.ModelChoiceField(
        label=_("Department (scope)"),
        queryset=Department.objects.none(),
        required=False,
        help_text=_(
            "Needed for department heads and HR; leave empty for executives and administrators."
        ),
    )

    def __init__(
        self,
        *args: Any,
        allowed_roles: list[str],
        employees: QuerySet[Any],
        departments: QuerySet[Department],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        from miantan.people.enums import Role

        self.employees = employees
        self.fields["role"].choices = [(r.value, r.label) for r in Role if r.value in allowed_roles]  # type: ignore[attr-defined]
        self.fields["department"].queryset = departments.order_by("path")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number = (data.get("employee_number") or "").strip()
        if number:
            employee = self.employees.filter(employee_number=number).first()
            if employee is None:
                self.add_error("employee_number", _("No employee with this number in your scope."))
            else:
                data["employee"] = employee
        return data
