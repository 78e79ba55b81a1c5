"""Small helpers to build rosters and availability in tests."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from miantan.people.models import Organisation
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import ShiftCode, WorkingHours

SHANGHAI = ZoneInfo("Asia/Shanghai")

# 白班, 夜班 (overnight), 值班 (24 h), 手术日, 门诊 (clinic mornings), 休.
STANDARD_SHIFTS = {
    "白班": ("Day", time(8), time(17), ShiftKind.DAY),
    "夜班": ("Night", time(20), time(8), ShiftKind.NIGHT),
    "值班": ("On call", time(8), time(8), ShiftKind.ON_CALL),
    "手术日": ("Surgery", time(8), time(18), ShiftKind.SURGERY),
    "门诊": ("Clinic", time(8), time(12), ShiftKind.CLINIC),
    "休": ("Off", time(0), time(0), ShiftKind.OFF),
}


def shift_codes(organisation: Organisation) -> dict[str, ShiftCode]:
    return {
        code: ShiftCode.objects.create(
            organisation=organisation, code=code, name_en=name, start=start, end=end, kind=kind
        )
        for code, (name, start, end, kind) in STANDARD_SHIFTS.items()
    }


def hospital_hours(organisation: Organisation) -> None:
    """The organisation's default: Monday to Friday 08:00–12:00 and 14:00–17:30."""
    for weekday in range(5):
        for start, end in ((time(8), time(12)), (time(14), time(17, 30))):
            WorkingHours.objects.create(
                organisation=organisation, weekday=weekday, start=start, end=end
            )


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)
