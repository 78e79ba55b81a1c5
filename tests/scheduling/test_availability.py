"""Availability: working hours across DST, holidays, shifts crossing midnight, loading."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from miantan.scheduling.availability import (
    PersonSchedule,
    ShiftDefinition,
    compute_availability,
    load_availability,
)
from miantan.scheduling.enums import BusyReason, LeaveKind, ShiftKind
from miantan.scheduling.holidays import HolidayCalendar
from miantan.scheduling.models import Leave, RosterEntry
from tests.factories import EmployeeFactory
from tests.personas import Hospital

from .builders import at, hospital_hours, shift_codes

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = {weekday: [(time(9), time(17))] for weekday in range(7)}
NIGHT = ShiftDefinition("夜班", ShiftKind.NIGHT, time(20), time(8))


def person(zone: str = "Asia/Shanghai", **extra: object) -> PersonSchedule:
    return PersonSchedule(
        employee_id=1, name="李明", time_zone=zone, working_hours=EVERY_DAY, **extra
    )  # type: ignore[arg-type]


def window(first: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(0), tzinfo=zone)
    return start, datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)


def test_berlin_working_hours_keep_wall_clock_times_on_the_dst_change_day() -> None:
    spring = compute_availability(person("Europe/Berlin"), window(date(2026, 3, 28), 2, BERLIN))
    assert spring.working == [
        (datetime(2026, 3, 28, 8, tzinfo=UTC), datetime(2026, 3, 28, 16, tzinfo=UTC)),  # CET
        (datetime(2026, 3, 29, 7, tzinfo=UTC), datetime(2026, 3, 29, 15, tzinfo=UTC)),  # CEST
    ]
    autumn = compute_availability(person("Europe/Berlin"), window(date(2026, 10, 25), 1, BERLIN))
    assert autumn.working == [
        (datetime(2026, 10, 25, 8, tzinfo=UTC), datetime(2026, 10, 25, 16, tzinfo=UTC))
    ]


def test_a_night_shift_over_the_dst_change_is_eleven_hours() -> None:
    schedule = person("Europe/Berlin", shifts=[(date(2026, 3, 28), NIGHT)])
    availability = compute_availability(schedule, window(date(2026, 3, 28), 2, BERLIN))
    (shift,) = availability.shifts
    assert shift.end - shift.start == timedelta(hours=11)
    assert shift.day == date(2026, 3, 28)


def test_a_night_shift_belongs_to_its_start_date_and_blocks_the_next_morning() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    schedule = person(shifts=[(date(2026, 12, 1), NIGHT)])
    availability = compute_availability(schedule, window(date(2026, 12, 1), 2, zone))
    assert availability.duty_days == {date(2026, 12, 1)}
    assert availability.night_shift_ends == [at(date(2026, 12, 2), 8)]
    assert [(item.reason, item.detail) for item in availability.busy] == [
        (BusyReason.SHIFT, "夜班")
    ]
    assert (at(date(2026, 12, 2), 9), at(date(2026, 12, 2), 17)) in availability.free


def test_chinese_holidays_close_the_day_and_adjusted_saturdays_open_it() -> None:
    weekdays = {weekday: [(time(9), time(17))] for weekday in range(5)}
    schedule = PersonSchedule(1, "李明", "Asia/Shanghai", weekdays)
    zone = ZoneInfo("Asia/Shanghai")
    availability = compute_availability(
        schedule, window(date(2026, 2, 14), 3, zone), calendar=HolidayCalendar()
    )
    assert availability.free == [(at(date(2026, 2, 14), 9), at(date(2026, 2, 14), 17))]
    assert {item.reason for item in availability.busy} == {BusyReason.HOLIDAY}


def test_other_time_zones_use_weekends_not_the_chinese_calendar() -> None:
    weekdays = {weekday: [(time(9), time(17))] for weekday in range(5)}
    schedule = PersonSchedule(1, "Anna", "Europe/Berlin", weekdays)
    availability = compute_availability(
        schedule, window(date(2026, 2, 14), 3, BERLIN), calendar=HolidayCalendar()
    )
    # Saturday 14th and Sunday 15th are off; Monday 16th (春节 in China) is a working day.
    assert [start.date() for start, _end in availability.free] == [date(2026, 2, 16)]


def test_leave_busy_blocks_and_talks_are_busy_with_their_reasons() -> None:
    day = date(2026, 12, 1)
    schedule = person(
        leave=[(at(day, 9), at(day, 10))],
        busy_blocks=[(at(day, 11), at(day, 12))],
        talks=[(at(day, 14), at(day, 15))],
    )
    availability = compute_availability(schedule, window(day, 1, ZoneInfo("Asia/Shanghai")))
    assert [item.reason for item in availability.busy] == [
        BusyReason.LEAVE,
        BusyReason.BUSY,
        BusyReason.TALK,
    ]
    assert availability.free[0] == (at(day, 10), at(day, 11))
    availability.add_talk(at(day, 16), at(day, 17))
    assert availability.talks_on(day) == 2
    assert availability.free[-1] == (at(day, 15), at(day, 16))


def test_load_availability_uses_a_fixed_number_of_queries(hospital: Hospital) -> None:
    codes = shift_codes(hospital.organisation)
    hospital_hours(hospital.organisation)
    day = date(2026, 12, 1)

    def load(people: list) -> int:  # type: ignore[type-arg]
        with CaptureQueriesContext(connection) as queries:
            load_availability(people, at(day, 0), at(day + timedelta(days=28), 0))
        return len(queries)

    few = load([hospital.doctor_li])
    many_people = [hospital.doctor_li, hospital.head, hospital.nurse_wang]
    many_people += [EmployeeFactory(department=hospital.cardiology) for _ in range(10)]
    for employee in many_people:
        RosterEntry.objects.create(
            organisation=hospital.organisation,
            employee=employee,
            date=day,
            shift_code=codes["夜班"],
        )
        Leave.objects.create(
            organisation=hospital.organisation,
            employee=employee,
            start=at(day, 9),
            end=at(day, 10),
            kind=LeaveKind.ANNUAL,
        )
    # Six queries of its own and one for the booked talks (the interviews app's loader).
    assert load(many_people) == few == 7


def test_load_availability_reads_the_roster_of_the_day_before(hospital: Hospital) -> None:
    codes = shift_codes(hospital.organisation)
    hospital_hours(hospital.organisation)
    day = date(2026, 12, 2)
    RosterEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        date=day - timedelta(days=1),
        shift_code=codes["夜班"],
    )
    loaded = load_availability([hospital.doctor_li], at(day, 0), at(day, 23))
    availability = loaded[hospital.doctor_li.pk]
    assert availability.busy[0].start == at(day, 0)
    assert availability.free[0][0] == at(day, 8)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_free_time_is_working_time_minus_busy_time(zone: str) -> None:
    local = ZoneInfo(zone)
    day = date(2026, 12, 1)
    start = datetime.combine(day, time(10), tzinfo=local)
    schedule = person(zone, busy_blocks=[(start, start + timedelta(hours=1))])
    availability = compute_availability(schedule, window(day, 1, local))
    assert len(availability.free) == 2


DAY_SHIFT = ShiftDefinition("白班", ShiftKind.DAY, time(8), time(17))
OFF = ShiftDefinition("休", ShiftKind.OFF, time(0), time(0))
CLINIC = ShiftDefinition("门诊", ShiftKind.CLINIC, time(8), time(12))


def test_a_day_shift_is_the_days_working_time_and_free_for_a_talk() -> None:
    day = date(2026, 12, 5)  # a Saturday, and the person has no working hours at all
    shanghai = ZoneInfo("Asia/Shanghai")
    schedule = PersonSchedule(
        employee_id=1,
        name="王芳",
        time_zone="Asia/Shanghai",
        working_hours={},
        shifts=[(day, DAY_SHIFT)],
    )

    result = compute_availability(schedule, window(day, 1, shanghai))

    assert result.free == [(at(day, 8).astimezone(UTC), at(day, 17).astimezone(UTC))]
    assert not result.busy


def test_a_day_off_on_the_roster_has_no_working_time_even_on_a_weekday() -> None:
    monday = date(2026, 12, 7)
    shanghai = ZoneInfo("Asia/Shanghai")
    schedule = person(shifts=[(monday, OFF)])

    result = compute_availability(schedule, window(monday, 2, shanghai))

    tuesday = monday + timedelta(days=1)
    assert result.free == [(at(tuesday, 9).astimezone(UTC), at(tuesday, 17).astimezone(UTC))]


def test_a_clinic_session_is_busy_within_the_working_hours() -> None:
    monday = date(2026, 12, 7)
    shanghai = ZoneInfo("Asia/Shanghai")
    schedule = person(shifts=[(monday, CLINIC)])

    result = compute_availability(schedule, window(monday, 1, shanghai))

    assert result.free == [(at(monday, 12).astimezone(UTC), at(monday, 17).astimezone(UTC))]
    assert [(b.reason, b.detail) for b in result.busy] == [(BusyReason.SHIFT, "门诊")]
