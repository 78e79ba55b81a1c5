from __future__ import annotations

from html import escape
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Position
from miantan.people.queries import PeopleFilter

# Django puts gettext(":") after every form label, and its own Chinese catalogue answers with
# a half-width colon. Named here, the string enters this project's catalogue, which Django
# reads first: "名称：" instead of "名称:".
LABEL_SUFFIX = _(":")


class QuickSelect(forms.Select):
    """A select rendered in one pass without a template per option.

    The directory's department picker can hold hundreds of options; rendering each through
    Django's option template cost more than the page's queries.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final_attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        selected = "" if value is None else str(value)
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) == selected else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        return mark_safe(f"<select{flatatt(final_attrs)}>{options}</select>")  # noqa: S308


class PeopleSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or employee number"), required=False, max_length=100)
    department = forms.TypedChoiceField(
        label=_("Department"), required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    position = forms.TypedChoiceField(
        label=_("Position"), required=False, coerce=int, empty_value=None, widget=QuickSelect
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
        language: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        english = language == "en"
        department_rows = departments.order_by("path").values_list("pk", "name", "name_en", "depth")
        self.fields["department"].choices = [  # type: ignore[attr-defined]
            ("", pgettext_lazy("department filter", "All departments")),
            *(
                (pk, "\u3000" * depth + (name_en if english and name_en else name))
                for pk, name, name_en, depth in department_rows
            ),
        ]
        position_rows = positions.order_by("name").values_list("pk", "name", "name_en")
        self.fields["position"].choices = [  # type: ignore[attr-defined]
            ("", pgettext_lazy("position filter", "All positions")),
            *(
                (pk, name_en if english and name_en else name)
                for pk, name, name_en in position_rows
            ),
        ]

    def to_filter(self) -> PeopleFilter | None:
        """The filter to apply; None when the input is not valid (then nobody is listed)."""
        if not self.is_bound:
            return PeopleFilter()
        if not self.is_valid():
            return None
        data = self.cleaned_data
        status = data.get("status") or EmploymentStatus.ACTIVE
        return PeopleFilter(
            q=data.get("q", "").strip(),
            department_id=data.get("department"),
            position_id=data.get("position"),
            status="" if status == "all" else status,
        )


class RoleAssignmentForm(forms.Form):
    employee_number = forms.CharField(label=_("Employee number"), max_length=50)
    role = forms.ChoiceField(label=_("Role"))
    department = forms.ModelChoiceField(
        label=_("Department (scope)"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("None (whole organisation)"),
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
