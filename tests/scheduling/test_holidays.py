"""The mainland calendar: the holidays package by default, files and HR's days on top, years
nobody knows, and the update command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from miantan.audit.models import AuditEvent
from miantan.scheduling import holidays, queries
from miantan.scheduling.availability import PersonSchedule, compute_availability
from miantan.scheduling.enums import DayKind
from miantan.scheduling.holidays import (
    CalendarFileError,
    HolidayCalendar,
    UnknownHolidayYear,
    calendars_for_organisations,
    is_working_day,
    national_calendar,
    package_year,
    parse_calendar_file,
    working_days,
)
from miantan.scheduling.models import HolidayOverride, HolidayYear
from tests.personas import Hospital
from tests.scheduling.builders import at

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Not an official schedule: a made-up year for testing the file format.
FAKE_2027 = {
    "years": {
        "2027": {
            "holidays": {"2027-01-01": "元旦", "2027-03-01": "公司假日", "2027-03-02": "公司假日"},
            "working_days": ["2027-03-06"],
        }
    }
}


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(at(date(2026, 12, 7), 7), tick=False):
        yield


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Ship a data file with the given years instead of the empty one."""

    def ship(content: dict[str, Any]) -> None:
        monkeypatch.setattr(holidays, "shipped_content", lambda: content)
        monkeypatch.setattr(queries, "shipped_content", lambda: content)
        calendar = parse_calendar_file(content)
        monkeypatch.setattr(holidays, "shipped_calendar", lambda: calendar)

    return ship


def write(tmp_path: Path, content: Any, name: str = "cn_2027.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


# --- the holidays package ----------------------------------------------------------------------


def test_spring_festival_2026_is_not_working() -> None:
    calendar = HolidayCalendar()
    assert not calendar.is_working_day(date(2026, 2, 16))  # Monday, 春节
    assert not calendar.is_working_day(date(2026, 2, 23))  # Monday, the last day off
    assert calendar.day_kind(date(2026, 2, 16)) == DayKind.HOLIDAY


def test_adjusted_working_saturday_2026_is_working() -> None:
    calendar = HolidayCalendar()
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday before 春节
    assert calendar.is_working_day(date(2026, 2, 28))
    assert calendar.day_kind(date(2026, 2, 28)) == DayKind.WORKING_DAY
    assert not calendar.is_working_day(date(2026, 3, 7))  # an ordinary Saturday


def test_a_weekend_worked_for_next_years_new_year_belongs_to_its_own_year() -> None:
    # 2005-12-31 (Saturday) was worked for 元旦 2006, which the package files under 2006.
    assert HolidayCalendar().is_working_day(date(2005, 12, 31))


def test_working_days_is_half_open() -> None:
    days = HolidayCalendar().working_days(date(2026, 2, 9), date(2026, 3, 2))
    assert days[0] == date(2026, 2, 9)
    assert date(2026, 2, 14) in days and date(2026, 2, 28) in days
    assert not any(date(2026, 2, 15) <= day <= date(2026, 2, 23) for day in days)
    assert date(2026, 3, 2) not in days


def test_2027_is_known_from_the_package_without_any_file() -> None:
    calendar = HolidayCalendar()
    assert not calendar.is_working_day(date(2027, 1, 1))  # 元旦, a Friday
    assert not calendar.is_working_day(date(2027, 2, 8))  # 春节, a Monday
    assert calendar.is_working_day(date(2027, 1, 4))
    known = package_year(2027)
    # The State Council's 2027 schedule is not in the package: no weekend is worked yet.
    assert known is not None and not known.official
    assert DayKind.WORKING_DAY not in known.days.values()
    official = package_year(2026)
    assert official is not None and official.official


def test_a_year_no_source_knows_raises_a_clear_error() -> None:
    with pytest.raises(UnknownHolidayYear) as raised:
        HolidayCalendar().is_working_day(date(2101, 5, 2))
    assert "2101" in str(raised.value.message)
    assert "update_holidays" in str(raised.value.message)
    assert package_year(2101) is None


def test_a_year_no_source_knows_offers_ordinary_weekdays() -> None:
    weekdays = {weekday: [(time(9), time(17))] for weekday in range(5)}
    schedule = PersonSchedule(1, "李明", "Asia/Shanghai", weekdays)
    start = at(date(2101, 1, 1), 0)  # a Saturday

    availability = compute_availability(
        schedule, (start, at(date(2101, 1, 4), 0)), calendar=HolidayCalendar()
    )

    # The weekend is off and Monday 3 January is an ordinary working day: no guessed holiday.
    assert availability.free == [(at(date(2101, 1, 3), 9), at(date(2101, 1, 3), 17))]
    assert availability.unknown_years == {2101}
    assert availability.busy == []


# --- files and overrides -----------------------------------------------------------------------


@pytest.mark.django_db
def test_update_holidays_loads_a_year_and_is_idempotent(tmp_path: Path) -> None:
    path = write(tmp_path, FAKE_2027)

    call_command("update_holidays", str(path), verbosity=0)
    call_command("update_holidays", str(path), verbosity=0)

    assert HolidayOverride.objects.filter(organisation__isnull=True).count() == 4
    assert HolidayOverride.objects.get(date=date(2027, 3, 1)).name == "公司假日"
    assert not is_working_day(date(2027, 3, 1))
    assert is_working_day(date(2027, 3, 6))  # the adjusted Saturday
    # The file gives 2027 wholly: 春节 of the package's estimate is not read any more.
    assert is_working_day(date(2027, 2, 8))
    assert len(working_days(date(2027, 3, 1), date(2027, 3, 8))) == 4
    entry = HolidayYear.objects.get(organisation__isnull=True, year=2027)
    assert entry.file_name == "cn_2027.json" and entry.from_file
    assert AuditEvent.objects.filter(action="scheduling.holidays.loaded").count() == 2


@pytest.mark.django_db
def test_update_holidays_names_every_bad_entry_and_loads_nothing(tmp_path: Path) -> None:
    bad = {
        "years": {
            "2027": {
                "holidays": {"2027-13-01": "x", "2028-01-01": "y", "2027-01-01": "元旦"},
                "working_days": ["2027-01-01", "2027-01-04"],
            }
        }
    }
    path = write(tmp_path, bad, "bad.json")

    with pytest.raises(CalendarFileError) as raised:
        parse_calendar_file(bad)
    with pytest.raises(CommandError):
        call_command("update_holidays", str(path), verbosity=0)

    assert len(raised.value.problems) == 4
    assert not HolidayOverride.objects.exists() and not HolidayYear.objects.exists()
    # 2027 still comes from the package.
    assert not national_calendar().is_working_day(date(2027, 2, 8))


def test_a_file_without_a_year_is_refused() -> None:
    with pytest.raises(CalendarFileError) as raised:
        parse_calendar_file({"years": {}})
    assert raised.value.problems == ["文件中没有列出任何年份。"]


@pytest.mark.django_db
def test_an_organisation_day_wins_over_the_national_calendar(hospital: Hospital) -> None:
    HolidayOverride.objects.create(
        organisation=hospital.organisation, date=date(2026, 12, 1), kind=DayKind.HOLIDAY
    )
    calendar = calendars_for_organisations([hospital.organisation.pk])[hospital.organisation.pk]
    assert not calendar.is_working_day(date(2026, 12, 1))
    assert national_calendar().is_working_day(date(2026, 12, 1))


@pytest.mark.django_db
def test_an_organisation_day_wins_over_a_national_file(hospital: Hospital, tmp_path: Path) -> None:
    call_command("update_holidays", str(write(tmp_path, FAKE_2027)), verbosity=0)
    HolidayOverride.objects.create(
        organisation=hospital.organisation, date=date(2027, 3, 1), kind=DayKind.WORKING_DAY
    )

    calendar = calendars_for_organisations([hospital.organisation.pk])[hospital.organisation.pk]

    assert calendar.is_working_day(date(2027, 3, 1))
    assert not calendar.is_working_day(date(2027, 3, 2))


@pytest.mark.django_db
def test_bundled_data_wins_over_the_package_and_a_file_over_both(
    hospital: Hospital, tmp_path: Path, bundled: Any
) -> None:
    bundled({"years": {"2027": {"holidays": {"2027-06-01": "儿童节"}, "working_days": []}}})
    organisation = hospital.organisation.pk

    calendar = calendars_for_organisations([organisation])[organisation]
    assert not calendar.is_working_day(date(2027, 6, 1))
    assert calendar.is_working_day(date(2027, 2, 8))  # the bundled year replaces the package's
    assert queries.year_states(organisation, [2027])[2027].source == queries.Source.BUNDLED

    call_command("update_holidays", str(write(tmp_path, FAKE_2027)), verbosity=0)
    calendar = calendars_for_organisations([organisation])[organisation]
    assert calendar.is_working_day(date(2027, 6, 1)) and not calendar.is_working_day(
        date(2027, 3, 1)
    )
    assert queries.year_states(organisation, [2027])[2027].source == queries.Source.NATIONAL_FILE
