"""Reads of the scheduling app for pages: the holiday calendar of a year as HR sees it (which
source gave each day, whether the year's adjusted working days are confirmed), the notices
HR gets while a year is not settled, and the organisation's shift codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext, pgettext

from miantan.core.ids import as_id
from miantan.people.models import Organisation
from miantan.people.scopes import scope_for

from .enums import DayKind
from .holidays import (
    FIRST_YEAR,
    LAST_YEAR,
    SHIPPED_FILE,
    package_names,
    package_version,
    package_year,
    shipped_content,
)
from .models import HolidayOverride, HolidayYear, ShiftCode
from .rules import can_view_holidays, can_view_work_patterns, organisation_of

# From this day of the year on, HR is reminded when next year's adjusted working days are not
# confirmed: the State Council publishes the schedule in late October or November.
NEXT_YEAR_NOTICE_FROM = (10, 1)


class Source:
    """Where a year's days come from, best first."""

    ORGANISATION_FILE = "organisation_file"
    NATIONAL_FILE = "national_file"
    BUNDLED = "bundled"
    PACKAGE = "package"
    NONE = "none"


@dataclass(frozen=True)
class YearState:
    """Which source gives the year, and whether its adjusted working days are confirmed
    (`confirmed_by` says by what: "hr", "file", "bundled", "package"; "" when they are not)."""

    year: int
    source: str
    confirmed_by: str
    own: HolidayYear | None
    national: HolidayYear | None

    @property
    def known(self) -> bool:
        return self.source != Source.NONE

    @property
    def confirmed(self) -> bool:
        return bool(self.confirmed_by)


@dataclass(frozen=True)
class CalendarDay:
    day: date
    kind: str  # DayKind
    name: str
    # Where the day comes from: a Source, or "own" for a day the organisation set by hand.
    origin: str
    entry: HolidayOverride | None = None  # the organisation's row, which HR may remove


@dataclass(frozen=True)
class HolidayYearView:
    state: YearState
    days_off: list[CalendarDay]
    working_days: list[CalendarDay]
    package_version: str
    bundled_file: str

    @property
    def year(self) -> int:
        return self.state.year


@dataclass(frozen=True)
class HolidayNotice:
    """Something HR should do about the holiday calendar. `code` is "no_data" (ordinary
    weekdays are offered in `year`) or "not_confirmed" (its 调休 are not confirmed yet).
    `message` (and str()) is the text in the active language; the holiday page is
    `{% url 'web:holidays' %}?year=<year>`."""

    code: str
    year: int

    @property
    def message(self) -> str:
        if self.code == "no_data":
            text = gettext(
                "No public holidays are known for %(year)s, so talks are offered on all its "
                "ordinary weekdays (Monday to Friday). Enter the year's days off and adjusted "
                "working days, or upload its file."
            )
        else:
            text = gettext(
                "The official adjusted working days of %(year)s are not confirmed yet. Until "
                "they are, the days off are an estimate and no weekend is worked: enter them "
                "when the State Council publishes them, then mark the year as confirmed."
            )
        return text % {"year": self.year}

    def __str__(self) -> str:
        return self.message


def holiday_notices(organisation: Organisation | int, today: date) -> list[HolidayNotice]:
    """What HR should be told about the holiday calendar on `today`: this year, and from
    October next year, when no source knows the year or its adjusted working days are not
    confirmed. For HR's pages only (never shown to employees). Three queries."""
    organisation_id = organisation if isinstance(organisation, int) else organisation.pk
    years = [today.year]
    if (today.month, today.day) >= NEXT_YEAR_NOTICE_FROM:
        years.append(today.year + 1)
    notices = []
    for state in year_states(organisation_id, years).values():
        if not state.known:
            notices.append(HolidayNotice("no_data", state.year))
        elif not state.confirmed:
            notices.append(HolidayNotice("not_confirmed", state.year))
    return notices


def year_states(organisation_id: int, years: list[int]) -> dict[int, YearState]:
    """The source and confirmation of each year (two queries)."""
    entries = HolidayYear.objects.filter(
        Q(organisation_id=organisation_id) | Q(organisation__isnull=True), year__in=years
    ).select_related("loaded_by", "confirmed_by")
    own = {e.year: e for e in entries if e.organisation_id is not None}
    national = {e.year: e for e in entries if e.organisation_id is None}
    national_years = {
        moment.year
        for moment in HolidayOverride.objects.filter(
            organisation__isnull=True, date__year__in=years
        ).dates("date", "year")
    }
    shipped = shipped_content().get("years", {})
    states = {}
    for year in years:
        mine = own.get(year)
        if mine is not None and mine.from_file:
            source = Source.ORGANISATION_FILE
        elif year in national_years:
            source = Source.NATIONAL_FILE
        elif str(year) in shipped:
            source = Source.BUNDLED
        elif package_year(year) is not None:
            source = Source.PACKAGE
        else:
            source = Source.NONE
        states[year] = YearState(
            year, source, _confirmed_by(year, source, mine), mine, national.get(year)
        )
    return states


def _confirmed_by(year: int, source: str, own: HolidayYear | None) -> str:
    if own is not None and own.confirmed_at is not None:
        return "hr"
    if source in (Source.ORGANISATION_FILE, Source.NATIONAL_FILE):
        return "file"
    if source == Source.BUNDLED:
        return "bundled"
    known = package_year(year)
    if source == Source.PACKAGE and known is not None and known.official:
        return "package"
    return ""


def holiday_year(user: Any, year: int, *, language: str) -> HolidayYearView:
    """The viewer's organisation's calendar of `year`: each day off and adjusted working day
    with its name and source, and the organisation's own days (for HR; 404 otherwise)."""
    organisation_id = organisation_of(user)
    if organisation_id is None or not can_view_holidays.test(user):
        raise Http404
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Http404
    state = year_states(organisation_id, [year])[year]
    own_rows = list(
        HolidayOverride.objects.filter(organisation_id=organisation_id, date__year=year)
        .select_related("created_by")
        .order_by("date")
    )
    days = _base_days(state, own_rows, language)
    for row in own_rows:
        if not row.from_file:
            days[row.date] = CalendarDay(row.date, row.kind, row.name, "own", row)
    ordered = sorted(days.values(), key=lambda item: item.day)
    return HolidayYearView(
        state=state,
        days_off=[d for d in ordered if d.kind == DayKind.HOLIDAY],
        working_days=[d for d in ordered if d.kind == DayKind.WORKING_DAY],
        package_version=package_version(),
        bundled_file=SHIPPED_FILE.name,
    )


def _base_days(
    state: YearState, own_rows: list[HolidayOverride], language: str
) -> dict[date, CalendarDay]:
    """The days of the source that gives the year, before the organisation's own days."""
    year, source = state.year, state.source
    if source == Source.ORGANISATION_FILE:
        rows = [(r.date, r.kind, r.name, r) for r in own_rows if r.from_file]
        return {day: CalendarDay(day, kind, name, source, row) for day, kind, name, row in rows}
    if source == Source.NATIONAL_FILE:
        national = HolidayOverride.objects.filter(organisation__isnull=True, date__year=year)
        return {
            row.date: CalendarDay(row.date, row.kind, row.name, source)
            for row in national.order_by("date")
        }
    if source == Source.BUNDLED:
        content = shipped_content()["years"][str(year)]
        days = {
            date.fromisoformat(text): CalendarDay(
                date.fromisoformat(text), DayKind.HOLIDAY, str(name), source
            )
            for text, name in content["holidays"].items()
        }
        for text in content.get("working_days", []):
            day = date.fromisoformat(text)
            days[day] = CalendarDay(day, DayKind.WORKING_DAY, _worked(), source)
        return days
    known = package_year(year)
    if known is None:
        return {}
    names = package_names(year, language)
    return {
        day: CalendarDay(day, kind, names.get(day) or _worked(), source)
        for day, kind in known.days.items()
    }


def _worked() -> str:
    return pgettext("calendar day", "adjusted working day")


def holiday_years_to_show(user: Any, today: date) -> list[int]:
    """The years HR's page offers: last year to next year, and any other year the
    organisation set days for or loaded."""
    organisation_id = organisation_of(user)
    years = {today.year - 1, today.year, today.year + 1}
    if organisation_id is not None:
        years |= set(
            HolidayYear.objects.filter(organisation_id=organisation_id).values_list(
                "year", flat=True
            )
        )
        years |= {
            moment.year
            for moment in HolidayOverride.objects.filter(organisation_id=organisation_id).dates(
                "date", "year"
            )
        }
    return sorted(year for year in years if FIRST_YEAR <= year <= LAST_YEAR)


def access_holiday_day(user: Any, day_id: Any) -> HolidayOverride:
    """A day the viewer's organisation set, else 404 (the national days and other
    organisations' are out of reach). Whether the viewer may change it is the service's."""
    organisation_id = organisation_of(user)
    pk = as_id(day_id)
    found = None
    if organisation_id is not None and pk is not None and can_view_holidays.test(user):
        found = (
            HolidayOverride.objects.filter(pk=pk, organisation_id=organisation_id)
            .select_related("organisation")
            .first()
        )
    if found is None:
        raise Http404
    return found


# --- shift codes ------------------------------------------------------------------------------


def shift_codes_visible_to(user: Any) -> QuerySet[ShiftCode]:
    """The shift codes of the user's organisation for its HR partners and administrators (in
    use first, then by code); nothing for anyone else."""
    own = scope_for(user).employee
    if own is None or not can_view_work_patterns.test(user, own.organisation):
        return ShiftCode.objects.none()
    return ShiftCode.objects.filter(organisation_id=own.organisation_id).order_by(
        F("retired_at").asc(nulls_first=True), "code"
    )


def shift_codes_with_use(user: Any) -> QuerySet[ShiftCode]:
    """The same, each with `entry_count` (roster entries that have it) and `last_used` (the
    latest date it is rostered on), in one query."""
    return shift_codes_visible_to(user).annotate(
        entry_count=Count("entries"), last_used=Max("entries__date")
    )


def access_shift_code(user: Any, shift_code_id: Any) -> ShiftCode:
    """One shift code of the user's organisation, or 404 (another organisation's, unknown)."""
    pk = as_id(shift_code_id)
    shift_code = (
        shift_codes_visible_to(user).select_related("organisation").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if shift_code is None:
        raise Http404
    return shift_code
