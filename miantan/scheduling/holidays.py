"""Public holidays and adjusted working days (调休) of mainland China.

The State Council publishes each year's schedule in the preceding autumn. Three sources, the
first that knows a date wins:

1. `HolidayOverride` rows (an organisation's own first, then the national ones that
   `manage.py update_holidays FILE` loads),
2. the data file shipped with Miantan, `data/cn_calendar.json` (years the package lacks),
3. the `chinese_calendar` package.

A year that none of them knows raises `UnknownHolidayYear`: guessing that an unknown year has
no holidays would put talks on Spring Festival.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from miantan.core.errors import DomainError

from .enums import DayKind

SHIPPED_FILE = Path(__file__).resolve().parent / "data" / "cn_calendar.json"
# IANA zones whose people follow the mainland calendar (Hong Kong, Macao and Taipei do not).
CHINESE_TIME_ZONES = frozenset(
    {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi", "PRC"}
)

__all__ = [
    "CHINESE_TIME_ZONES",
    "CalendarFileError",
    "HolidayCalendar",
    "UnknownHolidayYear",
    "calendars_for_organisations",
    "is_working_day",
    "national_calendar",
    "parse_calendar_file",
    "working_days",
]


class UnknownHolidayYear(DomainError):
    def __init__(self, year: int) -> None:
        message = _(
            "The public holidays of %(year)s are not known yet. An administrator can load "
            "them with “manage.py update_holidays FILE”."
        ) % {"year": year}
        super().__init__(message, code="unknown_holiday_year")
        self.year = year


class CalendarFileError(DomainError):
    """A holiday file is malformed; `problems` names every bad entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(gettext("The holiday file is not valid."), code="invalid_holiday_file")
        self.problems = problems


@dataclass
class HolidayCalendar:
    """The mainland calendar with overrides: `days` maps a date to holiday or working day;
    `years` are the years the overrides cover completely (from a file)."""

    days: dict[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def day_kind(self, day: date) -> str | None:
        """HOLIDAY (closed, a weekday included), WORKING_DAY (a weekend that is worked),
        or None for an ordinary day whose weekday decides."""
        kind = self.days.get(day)
        if kind is not None:
            return kind
        if day.year in self.years:
            return None
        return _package_day_kind(day)

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday unless a holiday; a weekend when it is an adjusted working day."""
        kind = self.day_kind(day)
        if kind is None:
            return day.weekday() < 5
        return kind == DayKind.WORKING_DAY

    def working_days(self, start: date, end: date) -> list[date]:
        """The working days in [start, end)."""
        count = (end - start).days
        days = (start + timedelta(days=offset) for offset in range(max(count, 0)))
        return [day for day in days if self.is_working_day(day)]

    def with_overrides(self, days: Mapping[date, str]) -> HolidayCalendar:
        return HolidayCalendar(days={**self.days, **days}, years=self.years)


@cache
def _package_day_kind(day: date) -> str | None:
    try:
        working = chinese_calendar.is_workday(day)
        named = chinese_calendar.get_holiday_detail(day)[1] is not None
    except NotImplementedError:
        raise UnknownHolidayYear(day.year) from None
    if day.weekday() < 5:
        return None if working else DayKind.HOLIDAY
    if working:
        return DayKind.WORKING_DAY
    return DayKind.HOLIDAY if named else None


def national_calendar() -> HolidayCalendar:
    """The shipped file plus the national overrides in the database (one query)."""
    from .models import HolidayOverride

    rows = HolidayOverride.objects.filter(organisation__isnull=True).values_list("date", "kind")
    return _with_national(dict(rows))


def calendars_for_organisations(organisation_ids: Iterable[int]) -> dict[int, HolidayCalendar]:
    """Each organisation's calendar: the national one with its own days on top (one query)."""
    from .models import HolidayOverride

    ids = set(organisation_ids)
    rows = HolidayOverride.objects.filter(
        Q(organisation__isnull=True) | Q(organisation_id__in=ids)
    ).values_list("organisation_id", "date", "kind")
    national: dict[date, str] = {}
    own: dict[int, dict[date, str]] = {organisation_id: {} for organisation_id in ids}
    for organisation_id, day, kind in rows:
        (national if organisation_id is None else own[organisation_id])[day] = kind
    base = _with_national(national)
    return {organisation_id: base.with_overrides(days) for organisation_id, days in own.items()}


def _with_national(overrides: dict[date, str]) -> HolidayCalendar:
    """The shipped calendar with the national overrides, whose years replace it wholly."""
    shipped = shipped_calendar()
    years = frozenset(day.year for day in overrides)
    return HolidayCalendar(days={**shipped.days, **overrides}, years=shipped.years | years)


@cache
def shipped_calendar() -> HolidayCalendar:
    content = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    return parse_calendar_file(content)


def is_working_day(day: date, *, calendar: HolidayCalendar | None = None) -> bool:
    """Whether `day` is a working day in mainland China. Raises UnknownHolidayYear."""
    return (calendar or national_calendar()).is_working_day(day)


def working_days(start: date, end: date, *, calendar: HolidayCalendar | None = None) -> list[date]:
    """The mainland working days in [start, end). Raises UnknownHolidayYear."""
    return (calendar or national_calendar()).working_days(start, end)


# --- the file format ---------------------------------------------------------------------------
#
# {"years": {"2027": {"holidays": {"2027-01-01": "元旦", ...},
#                     "working_days": ["2027-02-06", ...]}}}
#
# `holidays` are the days off (weekends inside a holiday included); `working_days` are the
# weekend days worked in exchange (调休上班). Every year listed must be complete.


def parse_calendar_file(content: Any) -> HolidayCalendar:
    """Check a holiday file and turn it into a calendar. Raises CalendarFileError."""
    problems: list[str] = []
    days: dict[date, str] = {}
    years = content.get("years") if isinstance(content, dict) else None
    if not isinstance(years, dict):
        raise CalendarFileError([gettext("The file needs a “years” object.")])
    for year_text, year in years.items():
        problems.extend(_check_year(year_text, year, days))
    if problems:
        raise CalendarFileError(problems)
    return HolidayCalendar(days=days, years=frozenset(int(text) for text in years))


def _check_year(year_text: str, year: Any, days: dict[date, str]) -> list[str]:
    if not (year_text.isdigit() and 2000 <= int(year_text) <= 2100) or not isinstance(year, dict):
        return [gettext("“%(year)s” is not a year with holidays.") % {"year": year_text}]
    holidays = year.get("holidays")
    working = year.get("working_days", [])
    if not isinstance(holidays, dict) or not holidays or not isinstance(working, list):
        message = gettext("%(year)s needs “holidays” (date → name) and “working_days” (dates).")
        return [message % {"year": year_text}]
    problems: list[str] = []
    entries: Iterable[tuple[Any, str]] = [
        *((text, DayKind.HOLIDAY) for text in holidays),
        *((text, DayKind.WORKING_DAY) for text in working),
    ]
    for text, kind in entries:
        problem = _check_day(text, kind, int(year_text), days)
        if problem:
            problems.append(problem)
    return problems


def _check_day(text: Any, kind: str, year: int, days: dict[date, str]) -> str | None:
    try:
        day = date.fromisoformat(str(text))
    except ValueError:
        return gettext("“%(date)s” is not a date (YYYY-MM-DD).") % {"date": text}
    if day.year != year:
        return gettext("%(date)s is listed under %(year)s.") % {"date": day, "year": year}
    if day in days:
        return gettext("%(date)s is listed twice.") % {"date": day}
    if kind == DayKind.WORKING_DAY and day.weekday() < 5:
        return gettext("%(date)s is a weekday; adjusted working days fall on weekends.") % {
            "date": day
        }
    days[day] = kind
    return None
