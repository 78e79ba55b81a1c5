"""The slot search: property tests (no overlap, every hard constraint, best score) and cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miantan.scheduling import intervals
from miantan.scheduling.availability import (
    Availability,
    PersonSchedule,
    ShiftDefinition,
    compute_availability,
)
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.holidays import HolidayCalendar
from miantan.scheduling.slots import HardConstraints, SoftPreferences, TimeOfDay, find_slots

FIRST = date(2026, 3, 23)  # the week of the European spring DST change
DAYS = 9
ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York"]
SHIFTS = [
    ShiftDefinition("白班", ShiftKind.DAY, time(8), time(17)),
    ShiftDefinition("夜班", ShiftKind.NIGHT, time(20), time(8)),
    ShiftDefinition("值班", ShiftKind.ON_CALL, time(8), time(8)),
    ShiftDefinition("手术日", ShiftKind.SURGERY, time(8), time(12)),
    ShiftDefinition("休", ShiftKind.OFF, time(0), time(0)),
]
CALENDAR = HolidayCalendar()


@st.composite
def schedules(draw: st.DrawFn, employee_id: int) -> PersonSchedule:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    hours = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        start = draw(st.integers(6, 12))
        hours[weekday] = [(time(start), time(draw(st.integers(start + 1, 20))))]

    def span() -> tuple[datetime, datetime]:
        day = FIRST + timedelta(days=draw(st.integers(0, DAYS - 1)))
        start = datetime.combine(
            day, time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 20, 45]))), tzinfo=zone
        )
        return start, start + timedelta(minutes=draw(st.integers(10, 300)))

    shifts = [
        (FIRST + timedelta(days=draw(st.integers(-1, DAYS - 1))), draw(st.sampled_from(SHIFTS)))
        for _ in range(draw(st.integers(0, 4)))
    ]
    return PersonSchedule(
        employee_id=employee_id,
        name=f"P{employee_id}",
        time_zone=str(zone),
        working_hours=hours,
        shifts=shifts,
        leave=[span() for _ in range(draw(st.integers(0, 1)))],
        busy_blocks=[span() for _ in range(draw(st.integers(0, 4)))],
        talks=[span() for _ in range(draw(st.integers(0, 3)))],
    )


hard_constraints = st.builds(
    HardConstraints,
    within_working_hours=st.booleans(),
    avoid_duty_days=st.booleans(),
    rest_after_night=st.sampled_from([timedelta(), timedelta(hours=8), timedelta(hours=12)]),
    buffer=st.sampled_from([timedelta(), timedelta(minutes=15), timedelta(minutes=40)]),
    max_talks_per_day=st.sampled_from([None, 1, 2]),
)
soft_preferences = st.builds(
    SoftPreferences,
    time_of_day=st.sampled_from(
        [(), (TimeOfDay(end=time(10)),), (TimeOfDay(time(14), time(16), 3.0),)]
    ),
    avoid_surgery_days=st.sampled_from([0.0, 5.0]),
    earliest=st.sampled_from([0.0, 1.0]),
    spread=st.sampled_from([0.0, 2.0]),
)
WINDOW = (
    datetime(2026, 3, 23, tzinfo=UTC),
    datetime(2026, 3, 23, tzinfo=UTC) + timedelta(days=DAYS),
)


def availabilities(people: list[PersonSchedule]) -> list[Availability]:
    return [compute_availability(person, WINDOW, calendar=CALENDAR) for person in people]


def violations(
    person: Availability, start: datetime, end: datetime, hard: HardConstraints
) -> list[str]:
    """Every hard constraint the slot breaks for this person, checked from first principles."""
    found = []
    if intervals.overlaps(person.busy_spans(), start, end):
        found.append("busy")
    if hard.within_working_hours and not intervals.contains(person.working, start, end):
        found.append("working hours")
    local_days = {
        start.astimezone(person.zone).date(),
        (end - timedelta(seconds=1)).astimezone(person.zone).date(),
    }
    if hard.avoid_duty_days and local_days & person.duty_days:
        found.append("duty day")
    rest = [(e, e + hard.rest_after_night) for e in person.night_shift_ends]
    if hard.rest_after_night and intervals.overlaps(rest, start, end):
        found.append("rest")
    buffered = [(a - hard.buffer, b + hard.buffer) for a, b in person.talks]
    if intervals.overlaps(buffered, start, end):
        found.append("buffer")
    cap = hard.max_talks_per_day
    if cap is not None and person.talks_on(start.astimezone(person.zone).date()) >= cap:
        found.append("cap")
    return found


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(1, 1000), min_size=1, max_size=3, unique=True).flatmap(
        lambda ids: st.tuples(*(schedules(employee_id) for employee_id in ids))
    ),
    hard_constraints,
    soft_preferences,
    st.sampled_from([30, 45, 60, 90]),
)
def test_no_slot_overlaps_busy_time_or_breaks_a_hard_constraint(
    people: tuple[PersonSchedule, ...], hard: HardConstraints, soft: SoftPreferences, minutes: int
) -> None:
    participants = availabilities(list(people))
    duration = timedelta(minutes=minutes)
    slots = find_slots(
        participants, duration=duration, hard=hard, soft=soft, limit=8, max_per_day=None
    )
    for slot in slots:
        assert slot.end - slot.start == duration
        assert WINDOW[0] <= slot.start and slot.end <= WINDOW[1]
        assert int(slot.start.timestamp()) % 900 == 0
        for person in participants:
            assert violations(person, slot.start, slot.end, hard) == []
    assert [slot.score for slot in slots] == sorted((slot.score for slot in slots), reverse=True)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(schedules(1), schedules(2)), hard_constraints, soft_preferences)
def test_the_best_slot_is_as_good_as_any_feasible_start(
    people: tuple[PersonSchedule, PersonSchedule], hard: HardConstraints, soft: SoftPreferences
) -> None:
    participants = availabilities(list(people))
    duration = timedelta(minutes=60)
    slots = find_slots(participants, duration=duration, hard=hard, soft=soft, limit=1)
    feasible = []
    start = WINDOW[0]
    while start + duration <= WINDOW[1]:
        end = start + duration
        if all(not violations(person, start, end, hard) for person in participants):
            feasible.append(start)
        start += timedelta(minutes=15)
    if not feasible:
        assert slots == []
        return
    best = max(score_by_hand(participants, soft, start, duration) for start in feasible)
    assert slots
    assert abs(slots[0].score - round(best, 3)) < 0.002


def score_by_hand(
    participants: list[Availability], soft: SoftPreferences, start: datetime, duration: timedelta
) -> float:
    zone = participants[0].zone
    local = start.astimezone(zone)
    score = soft.earliest * (1 - (start - WINDOW[0]) / (WINDOW[1] - WINDOW[0]))
    for preference in soft.time_of_day:
        low = datetime.combine(local.date(), preference.start or time(0), tzinfo=zone)
        high = (
            datetime.combine(local.date(), preference.end, tzinfo=zone)
            if preference.end
            else datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
        )
        if low <= start and start + duration <= high:
            score += preference.weight
    for person in participants:
        day = start.astimezone(person.zone).date()
        if day in person.surgery_days:
            score -= soft.avoid_surgery_days
        score -= soft.spread * person.talks_on(day)
    return score


def test_slots_carry_reasons_with_codes_and_translated_messages() -> None:
    people = [PersonSchedule(1, "李明", "Asia/Shanghai", {0: [(time(8), time(12))]})]
    (slot,) = find_slots(
        availabilities(people),
        duration=timedelta(hours=1),
        soft=SoftPreferences(time_of_day=(TimeOfDay(end=time(10)),)),
        limit=1,
    )
    assert slot.start == datetime(2026, 3, 23, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert [(reason.code, reason.points) for reason in slot.reasons] == [
        ("before", 10.0),
        ("earliest", 1.0),
    ]
    assert "10:00" in slot.reasons[0].message


def test_one_slot_per_day_by_default_and_the_cap_keeps_managers_free() -> None:
    hours = {weekday: [(time(9), time(17))] for weekday in range(5)}
    day = datetime(2026, 3, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    manager = PersonSchedule(
        1, "张伟", "Asia/Shanghai", hours, talks=[(day, day + timedelta(hours=1))]
    )
    employee = PersonSchedule(2, "李明", "Asia/Shanghai", hours)
    participants = availabilities([manager, employee])

    slots = find_slots(participants, duration=timedelta(hours=1), limit=3)
    capped = find_slots(
        participants,
        duration=timedelta(hours=1),
        hard=HardConstraints(max_talks_per_day=1),
        managers=[1],
        limit=3,
    )

    assert len({slot.start.date() for slot in slots}) == 3
    assert slots[0].start == day + timedelta(hours=1)
    assert capped[0].start == day + timedelta(days=1)


# --- the reasons as people read them ------------------------------------------------------------

WEEKDAYS = {weekday: [(time(9), time(17))] for weekday in range(5)}


def test_no_surgery_reason_when_nobody_has_surgery_days() -> None:
    # A factory worker and their line manager: "not on a surgery day" says nothing to them.
    people = [
        PersonSchedule(1, "王工", "Asia/Shanghai", WEEKDAYS),
        PersonSchedule(2, "刘班长", "Asia/Shanghai", WEEKDAYS),
    ]
    with time_machine.travel(WINDOW[0], tick=False):
        slots = find_slots(
            availabilities(people),
            duration=timedelta(hours=1),
            soft=SoftPreferences(avoid_surgery_days=5.0),
            limit=3,
        )

    assert slots
    assert all(r.code != "no_surgery_day" for slot in slots for r in slot.reasons)


def test_the_surgery_reason_names_surgery_days_when_someone_has_them() -> None:
    surgeon = PersonSchedule(
        1,
        "张伟",
        "Asia/Shanghai",
        WEEKDAYS,
        shifts=[(FIRST, SHIFTS[3])],  # 手术日 on Monday
    )
    with time_machine.travel(WINDOW[0], tick=False):
        (slot,) = find_slots(
            availabilities([surgeon]),
            duration=timedelta(hours=1),
            soft=SoftPreferences(avoid_surgery_days=5.0),
            limit=1,
        )

    assert "no_surgery_day" in [r.code for r in slot.reasons]
    assert slot.start.astimezone(ZoneInfo("Asia/Shanghai")).date() == FIRST + timedelta(days=1)


def test_the_earliest_reason_never_says_zero_days() -> None:
    person = PersonSchedule(1, "李明", "Asia/Shanghai", WEEKDAYS)
    with time_machine.travel(WINDOW[0], tick=False):
        slots = find_slots(availabilities([person]), duration=timedelta(hours=1), limit=3)
        with translation.override("en"):
            messages = [
                next(r.message for r in slot.reasons if r.code == "earliest") for slot in slots
            ]
        with translation.override("zh-hans"):
            first_in_chinese = next(r.message for r in slots[0].reasons if r.code == "earliest")

    assert messages == [
        "Earlier slots rank higher: the first possible day",
        "Earlier slots rank higher: 1 day after the first possible day",
        "Earlier slots rank higher: 2 days after the first possible day",
    ]
    assert first_in_chinese == "越早越靠前：最早可能的那一天"


def test_a_busy_day_counts_talks_in_the_singular_and_plural() -> None:
    day = datetime(2026, 3, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    manager = PersonSchedule(
        1,
        "张伟",
        "Asia/Shanghai",
        WEEKDAYS,
        talks=[
            (day, day + timedelta(hours=1)),
            (day + timedelta(days=1), day + timedelta(days=1, hours=1)),
            (day + timedelta(days=1, hours=2), day + timedelta(days=1, hours=3)),
        ],
    )
    soft = SoftPreferences(spread=1.0, earliest=0.0)
    with time_machine.travel(WINDOW[0], tick=False):
        slots = find_slots(
            availabilities([manager]), duration=timedelta(hours=1), soft=soft, limit=DAYS
        )
        with translation.override("en"):
            busy = {
                slot.start.astimezone(ZoneInfo("Asia/Shanghai")).date(): r.message
                for slot in slots
                for r in slot.reasons
                if r.code == "busy_day"
            }

    assert busy[date(2026, 3, 23)] == "张伟 already has 1 talk that day"
    assert busy[date(2026, 3, 24)] == "张伟 already has 2 talks that day"
