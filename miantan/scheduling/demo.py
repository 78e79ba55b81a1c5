"""Scheduling facts for the demo organisations: shift codes, working hours and four weeks of
rosters from the day the demo is loaded, so that the slot search has real shifts to work
around (night duty on alternate days, clinic mornings, surgery days). Deterministic for a given
start day."""

from __future__ import annotations

from datetime import date, time, timedelta

from django.db import transaction
from django.utils import timezone

from miantan.people.models import Employee, Organisation

from .enums import ShiftKind
from .models import RosterEntry, ShiftCode, WorkingHours

ROSTER_DAYS = 28

_HOSPITAL_SHIFTS = {
    "白班": ("Day", time(8), time(17), ShiftKind.DAY),
    "夜班": ("Night", time(20), time(8), ShiftKind.NIGHT),
    "值班": ("On call", time(8), time(8), ShiftKind.ON_CALL),
    "手术日": ("Surgery day", time(8), time(18), ShiftKind.SURGERY),
    "门诊": ("Clinic", time(8), time(12), ShiftKind.CLINIC),
    "休": ("Off", time(0), time(0), ShiftKind.OFF),
}
_FACTORY_SHIFTS = {
    "早班": ("Early", time(6), time(14), ShiftKind.DAY),
    "中班": ("Late", time(14), time(22), ShiftKind.DAY),
    "夜班": ("Night", time(22), time(6), ShiftKind.NIGHT),
    "休": ("Off", time(0), time(0), ShiftKind.OFF),
}
_HOURS = {
    "hospital": ((time(8), time(12)), (time(14), time(17, 30))),
    "factory": ((time(8, 30), time(12)), (time(13), time(17, 30))),
}
# Who works which pattern, by demo login (miantan/people/demo.py).
_PATTERNS = {
    "h.doctor.li": "nights",
    "h.doctor.carter": "surgery",
    "h.doctor.zhao": "on_call",
    "h.head.cardiology": "clinic",
    "h.nurse.wang": "rotation",
    "h.headnurse.zhang": "days",
}


def seed_scheduling(organisation: Organisation, *, start: date | None = None) -> int:
    """Shift codes, the organisation's working hours and rosters; returns roster entries made."""
    start = start or timezone.localdate()
    hospital = organisation.slug == "hospital"
    with transaction.atomic():
        codes = {
            code: ShiftCode.objects.create(
                organisation=organisation,
                code=code,
                name_en=name,
                start=begins,
                end=ends,
                kind=kind,
            )
            for code, (name, begins, ends, kind) in (
                _HOSPITAL_SHIFTS if hospital else _FACTORY_SHIFTS
            ).items()
        }
        WorkingHours.objects.bulk_create(
            WorkingHours(organisation=organisation, weekday=weekday, start=begins, end=ends)
            for weekday in range(5)
            for begins, ends in _HOURS["hospital" if hospital else "factory"]
        )
        people = Employee.objects.filter(organisation=organisation).select_related("user")
        entries = [
            RosterEntry(organisation=organisation, employee=person, date=day, shift_code=codes[c])
            for person in people
            for day, c in _roster(person, start, hospital)
        ]
        RosterEntry.objects.bulk_create(entries)
    return len(entries)


def _roster(person: Employee, start: date, hospital: bool) -> list[tuple[date, str]]:
    pattern = _PATTERNS.get(person.user.username, "")
    if not hospital:
        # Line workers rotate early, late and night weeks; everyone else works office hours.
        if not person.user.username.startswith("f.worker"):
            return []
        week = ("早班", "中班", "夜班")
        return [
            (day, week[(offset // 7) % 3] if day.weekday() < 5 else "休")
            for offset, day in _days(start)
        ]
    if pattern == "nights":
        return [(day, "夜班") for offset, day in _days(start) if offset % 2 == 1]
    if pattern == "surgery":
        return [(day, "手术日") for _offset, day in _days(start) if day.weekday() in (1, 3)]
    if pattern == "on_call":
        return [(day, "值班") for offset, day in _days(start) if offset % 4 == 2]
    if pattern == "clinic":
        return [(day, "门诊") for _offset, day in _days(start) if day.weekday() in (0, 2, 4)]
    if pattern == "rotation":
        cycle = ("白班", "白班", "夜班", "休", "休")
        return [(day, cycle[offset % 5]) for offset, day in _days(start)]
    if pattern == "days":
        return [(day, "白班") for _offset, day in _days(start) if day.weekday() < 5]
    return []


def _days(start: date) -> list[tuple[int, date]]:
    return [(offset, start + timedelta(days=offset)) for offset in range(ROSTER_DAYS)]
