"""HR keeps the organisation's shift codes (what a roster's 班次 means) and its default working
hours. HR partners of one department see them; HR for the whole organisation and
administrators change them (the services decide, `scheduling.rules`)."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dates import WEEKDAYS
from django.utils.text import format_lazy
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError, InvalidFields
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.scheduling.availability import DEFAULT_WORKING_HOURS
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import ShiftCode
from miantan.scheduling.queries import access_shift_code, shift_codes_with_use
from miantan.scheduling.rules import can_manage_work_patterns, can_view_work_patterns
from miantan.scheduling.work_patterns import (
    create_shift_code,
    default_hours_of,
    reinstate_shift_code,
    retire_shift_code,
    set_default_working_hours,
    update_shift_code,
)

# What each kind means for talks, as the form explains it.
KIND_HELP = {
    ShiftKind.DAY: gettext_lazy("working time: talks can be placed during it, as in office hours"),
    ShiftKind.NIGHT: gettext_lazy("busy; a duty day, with rest afterwards"),
    ShiftKind.ON_CALL: gettext_lazy("busy; a duty day (with rest afterwards when overnight)"),
    ShiftKind.SURGERY: gettext_lazy("busy; talks may be kept off surgery days"),
    ShiftKind.CLINIC: gettext_lazy("busy while it lasts"),
    ShiftKind.OFF: gettext_lazy("no working time that day: no talks"),
}
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class ShiftCodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=20,
        help_text=gettext_lazy("As the roster file writes it in the 班次 column: 夜班, N, A班."),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    name_en = forms.CharField(label=gettext_lazy("English name"), max_length=100, required=False)
    start = forms.TimeField(label=gettext_lazy("Starts"), widget=TIME)
    end = forms.TimeField(label=gettext_lazy("Ends"), widget=TIME)
    overnight = forms.TypedChoiceField(
        label=gettext_lazy("Ends on"),
        choices=[
            ("no", pgettext_lazy("shift end", "the same day")),
            ("yes", pgettext_lazy("shift end", "the next day")),
        ],
        coerce=lambda value: value == "yes",
        initial="no",
        widget=forms.RadioSelect,
        help_text=gettext_lazy("20:00–08:00 ends the next day; 08:00–08:00 lasts 24 hours."),
    )
    kind = forms.ChoiceField(
        label=pgettext_lazy("shift", "Kind"),
        choices=ShiftKind.choices,
        initial=ShiftKind.DAY,
        widget=forms.RadioSelect,
    )

    @classmethod
    def for_shift(cls, shift_code: ShiftCode) -> ShiftCodeForm:
        return cls(
            initial={
                "code": shift_code.code,
                "name": shift_code.name,
                "name_en": shift_code.name_en,
                "start": shift_code.start,
                "end": shift_code.end,
                "overnight": "yes" if shift_code.crosses_midnight else "no",
                "kind": shift_code.kind,
            }
        )


@login_required
def shift_codes(request: HttpRequest) -> HttpResponse:
    organisation = _organisation_to_view(request)
    if request.method == "POST":
        _require_manager(request, organisation)
    form = ShiftCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            shift_code = create_shift_code(organisation, **form.cleaned_data, actor=request.user)
        except DomainError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _shift_saved(shift_code, _("The shift code %(code)s was added."))
            )
            return redirect("web:shift_codes")
    context = {
        "shift_codes": list(shift_codes_with_use(request.user)),
        "form": form,
        "may_manage": can_manage_work_patterns.test(request.user, organisation),
        "kind_help": _kind_help(),
        "english": get_language() == "en",
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "web/hr_scheduling/shift_codes.html", context, status=status)


@login_required
def shift_code_edit(request: HttpRequest, shift_code_id: int) -> HttpResponse:
    organisation = _organisation_to_view(request)
    shift_code = access_shift_code(request.user, shift_code_id)
    _require_manager(request, organisation)
    form = (
        ShiftCodeForm(request.POST)
        if request.method == "POST"
        else ShiftCodeForm.for_shift(shift_code)
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_shift_code(shift_code, **form.cleaned_data, actor=request.user)
        except DomainError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _shift_saved(shift_code, _("The shift code %(code)s was saved."))
            )
            return redirect("web:shift_codes")
    context = {"shift_code": shift_code, "form": form, "kind_help": _kind_help()}
    status = 400 if request.method == "POST" else 200
    return render(request, "web/hr_scheduling/shift_code_edit.html", context, status=status)


@login_required
@require_POST
def shift_code_retire(request: HttpRequest, shift_code_id: int) -> HttpResponse:
    _organisation_to_view(request)
    shift_code = access_shift_code(request.user, shift_code_id)
    try:
        retire_shift_code(shift_code, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        message = _("The shift code %(code)s was retired; new rosters may not use it.")
        messages.success(request, message % {"code": shift_code.code})
    return redirect("web:shift_codes")


@login_required
@require_POST
def shift_code_reinstate(request: HttpRequest, shift_code_id: int) -> HttpResponse:
    _organisation_to_view(request)
    shift_code = access_shift_code(request.user, shift_code_id)
    try:
        reinstate_shift_code(shift_code, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        message = _("The shift code %(code)s is in use again.")
        messages.success(request, message % {"code": shift_code.code})
    return redirect("web:shift_codes")


# --- working hours ---------------------------------------------------------------------------


class WorkingHoursForm(forms.Form):
    """The organisation's week: per weekday, whether it is worked, from when to when, and one
    optional break (lunch). `cleaned_data["hours"]` is weekday → stretches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in range(7):
            self.fields[f"d{day}_works"] = forms.BooleanField(label=WEEKDAYS[day], required=False)
            for part, label in (
                ("start", pgettext_lazy("working hours", "From")),
                ("end", pgettext_lazy("working hours", "To")),
                ("break_start", pgettext_lazy("working hours", "Break from")),
                ("break_end", pgettext_lazy("working hours", "Break to")),
            ):
                widget = forms.TimeInput(
                    attrs={
                        "type": "time",
                        "aria-label": format_lazy("{} {}", WEEKDAYS[day], label),
                    },
                    format="%H:%M",
                )
                self.fields[f"d{day}_{part}"] = forms.TimeField(
                    label=label, required=False, widget=widget
                )

    @classmethod
    def for_hours(cls, hours: dict[int, list[tuple[time, time]]]) -> WorkingHoursForm:
        initial: dict[str, Any] = {}
        for day, stretches in hours.items():
            if not stretches:
                continue
            initial[f"d{day}_works"] = True
            initial[f"d{day}_start"], initial[f"d{day}_end"] = stretches[0][0], stretches[-1][1]
            if len(stretches) > 1:
                initial[f"d{day}_break_start"] = stretches[0][1]
                initial[f"d{day}_break_end"] = stretches[1][0]
        return cls(initial=initial)

    def days(self) -> list[dict[str, Any]]:
        """The fields by weekday, for the template's rows."""
        return [
            {
                "number": day,
                "label": WEEKDAYS[day],
                "works": self[f"d{day}_works"],
                "parts": [
                    self[f"d{day}_{part}"] for part in ("start", "end", "break_start", "break_end")
                ],
                "errors": self.errors.get(f"d{day}_works", []),
            }
            for day in range(7)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hours: dict[int, list[tuple[time, time]]] = {}
        for day in range(7):
            if not data.get(f"d{day}_works"):
                continue
            stretches = self._day(day, data)
            if stretches:
                hours[day] = stretches
        data["hours"] = hours
        return data

    def _day(self, day: int, data: dict[str, Any]) -> list[tuple[time, time]]:
        begins, ends = data.get(f"d{day}_start"), data.get(f"d{day}_end")
        break_start, break_end = data.get(f"d{day}_break_start"), data.get(f"d{day}_break_end")
        field = f"d{day}_works"
        if begins is None or ends is None:
            self.add_error(
                field, _("%(day)s: give the start and the end.") % {"day": WEEKDAYS[day]}
            )
            return []
        if (break_start is None) != (break_end is None):
            message = _("%(day)s: give both ends of the break, or neither.")
            self.add_error(field, message % {"day": WEEKDAYS[day]})
            return []
        if break_start is None or break_end is None:
            return [(begins, ends)]
        if not begins < break_start < break_end < ends:
            message = _("%(day)s: the break must lie within the working time.")
            self.add_error(field, message % {"day": WEEKDAYS[day]})
            return []
        return [(begins, break_start), (break_end, ends)]


@login_required
def working_hours(request: HttpRequest) -> HttpResponse:
    organisation = _organisation_to_view(request)
    saved = default_hours_of(organisation)
    if request.method == "POST":
        _require_manager(request, organisation)
        form = WorkingHoursForm(request.POST)
        if form.is_valid():
            try:
                changed = set_default_working_hours(
                    organisation, hours=form.cleaned_data["hours"], actor=request.user
                )
            except DomainError as error:
                _add_errors(form, error)
            else:
                notify = messages.success if changed else messages.info
                notify(
                    request,
                    _("The working hours were saved.") if changed else _("Nothing changed."),
                )
                return redirect("web:working_hours")
    else:
        form = WorkingHoursForm.for_hours(
            saved or {d: list(s) for d, s in DEFAULT_WORKING_HOURS.items()}
        )
    context = {
        "form": form,
        "saved": bool(saved),
        "uneven_days": [WEEKDAYS[day] for day, stretches in saved.items() if len(stretches) > 2],
        "may_manage": can_manage_work_patterns.test(request.user, organisation),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "web/hr_scheduling/working_hours.html", context, status=status)


# --- shared ------------------------------------------------------------------------------------


def _organisation_to_view(request: HttpRequest) -> Organisation:
    """The user's organisation, if they may see its shift codes and hours; 403 otherwise."""
    own = scope_for(request.user).employee
    if own is None or not can_view_work_patterns.test(request.user, own.organisation):
        raise PermissionDenied
    return own.organisation


def _add_errors(form: forms.Form, error: DomainError) -> None:
    """The service's problems on the fields they name (a weekday's, `day0`, on its row);
    others above the form."""
    if not isinstance(error, InvalidFields):
        form.add_error(None, error.message)
        return
    for field, message in error.errors.items():
        target = f"d{field[3:]}_works" if field.startswith("day") else field
        form.add_error(target if target in form.fields else None, message)


def _require_manager(request: HttpRequest, organisation: Organisation) -> None:
    """A form from someone who may only look is refused before it is read (the service
    refuses it again)."""
    if not can_manage_work_patterns.test(request.user, organisation):
        raise PermissionDenied


def _kind_help() -> list[tuple[str, Any, Any]]:
    return [(value, label, KIND_HELP[ShiftKind(value)]) for value, label in ShiftKind.choices]


def _shift_saved(shift_code: ShiftCode, message: str) -> str:
    return message % {"code": shift_code.code}
