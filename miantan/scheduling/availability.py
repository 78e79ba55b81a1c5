"""When a person is free for a talk, and why not when they are not.

For one employee and a window [start, end), availability is built from:

- working hours in the employee's time zone, day by day (so a daylight-saving change day has
  its real length), on working days: the mainland calendar (holidays, adjusted working
  Saturdays) for Chinese time zones, the weekdays that have working hours elsewhere; a year
  the calendar does not know counts as ordinary weekdays, and is reported in `unknown_years`;
- roster shifts: a shift belongs to the date it starts on and may cross midnight (夜班
  20:00–08:00). A day shift (白班) is the day's working time instead of the working hours; a
  day off (休) has none; every other shift is busy while it lasts;
- leave, busy blocks from calendars, and existing talks.

`free` is working time minus busy time. The slot search adds the hard constraints (duty days,
rest after night shifts, buffers, caps) on top, from the facts kept here.

`load_availability` loads many people with a fixed number of queries (six, whatever their
number), so that a review cycle can compute availability for thousands of pairs at once;
`compute_availability` is the pure part, which tests feed with plain data.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from django.db.models import Q

from miantan.people.models import Employee

from . import intervals
from .enums import DUTY_KINDS, WORKING_KINDS, BusyReason, DayKind, ShiftKind
from .holidays import (
    CHINESE_TIME_ZONES,
    HolidayCalendar,
    UnknownHolidayYear,
    calendars_for_organisations,
)

Span = tuple[datetime, datetime]
Seconds = tuple[int, int]
HoursByWeekday = Mapping[int, Sequence[tuple[time, time]]]
TalkLoader = Callable[[Sequence[int], datetime, datetime], Mapping[int, Sequence[Span]]]

# Used when neither the employee nor the organisation has working hours: 朝九晚六 with lunch.
DEFAULT_WORKING_HOURS: dict[int, tuple[tuple[time, time], ...]] = {
    weekday: ((time(9), time(12)), (time(13), time(18))) for weekday in range(5)
}
_DAY = timedelta(days=1)

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "Availability",
    "BusyInterval",
    "PersonSchedule",
    "ShiftDefinition",
    "ShiftSpan",
    "compute_availability",
    "existing_talks",
    "load_availability",
    "register_talk_loader",
    "shift_kinds_of",
]


@dataclass(frozen=True)
class ShiftDefinition:
    code: str
    kind: str
    start: time
    end: time  # at or before `start`: the next day


@dataclass(frozen=True)
class ShiftSpan:
    """A roster shift placed in time (UTC), with the local date it belongs to."""

    day: date
    start: datetime
    end: datetime
    code: str
    kind: str
    overnight: bool = False


@dataclass(frozen=True)
class BusyInterval:
    start: datetime
    end: datetime
    reason: str  # BusyReason
    detail: str = ""  # the shift code, the kind of leave, the holiday; never a calendar title


@dataclass(frozen=True)
class PersonSchedule:
    """Everything one person's availability is computed from, as plain data."""

    employee_id: int
    name: str
    time_zone: str
    working_hours: HoursByWeekday
    shifts: Sequence[tuple[date, ShiftDefinition]] = ()
    leave: Sequence[Span] = ()
    busy_blocks: Sequence[Span] = ()
    talks: Sequence[Span] = ()


@dataclass(frozen=True)
class SecondsView:
    """The facts the slot search needs, as seconds since the epoch (fast to compare)."""

    free: list[Seconds]  # within working hours
    unbusy: list[Seconds]  # the window minus busy time, working hours or not
    duty_days: list[Seconds]  # whole local days with a night or on-call shift
    surgery_days: list[Seconds]
    night_ends: list[int]
    talks: list[Seconds]
    talk_days: list[tuple[int, int, int]]  # local day (start, end) and its number of talks


@dataclass
class Availability:
    """One person's time in a window: working time, busy time with reasons, free time."""

    employee_id: int
    name: str
    zone: ZoneInfo
    window: Span
    working: list[Span]
    busy: list[BusyInterval]
    shifts: list[ShiftSpan]
    talks: list[Span]
    free: list[Span] = field(default_factory=list)
    # Years in the window without public-holiday data, whose days count as ordinary weekdays.
    unknown_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.free = intervals.subtract(self.working, self.busy_spans())

    def busy_spans(self) -> list[Span]:
        return intervals.merge((item.start, item.end) for item in self.busy)

    @property
    def duty_days(self) -> frozenset[date]:
        return frozenset(shift.day for shift in self.shifts if shift.kind in DUTY_KINDS)

    @property
    def surgery_days(self) -> frozenset[date]:
        return frozenset(shift.day for shift in self.shifts if shift.kind == ShiftKind.SURGERY)

    @property
    def night_shift_ends(self) -> list[datetime]:
        """Ends of night shifts and of on-call shifts that run overnight: rest follows them."""
        return sorted(
            shift.end
            for shift in self.shifts
            if shift.kind == ShiftKind.NIGHT
            or (shift.kind == ShiftKind.ON_CALL and shift.overnight)
        )

    def talks_on(self, day: date) -> int:
        return self.talks_per_day.get(day, 0)

    @cached_property
    def talks_per_day(self) -> Counter[date]:
        return Counter(start.astimezone(self.zone).date() for start, _end in self.talks)

    def add_talk(self, start: datetime, end: datetime) -> None:
        """Count a talk just placed (the cycle scheduler places many in one run)."""
        span = (start.astimezone(UTC), end.astimezone(UTC))
        self.talks.append(span)
        self.busy.append(BusyInterval(*span, BusyReason.TALK))
        self.busy.sort(key=lambda item: (item.start, item.end))
        self.free = intervals.subtract(self.free, [span])
        for name in ("talks_per_day", "seconds"):
            self.__dict__.pop(name, None)

    @cached_property
    def seconds(self) -> SecondsView:
        zone = self.zone

        def day_span(day: date) -> Seconds:
            return _epoch(_local(day, time(0), zone)), _epoch(_local(day + _DAY, time(0), zone))

        window = (_epoch(self.window[0]), _epoch(self.window[1]))
        busy = [(_epoch(a), _epoch(b)) for a, b in self.busy_spans()]
        talk_days = [(*day_span(day), count) for day, count in sorted(self.talks_per_day.items())]
        return SecondsView(
            free=[(_epoch(a), _epoch(b)) for a, b in self.free],
            unbusy=intervals.subtract([window], busy),
            duty_days=intervals.merge(day_span(day) for day in self.duty_days),
            surgery_days=intervals.merge(day_span(day) for day in self.surgery_days),
            night_ends=[_epoch(end) for end in self.night_shift_ends],
            talks=intervals.merge((_epoch(a), _epoch(b)) for a, b in self.talks),
            talk_days=talk_days,
        )


def compute_availability(
    schedule: PersonSchedule, window: Span, *, calendar: HolidayCalendar | None = None
) -> Availability:
    """Availability of one person in [window start, window end). `calendar` is the mainland
    calendar, used when the person's time zone is Chinese; None means weekdays decide.

    A day of a year that no holiday source knows is an ordinary weekday or weekend (talks go
    on being offered); its year is listed in `unknown_years`, so that HR can be told."""
    zone = ZoneInfo(schedule.time_zone)
    start, end = (moment.astimezone(UTC) for moment in window)
    chinese = calendar if schedule.time_zone in CHINESE_TIME_ZONES else None
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    working: list[Span] = []
    busy: list[BusyInterval] = []
    unknown: set[int] = set()
    shifts = _place_shifts(schedule.shifts, zone)
    rostered: dict[date, list[ShiftSpan]] = defaultdict(list)
    for shift in shifts:
        rostered[shift.day].append(shift)
    day = first
    while day <= last:
        on_roster = rostered.get(day, [])
        at_work = [(s.start, s.end) for s in on_roster if s.kind in WORKING_KINDS]
        if at_work:
            # The roster says when the person works that day, holiday or not.
            working.extend(at_work)
            day += _DAY
            continue
        if on_roster and all(s.kind == ShiftKind.OFF for s in on_roster):
            day += _DAY
            continue
        try:
            hours, holiday = _hours_on(day, schedule.working_hours, chinese)
        except UnknownHolidayYear:
            unknown.add(day.year)
            hours, holiday = _hours_on(day, schedule.working_hours, None)
        spans = [(_local(day, a, zone), _local(day, b, zone)) for a, b in hours]
        if holiday:
            busy.extend(BusyInterval(a, b, BusyReason.HOLIDAY) for a, b in spans)
        else:
            working.extend(spans)
        day += _DAY
    busy.extend(
        BusyInterval(shift.start, shift.end, BusyReason.SHIFT, shift.code)
        for shift in shifts
        if shift.kind != ShiftKind.OFF and shift.kind not in WORKING_KINDS
    )
    for reason, stretches in (
        (BusyReason.LEAVE, schedule.leave),
        (BusyReason.BUSY, schedule.busy_blocks),
        (BusyReason.TALK, schedule.talks),
    ):
        busy.extend(BusyInterval(a, b, reason) for a, b in intervals.normalise(stretches))
    clipped = [
        BusyInterval(max(item.start, start), min(item.end, end), item.reason, item.detail)
        for item in busy
        if item.start < end and start < item.end
    ]
    return Availability(
        employee_id=schedule.employee_id,
        name=schedule.name,
        zone=zone,
        window=(start, end),
        working=intervals.clip(intervals.merge(working), (start, end)),
        busy=sorted(clipped, key=lambda item: (item.start, item.end)),
        shifts=shifts,
        talks=intervals.normalise(schedule.talks),
        unknown_years=frozenset(unknown),
    )


def _hours_on(
    day: date, hours: HoursByWeekday, calendar: HolidayCalendar | None
) -> tuple[Sequence[tuple[time, time]], bool]:
    """The working hours of a local date, and whether they are lost to a public holiday."""
    own = hours.get(day.weekday(), ())
    if calendar is None:
        return own, False
    kind = calendar.day_kind(day)
    if kind == DayKind.HOLIDAY:
        return own, True
    if kind == DayKind.WORKING_DAY and not own:
        # An adjusted working Saturday follows the hours of an ordinary weekday.
        return next((hours[w] for w in range(5) if hours.get(w)), ()), False
    return own, False


def _place_shifts(
    shifts: Iterable[tuple[date, ShiftDefinition]], zone: ZoneInfo
) -> list[ShiftSpan]:
    placed = []
    for day, shift in shifts:
        overnight = shift.end <= shift.start
        start = _local(day, shift.start, zone)
        end = _local(day + _DAY if overnight else day, shift.end, zone)
        placed.append(ShiftSpan(day, start, end, shift.code, shift.kind, overnight))
    return sorted(placed, key=lambda shift: (shift.start, shift.end))


def _local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in a zone, in UTC. A time skipped by a DST change (02:30 on the
    spring-forward night in Berlin) lands one hour later, as clocks show it."""
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- loading from the database ---------------------------------------------------------------


def load_availability(
    employees: Sequence[Employee], start: datetime, end: datetime
) -> dict[int, Availability]:
    """Availability of many employees in [start, end), by employee id.

    Six queries whatever the number of people: working hours, roster entries with their
    shift codes, leave, busy blocks, holiday overrides and the years loaded from files (plus
    what the talk loaders run). Days of a year without holiday data count as ordinary days
    (see compute_availability).
    """
    ids = [employee.pk for employee in employees]
    organisation_ids = {employee.organisation_id for employee in employees}
    # Shifts that started the day before the window may still run into it.
    first = (start - 2 * _DAY).date()
    last = (end + _DAY).date()
    hours = _working_hours(ids, organisation_ids)
    shifts = _roster(ids, first, last)
    leave = _spans_by_employee("leave", ids, start, end)
    busy = _spans_by_employee("busy", ids, start, end)
    talks = existing_talks(ids, start, end)
    needs_calendar = any(employee.time_zone in CHINESE_TIME_ZONES for employee in employees)
    calendars = calendars_for_organisations(organisation_ids) if needs_calendar else {}
    result = {}
    for employee in employees:
        schedule = PersonSchedule(
            employee_id=employee.pk,
            name=employee.name,
            time_zone=employee.time_zone,
            working_hours=hours.get(employee.pk)
            or hours.get(-employee.organisation_id)
            or DEFAULT_WORKING_HOURS,
            shifts=shifts.get(employee.pk, ()),
            leave=leave.get(employee.pk, ()),
            busy_blocks=busy.get(employee.pk, ()),
            talks=talks.get(employee.pk, ()),
        )
        calendar = calendars.get(employee.organisation_id)
        result[employee.pk] = compute_availability(schedule, (start, end), calendar=calendar)
    return result


def _working_hours(
    ids: Sequence[int], organisation_ids: set[int]
) -> dict[int, dict[int, list[tuple[time, time]]]]:
    """Employee id → weekday → hours; an organisation's default under minus its id."""
    from .models import WorkingHours

    rows = (
        WorkingHours.objects.filter(organisation_id__in=organisation_ids)
        .filter(Q(employee__isnull=True) | Q(employee_id__in=ids))
        .order_by("weekday", "start")
        .values_list("organisation_id", "employee_id", "weekday", "start", "end")
    )
    hours: dict[int, dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    for organisation_id, employee_id, weekday, begins, ends in rows:
        owner = employee_id if employee_id is not None else -organisation_id
        hours[owner][weekday].append((begins, ends))
    return hours


def _roster(
    ids: Sequence[int], first: date, last: date
) -> dict[int, list[tuple[date, ShiftDefinition]]]:
    from .models import RosterEntry

    rows = RosterEntry.objects.filter(
        employee_id__in=ids, date__gte=first, date__lte=last
    ).values_list(
        "employee_id",
        "date",
        "shift_code__code",
        "shift_code__kind",
        "shift_code__start",
        "shift_code__end",
    )
    shifts: dict[int, list[tuple[date, ShiftDefinition]]] = defaultdict(list)
    definitions: dict[tuple[str, str, time, time], ShiftDefinition] = {}
    for employee_id, day, code, kind, begins, ends in rows:
        key = (code, kind, begins, ends)
        definition = definitions.get(key)
        if definition is None:
            definition = definitions[key] = ShiftDefinition(*key)
        shifts[employee_id].append((day, definition))
    return shifts


def _spans_by_employee(
    what: str, ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Span]]:
    from .models import BusyBlock, Leave

    model = Leave if what == "leave" else BusyBlock
    rows = model.objects.filter(employee_id__in=ids, start__lt=end, end__gt=start).values_list(
        "employee_id", "start", "end"
    )
    spans: dict[int, list[Span]] = defaultdict(list)
    for employee_id, begins, ends in rows:
        spans[employee_id].append((begins, ends))
    return spans


def shift_kinds_of(organisation_id: int) -> frozenset[str]:
    """The kinds of shift the organisation's codes have (one query): which roster-based
    constraints (duty days, surgery days) mean anything to its people."""
    from .models import ShiftCode

    kinds = ShiftCode.objects.filter(organisation_id=organisation_id).values_list("kind", flat=True)
    return frozenset(kinds.distinct())


# --- existing talks ----------------------------------------------------------------------------

_TALK_LOADERS: list[TalkLoader] = []


def register_talk_loader(loader: TalkLoader) -> None:
    """Let the app that owns talks report them as busy time: `loader(employee_ids, start,
    end)` returns employee id → [(start, end)] of talks overlapping the window, in one query."""
    if loader not in _TALK_LOADERS:
        _TALK_LOADERS.append(loader)


def existing_talks(ids: Sequence[int], start: datetime, end: datetime) -> dict[int, list[Span]]:
    """Scheduled talks of these employees in the window; none until a talk loader is
    registered (the interviews app does it when it is ready)."""
    talks: dict[int, list[Span]] = defaultdict(list)
    for loader in _TALK_LOADERS:
        for employee_id, spans in loader(ids, start, end).items():
            talks[employee_id].extend(spans)
    return talks
