"""The slot search at its edges: no slot asked for, the window's last day and last minute, a
window exactly as long as the talk, the step grid and the daily limit."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from miantan.scheduling.availability import Availability, PersonSchedule, compute_availability
from miantan.scheduling.slots import HardConstraints, SoftPreferences, TimeOfDay, find_slots

# A zone outside the mainland: weekdays alone decide working days, whatever the holiday data.
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 6, 1)
HOUR = timedelta(hours=1)
NINE_TO_FIVE = {weekday: [(time(9), time(17))] for weekday in range(5)}


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN)


def person(
    employee_id: int = 1, hours: dict | None = None, window: tuple[datetime, datetime] | None = None
) -> Availability:
    schedule = PersonSchedule(
        employee_id, f"P{employee_id}", "Europe/Berlin", hours or NINE_TO_FIVE
    )
    span = window or (at(MONDAY, 0), at(MONDAY + timedelta(days=5), 0))
    return compute_availability(schedule, span)


def starts(slots) -> list[datetime]:
    return [slot.start.astimezone(BERLIN) for slot in slots]


def test_limit_zero_finds_no_slot():
    assert find_slots([person()], duration=HOUR, limit=0) == []


def test_a_negative_limit_finds_no_slot():
    assert find_slots([person()], duration=HOUR, limit=-1) == []


def test_limit_one_finds_exactly_the_best_slot():
    assert starts(find_slots([person()], duration=HOUR, limit=1)) == [at(MONDAY, 9)]


def test_no_participants_find_no_slot():
    assert find_slots([], duration=HOUR) == []


def test_a_window_exactly_as_long_as_the_talk_offers_that_one_slot():
    window = (at(MONDAY, 10), at(MONDAY, 11))

    slots = find_slots([person()], duration=HOUR, window=window)

    assert starts(slots) == [at(MONDAY, 10)]
    assert slots[0].end.astimezone(BERLIN) == at(MONDAY, 11)


def test_a_window_a_minute_shorter_than_the_talk_offers_nothing():
    window = (at(MONDAY, 10), at(MONDAY, 10, 59))

    assert find_slots([person()], duration=HOUR, window=window) == []


def test_free_time_exactly_as_long_as_the_talk_offers_that_one_slot():
    hours = {0: [(time(9), time(10))]}

    assert starts(find_slots([person(hours=hours)], duration=HOUR)) == [at(MONDAY, 9)]


def test_free_time_a_quarter_shorter_than_the_talk_offers_nothing():
    hours = {0: [(time(9), time(9, 45))]}

    assert find_slots([person(hours=hours)], duration=HOUR) == []


def test_the_last_day_of_the_window_is_searched():
    friday = MONDAY + timedelta(days=4)
    only_friday = {4: [(time(9), time(17))]}

    slots = find_slots([person(hours=only_friday)], duration=HOUR, limit=3, max_per_day=None)

    assert starts(slots) == [at(friday, 9), at(friday, 9, 15), at(friday, 9, 30)]


def test_a_talk_ending_at_the_end_of_the_window_is_offered():
    window = (at(MONDAY, 9), at(MONDAY, 17))

    slots = find_slots(
        [person()],
        duration=HOUR,
        window=window,
        soft=SoftPreferences(time_of_day=(TimeOfDay(start=time(16)),), earliest=0.0),
        limit=1,
    )

    assert starts(slots) == [at(MONDAY, 16)]
    assert slots[0].end.astimezone(BERLIN) == window[1]


def test_a_preferred_time_on_the_last_day_of_the_window_scores():
    friday = MONDAY + timedelta(days=4)
    window = (at(MONDAY, 9), at(friday, 17))
    late_friday = TimeOfDay(start=time(15), weight=50.0)
    only_mon_and_fri = {0: [(time(9), time(12))], 4: [(time(15), time(17))]}

    slots = find_slots(
        [person(hours=only_mon_and_fri)],
        duration=HOUR,
        window=window,
        soft=SoftPreferences(time_of_day=(late_friday,)),
        limit=1,
    )

    assert starts(slots) == [at(friday, 15)]
    assert slots[0].score > 50


def test_starts_keep_to_the_quarter_hour_grid_inside_an_odd_window():
    window = (at(MONDAY, 9, 7), at(MONDAY, 11))

    slots = find_slots([person()], duration=HOUR, window=window, limit=4, max_per_day=None)

    assert starts(slots) == [
        at(MONDAY, 9, 15),
        at(MONDAY, 9, 30),
        at(MONDAY, 9, 45),
        at(MONDAY, 10),
    ]


def test_one_slot_per_day_unless_the_daily_limit_is_raised():
    one = find_slots([person()], duration=HOUR, limit=3)
    two = find_slots([person()], duration=HOUR, limit=3, max_per_day=2)

    assert starts(one) == [
        at(MONDAY, 9),
        at(MONDAY + timedelta(days=1), 9),
        at(MONDAY + timedelta(days=2), 9),
    ]
    assert starts(two) == [at(MONDAY, 9), at(MONDAY, 9, 15), at(MONDAY + timedelta(days=1), 9)]


def test_outside_working_hours_is_searched_only_when_asked():
    hours = {0: [(time(9), time(10))]}
    window = (at(MONDAY, 6), at(MONDAY, 12))
    anytime = HardConstraints(within_working_hours=False)

    inside = find_slots([person(hours=hours)], duration=timedelta(hours=2), window=window)
    outside = find_slots(
        [person(hours=hours)], duration=timedelta(hours=2), window=window, hard=anytime
    )

    assert inside == []
    assert starts(outside) == [at(MONDAY, 6)]


def test_the_common_window_is_where_every_participant_is_loaded():
    early = person(1, window=(at(MONDAY, 0), at(MONDAY + timedelta(days=1), 0)))
    late = person(2, window=(at(MONDAY, 12), at(MONDAY + timedelta(days=2), 0)))

    assert starts(find_slots([early, late], duration=HOUR, limit=1)) == [at(MONDAY, 12)]


def test_a_zero_duration_or_step_is_refused():
    with pytest.raises(ValueError, match="positive"):
        find_slots([person()], duration=timedelta())
    with pytest.raises(ValueError, match="positive"):
        find_slots([person()], duration=HOUR, step=timedelta())
