"""The holiday calendar for HR: per year the days off and adjusted working days with where
they come from, whether the year's official adjusted working days (调休) are confirmed, and the
organisation's own days, a whole year from a file, and the confirmation (PRODUCT.md A6)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from miantan.core.errors import DomainError
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for
from miantan.scheduling.enums import DayKind
from miantan.scheduling.holidays import FIRST_YEAR, LAST_YEAR, CalendarFileError
from miantan.scheduling.queries import (
    access_holiday_day,
    holiday_notices,
    holiday_year,
    holiday_years_to_show,
)
from miantan.scheduling.rules import can_manage_holidays, can_view_holidays
from miantan.scheduling.services import (
    InvalidHoliday,
    confirm_holiday_year,
    load_holidays,
    remove_holiday_day,
    save_holiday_day,
)

MAX_FILE_KB = 256


class HolidayDayForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(
        label=pgettext_lazy("holiday calendar", "The day is"),
        choices=[
            (DayKind.HOLIDAY, pgettext_lazy("holiday calendar", "a day off")),
            (DayKind.WORKING_DAY, pgettext_lazy("holiday calendar", "an adjusted working day")),
        ],
    )
    name = forms.CharField(
        label=pgettext_lazy("holiday calendar", "Name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "春节"}),
    )


class HolidayFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Holiday file (.json)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def clean_file(self) -> Any:
        upload: UploadedFile = self.cleaned_data["file"]
        if (upload.size or 0) > MAX_FILE_KB * 1024:
            raise ValidationError(
                _("The file is larger than %(limit)s KB.") % {"limit": MAX_FILE_KB}
            )
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValidationError(
                _("The file is not JSON: %(error)s") % {"error": error}
            ) from error


@login_required
@require_GET
def holidays(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    return _page(request, year=_year(request.GET.get("year")))


@login_required
@require_POST
def holiday_day_save(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    form = HolidayDayForm(request.POST)
    year = _year(request.POST.get("year"))
    if form.is_valid():
        data = form.cleaned_data
        try:
            save_holiday_day(
                _organisation(request),
                day=data["date"],
                kind=data["kind"],
                name=data["name"],
                actor=request.user,
            )
        except InvalidHoliday as invalid:
            for field, message in invalid.errors.items():
                form.add_error(field if field in form.fields else None, str(message))
        else:
            messages.success(request, _("%(date)s was saved.") % {"date": data["date"].isoformat()})
            return _back(data["date"].year)
        year = data["date"].year if data.get("date") else year
    return _page(request, year=year, day_form=form, status=400)


@login_required
@require_POST
def holiday_day_remove(request: HttpRequest, day_id: int) -> HttpResponse:
    _require_viewer(request)
    day = access_holiday_day(request.user, day_id)
    remove_holiday_day(day, actor=request.user)
    messages.success(
        request,
        _("%(date)s was taken back; the other sources decide it again.")
        % {"date": day.date.isoformat()},
    )
    return _back(day.date.year)


@login_required
@require_POST
def holiday_year_confirm(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    year = _year(request.POST.get("year"), default=None)
    if year is None:
        messages.error(
            request,
            _("Choose a year from %(first)s to %(last)s.")
            % {"first": FIRST_YEAR, "last": LAST_YEAR},
        )
        return _page(request, year=timezone.localdate().year, status=400)
    confirmed = request.POST.get("confirmed", "1") != "0"
    confirm_holiday_year(_organisation(request), year, actor=request.user, confirmed=confirmed)
    if confirmed:
        text = _("The adjusted working days of %(year)s are marked as confirmed.")
    else:
        text = _("The confirmation of %(year)s was withdrawn.")
    messages.success(request, text % {"year": year})
    return _back(year)


@login_required
@require_POST
def holidays_upload(request: HttpRequest) -> HttpResponse:
    _require_viewer(request)
    form = HolidayFileForm(request.POST, request.FILES)
    year = _year(request.POST.get("year"))
    if form.is_valid():
        upload = request.FILES.get("file")
        try:
            counts = load_holidays(
                form.cleaned_data["file"],
                actor=request.user,
                source=getattr(upload, "name", "") or "",
                organisation=_organisation(request),
            )
        except CalendarFileError as error:
            form.add_error("file", str(error.message))
            for problem in error.problems:
                form.add_error("file", problem)
        except DomainError as error:
            form.add_error("file", str(error.message))
        else:
            loaded = ", ".join(
                _("%(year)s: %(count)s days") % {"year": y, "count": n} for y, n in counts.items()
            )
            messages.success(request, _("The file was loaded (%(years)s).") % {"years": loaded})
            return _back(min(counts))
    return _page(request, year=year, file_form=form, status=400)


def _page(
    request: HttpRequest,
    *,
    year: int,
    day_form: HolidayDayForm | None = None,
    file_form: HolidayFileForm | None = None,
    status: int = 200,
) -> HttpResponse:
    today = timezone.localdate()
    view = holiday_year(request.user, year, language=get_language() or "zh-hans")
    organisation = _organisation(request)
    context = {
        "view": view,
        "state": view.state,
        "years": holiday_years_to_show(request.user, today),
        "notices": holiday_notices(organisation, today),
        "can_manage": can_manage_holidays.test(request.user),
        "day_form": day_form or HolidayDayForm(initial={"date": _first_day(year, today)}),
        "file_form": file_form or HolidayFileForm(),
        "max_file_kb": MAX_FILE_KB,
    }
    return render(request, "web/holidays.html", context, status=status)


def _first_day(year: int, today: Any) -> Any:
    return today if today.year == year else today.replace(year=year, month=1, day=1)


def _year(value: Any, default: Any = "today") -> Any:
    """A year from the query or form; today's year (or `default`) when it is missing or out of
    range."""
    text = str(value or "").strip()
    if text.isdigit() and FIRST_YEAR <= int(text) <= LAST_YEAR:
        return int(text)
    return timezone.localdate().year if default == "today" else default


def _back(year: int) -> HttpResponse:
    return redirect(f"{reverse('web:holidays')}?year={year}")


def _require_viewer(request: HttpRequest) -> None:
    if not can_view_holidays.test(request.user):
        raise PermissionDenied


def _organisation(request: HttpRequest) -> Organisation:
    own = scope_for(request.user).employee
    if own is None or not own.is_active:
        raise PermissionDenied
    return own.organisation
