"""The mainland calendar: holidays, adjusted working days, unknown years, the update command."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from miantan.audit.models import AuditEvent
from miantan.scheduling.enums import DayKind
from miantan.scheduling.holidays import (
    CalendarFileError,
    HolidayCalendar,
    UnknownHolidayYear,
    is_working_day,
    national_calendar,
    parse_calendar_file,
    working_days,
)
from miantan.scheduling.models import HolidayOverride

# Not an official schedule: a made-up year for testing the file format.
FAKE_2027 = {
    "years": {
        "2027": {
            "holidays": {"2027-01-01": "元旦", "2027-02-08": "春节", "2027-02-09": "春节"},
            "working_days": ["2027-02-06"],
        }
    }
}


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


def test_working_days_is_half_open() -> None:
    days = HolidayCalendar().working_days(date(2026, 2, 9), date(2026, 3, 2))
    assert days[0] == date(2026, 2, 9)
    assert date(2026, 2, 14) in days and date(2026, 2, 28) in days
    assert not any(date(2026, 2, 15) <= day <= date(2026, 2, 23) for day in days)
    assert date(2026, 3, 2) not in days


def test_unknown_year_raises_a_clear_error() -> None:
    with pytest.raises(UnknownHolidayYear) as raised:
        HolidayCalendar().is_working_day(date(2031, 5, 1))
    assert "2031" in str(raised.value.message)
    assert "update_holidays" in str(raised.value.message)


@pytest.mark.django_db
def test_update_holidays_loads_a_year_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "cn_2027.json"
    path.write_text(json.dumps(FAKE_2027, ensure_ascii=False), encoding="utf-8")

    call_command("update_holidays", str(path), verbosity=0)
    call_command("update_holidays", str(path), verbosity=0)

    assert HolidayOverride.objects.filter(organisation__isnull=True).count() == 4
    assert not is_working_day(date(2027, 2, 8))
    assert is_working_day(date(2027, 2, 6))  # the adjusted Saturday
    assert is_working_day(date(2027, 2, 10))  # an ordinary Wednesday of a known year
    assert len(working_days(date(2027, 2, 1), date(2027, 2, 8))) == 6
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
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")

    with pytest.raises(CalendarFileError) as raised:
        parse_calendar_file(bad)
    with pytest.raises(CommandError):
        call_command("update_holidays", str(path), verbosity=0)

    assert len(raised.value.problems) == 4
    assert not HolidayOverride.objects.exists()
    with pytest.raises(UnknownHolidayYear):
        national_calendar().is_working_day(date(2027, 3, 1))


@pytest.mark.django_db
def test_an_organisation_override_wins(hospital) -> None:  # type: ignore[no-untyped-def]
    from miantan.scheduling.holidays import calendars_for_organisations

    HolidayOverride.objects.create(
        organisation=hospital.organisation, date=date(2026, 12, 1), kind=DayKind.HOLIDAY
    )
    calendar = calendars_for_organisations([hospital.organisation.pk])[hospital.organisation.pk]
    assert not calendar.is_working_day(date(2026, 12, 1))
    assert national_calendar().is_working_day(date(2026, 12, 1))
