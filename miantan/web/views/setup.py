"""Setting up an organisation without the shell, for the installation administrator (a Django
superuser): the organisation with its root department and working hours, then its first
administrator, who does everything else from their own pages."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from miantan.core.errors import DomainError, InvalidFields
from miantan.people.enums import EmploymentStatus, Language, Role
from miantan.people.models import Employee, Organisation
from miantan.people.rules import is_installation_admin
from miantan.people.services import (
    DEFAULT_TIME_ZONE,
    create_first_administrator,
    has_active_administrator,
    time_zone_names,
)
from miantan.records.scripts import install_builtin_scripts
from miantan.records.templates import install_builtin_templates
from miantan.scheduling.work_patterns import set_up_organisation

from ..forms import QuickSelect

TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class OrganisationForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    name_en = forms.CharField(label=gettext_lazy("English name"), max_length=200, required=False)
    slug = forms.CharField(
        label=gettext_lazy("Short name"),
        max_length=50,
        help_text=gettext_lazy(
            "Letters a–z, digits and hyphens, such as renhe-hospital. It starts the login names "
            "of imported employees and cannot be changed later."
        ),
    )
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"), initial=DEFAULT_TIME_ZONE, widget=QuickSelect
    )
    root_name = forms.CharField(
        label=gettext_lazy("Root department"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("The top of the department tree; the organisation's name if empty."),
    )
    root_code = forms.CharField(
        label=gettext_lazy("Root department code"),
        max_length=50,
        required=False,
        help_text=gettext_lazy("The short name in capitals if empty."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Working days"),
        choices=[(day, WEEKDAYS[day]) for day in range(7)],
        coerce=int,
        initial=[0, 1, 2, 3, 4],
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Public holidays and adjusted working days follow the calendar."),
    )
    start = forms.TimeField(
        label=pgettext_lazy("working hours", "From"), initial=time(9), widget=TIME
    )
    end = forms.TimeField(label=pgettext_lazy("working hours", "To"), initial=time(18), widget=TIME)
    break_start = forms.TimeField(
        label=pgettext_lazy("working hours", "Break from"),
        initial=time(12),
        required=False,
        widget=TIME,
    )
    break_end = forms.TimeField(
        label=pgettext_lazy("working hours", "Break to"),
        initial=time(13),
        required=False,
        widget=TIME,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(zone, zone) for zone in sorted(time_zone_names())]

    def organisation_fields(self) -> list[forms.BoundField]:
        names = ("name", "name_en", "slug", "time_zone", "root_name", "root_code")
        return [self[name] for name in names]

    def hours_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("start", "end", "break_start", "break_end")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        begins, ends = data.get("start"), data.get("end")
        break_start, break_end = data.get("break_start"), data.get("break_end")
        if begins is None or ends is None:
            return data
        if (break_start is None) != (break_end is None):
            self.add_error("break_end", _("Give both ends of the break, or neither."))
            return data
        if break_start is None or break_end is None:
            stretches = [(begins, ends)]
        elif begins < break_start < break_end < ends:
            stretches = [(begins, break_start), (break_end, ends)]
        else:
            # The service names a working time that ends before it starts.
            stretches = [(begins, ends)] if ends <= begins else []
            if not stretches:
                self.add_error("break_start", _("The break must lie within the working time."))
                return data
        data["hours"] = {day: stretches for day in data.get("weekdays", [])}
        return data


class AdministratorForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=200)
    employee_number = forms.CharField(
        label=gettext_lazy("Employee number"),
        max_length=50,
        help_text=gettext_lazy("The number the organisation file will give this person."),
    )
    username = forms.CharField(label=gettext_lazy("Login name"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("E-mail"), required=False)
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=Language.choices)
    password = forms.CharField(
        label=gettext_lazy("Password"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password_again = forms.CharField(
        label=gettext_lazy("Password again"),
        strip=False,
        widget=forms.PasswordInput(render_value=False),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


@login_required
def organisations(request: HttpRequest) -> HttpResponse:
    _require_installation_admin(request)
    form = OrganisationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # With the built-in talk record templates and scripts, in the same transaction.
            with transaction.atomic():
                organisation = set_up_organisation(
                    slug=data["slug"],
                    name=data["name"],
                    name_en=data["name_en"],
                    time_zone=data["time_zone"],
                    root_code=data["root_code"],
                    root_name=data["root_name"],
                    hours=data["hours"],
                    actor=request.user,
                )
                install_builtin_templates(organisation)
                install_builtin_scripts(organisation)
        except DomainError as error:
            _add_errors(form, error)
        else:
            message = _("%(name)s was created. Now create its first administrator.")
            messages.success(request, message % {"name": organisation.name})
            return redirect("web:setup_organisation", organisation_id=organisation.pk)
    listed = Organisation.objects.annotate(
        people=Count("employees", filter=Q(employees__status=EmploymentStatus.ACTIVE)),
    ).order_by("name")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "web/setup/organisations.html",
        {"form": form, "organisations": listed},
        status=status,
    )


@login_required
def organisation(request: HttpRequest, organisation_id: int) -> HttpResponse:
    _require_installation_admin(request)
    chosen = Organisation.objects.filter(pk=organisation_id).first()
    if chosen is None:
        raise Http404
    form = AdministratorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            administrator = create_first_administrator(
                chosen,
                name=data["name"],
                employee_number=data["employee_number"],
                username=data["username"],
                email=data["email"],
                password=data["password"],
                language=data["language"],
                actor=request.user,
            )
        except DomainError as error:
            _add_errors(form, error)
        else:
            message = _(
                "%(name)s is the administrator of %(organisation)s and may sign in as %(login)s."
            )
            messages.success(
                request,
                message
                % {
                    "name": administrator.name,
                    "organisation": chosen.name,
                    "login": data["username"],
                },
            )
            return redirect("web:setup_organisation", organisation_id=chosen.pk)
    administrators = (
        Employee.objects.filter(organisation=chosen, role_assignments__role=Role.ADMIN)
        .select_related("user")
        .order_by("name")
    )
    context = {
        "organisation": chosen,
        "administrators": administrators,
        "needs_administrator": not has_active_administrator(chosen),
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "web/setup/organisation.html", context, status=status)


def _require_installation_admin(request: HttpRequest) -> None:
    if not is_installation_admin.test(request.user):
        raise PermissionDenied


def _add_errors(form: forms.Form, error: DomainError) -> None:
    """The service's problems on the fields they name; the hours on the times, named for the
    first weekday only (every weekday has the same)."""
    if not isinstance(error, InvalidFields):
        form.add_error(None, error.message)
        return
    named_a_day = False
    for field, message in error.errors.items():
        if field.startswith("day"):
            if named_a_day:
                continue
            named_a_day, field = True, "start"
        target = {"hours": "weekdays"}.get(field, field)
        form.add_error(target if target in form.fields else None, message)
