"""Public holidays and adjusted working days (调休) of mainland China.

The State Council publishes each year's schedule in the autumn before. For each year the first
source that knows it wins:

1. a file loaded for the whole year: an organisation's own (HR's holiday calendar page), else
   the national one (`manage.py update_holidays FILE`), stored as `HolidayOverride` rows and a
   `HolidayYear`;
2. the data file shipped with Miantan, `data/cn_calendar.json`;
3. the `holidays` package: the statutory days off of every year, and the official days off and
   adjusted working days of the years whose State Council notice it includes. Later years are
   its estimate (the statutory days, moved off weekends) with no adjusted working days.

Days an organisation's HR entered one by one win over all of these. A year that no source knows
raises `UnknownHolidayYear`; availability then treats it as ordinary weekdays (Monday to Friday)
and HR is told (never the employees).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from miantan.core.errors import DomainError

from .enums import DayKind

SHIPPED_FILE = Path(__file__).resolve().parent / "data" / "cn_calendar.json"
PACKAGE_NAME = "holidays"
# IANA zones whose people follow the mainland calendar (Hong Kong, Macao and Taipei do not).
CHINESE_TIME_ZONES = frozenset(
    {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "Asia/Urumqi", "PRC"}
)
FIRST_YEAR, LAST_YEAR = 2000, 2100

__all__ = [
    "CHINESE_TIME_ZONES",
    "CalendarFileError",
    "HolidayCalendar",
    "PackageYear",
    "UnknownHolidayYear",
    "calendar_parts",
    "calendars_for_organisations",
    "file_names",
    "is_working_day",
    "national_calendar",
    "package_names",
    "package_version",
    "package_year",
    "parse_calendar_file",
    "working_days",
]


class UnknownHolidayYear(DomainError):
    def __init__(self, year: int) -> None:
        message = _(
            "The public holidays of %(year)s are not known. HR can enter them on the holiday "
            "calendar page, or an administrator can load them with "
            "“manage.py update_holidays FILE”."
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
    """The mainland calendar of one organisation: `days` maps a date to holiday or working day
    (files and HR's days); `years` are the years a file covers completely, for which the
    `holidays` package is not asked."""

    days: dict[date, str] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    def day_kind(self, day: date) -> str | None:
        """HOLIDAY (closed, a weekday included), WORKING_DAY (a weekend that is worked, or a
        holiday taken back), or None for an ordinary day whose weekday decides. Raises
        UnknownHolidayYear for a year no source knows."""
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

    def replacing_years(self, years: Iterable[int]) -> HolidayCalendar:
        """This calendar without its days of `years`, which are marked complete (a file that
        gives those years wholly goes on top)."""
        replaced = frozenset(years)
        if not replaced:
            return self
        kept = {day: kind for day, kind in self.days.items() if day.year not in replaced}
        return HolidayCalendar(days=kept, years=self.years | replaced)


# --- the holidays package -------------------------------------------------------------------


@dataclass(frozen=True)
class PackageYear:
    """What the `holidays` package says about one year of mainland China."""

    days: dict[date, str]  # DayKind by date: the days off, and the weekend days worked
    # The State Council's schedule of the year is in the package (else its days off are an
    # estimate from the statutory rules, and it knows no adjusted working days).
    official: bool


@cache
def package_year(year: int) -> PackageYear | None:
    """The package's days of `year`, or None when it knows nothing of the year."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    from holidays.countries.china import China  # loads every country: only when needed

    # The next year too: a weekend worked in late December may belong to its New Year.
    calendar = China(years={year, year + 1})
    days = {day: str(DayKind.HOLIDAY) for day in calendar if day.year == year}
    if not days:
        return None
    for day in calendar.weekend_workdays:
        if day.year == year:
            days[day] = DayKind.WORKING_DAY
    return PackageYear(days=days, official=year in _official_years())


@cache
def _official_years() -> frozenset[int]:
    # The package keeps each State Council notice as the year's special days (the extended
    # holidays and the weekends worked for them); a year without them is its estimate.
    from holidays.countries.china import ChinaStaticHolidays

    return frozenset(getattr(ChinaStaticHolidays, "special_public_holidays", {}))


def _package_day_kind(day: date) -> str | None:
    known = package_year(day.year)
    if known is None:
        raise UnknownHolidayYear(day.year)
    return known.days.get(day)


@cache
def package_names(year: int, language: str) -> dict[date, str]:
    """The package's names of the days off of `year`, in Chinese or English."""
    if package_year(year) is None:
        return {}
    from holidays.countries.china import China

    code = "en_US" if language.startswith("en") else "zh_CN"
    calendar = China(years=year, language=code)
    return {day: str(name) for day, name in calendar.items() if day.year == year}


@cache
def package_version() -> str:
    try:
        return installed_version(PACKAGE_NAME)
    except PackageNotFoundError:  # pragma: no cover - the package is a dependency
        return ""


# --- calendars from the database ----------------------------------------------------------------


def national_calendar() -> HolidayCalendar:
    """The shipped file plus the national overrides in the database (one query)."""
    from .models import HolidayOverride

    rows = HolidayOverride.objects.filter(organisation__isnull=True).values_list("date", "kind")
    return _with_national(dict(rows))


def calendars_for_organisations(organisation_ids: Iterable[int]) -> dict[int, HolidayCalendar]:
    """Each organisation's calendar: the national one, the years it loaded from a file in
    place of it, and its own days on top (two queries)."""
    parts = _organisation_parts(set(organisation_ids))
    return {key: base.with_overrides(own) for key, (base, own) in parts.items()}


def calendar_parts(organisation_id: int) -> tuple[HolidayCalendar, dict[date, str]]:
    """An organisation's calendar without its own days (the national one, with the years it
    loaded from a file in place of the national ones), and its own days."""
    return _organisation_parts({organisation_id})[organisation_id]


def _organisation_parts(ids: set[int]) -> dict[int, tuple[HolidayCalendar, dict[date, str]]]:
    from .models import HolidayOverride, HolidayYear

    rows = HolidayOverride.objects.filter(
        Q(organisation__isnull=True) | Q(organisation_id__in=ids)
    ).values_list("organisation_id", "date", "kind")
    national: dict[date, str] = {}
    own: dict[int, dict[date, str]] = {organisation_id: {} for organisation_id in ids}
    for organisation_id, day, kind in rows:
        (national if organisation_id is None else own[organisation_id])[day] = kind
    loaded: dict[int, set[int]] = {organisation_id: set() for organisation_id in ids}
    for organisation_id, year in HolidayYear.objects.filter(
        organisation_id__in=ids, loaded_at__isnull=False
    ).values_list("organisation_id", "year"):
        loaded[organisation_id].add(year)
    base = _with_national(national)
    return {key: (base.replacing_years(loaded[key]), own[key]) for key in ids}


def _with_national(overrides: dict[date, str]) -> HolidayCalendar:
    """The shipped calendar with the national overrides, whose years replace it wholly (they
    come only from files that list whole years)."""
    years = {day.year for day in overrides}
    return shipped_calendar().replacing_years(years).with_overrides(overrides)


@cache
def shipped_calendar() -> HolidayCalendar:
    # Empty until a year is published that the package does not have yet.
    return parse_calendar_file(shipped_content(), allow_empty=True)


@cache
def shipped_content() -> dict[str, Any]:
    content: dict[str, Any] = json.loads(SHIPPED_FILE.read_text(encoding="utf-8"))
    return content


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


def parse_calendar_file(content: Any, *, allow_empty: bool = False) -> HolidayCalendar:
    """Check a holiday file and turn it into a calendar. Raises CalendarFileError."""
    problems: list[str] = []
    days: dict[date, str] = {}
    years = content.get("years") if isinstance(content, dict) else None
    if not isinstance(years, dict):
        raise CalendarFileError([gettext("The file needs a “years” object.")])
    if not years and not allow_empty:
        raise CalendarFileError([gettext("The file lists no year.")])
    for year_text, year in years.items():
        problems.extend(_check_year(year_text, year, days))
    if problems:
        raise CalendarFileError(problems)
    return HolidayCalendar(days=days, years=frozenset(int(text) for text in years))


def file_names(content: Any) -> dict[date, str]:
    """The names of the days off of a file already checked by parse_calendar_file."""
    names: dict[date, str] = {}
    for year in content["years"].values():
        for text, name in year["holidays"].items():
            names[date.fromisoformat(str(text))] = str(name or "")[:100]
    return names


def _check_year(year_text: str, year: Any, days: dict[date, str]) -> list[str]:
    if not (year_text.isdigit() and FIRST_YEAR <= int(year_text) <= LAST_YEAR) or not isinstance(
        year, dict
    ):
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
