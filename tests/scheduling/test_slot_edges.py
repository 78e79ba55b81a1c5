"""The slot search at its edges: no slot asked for, the window's last day and last minute, a
window exactly as long as the talk, the step grid and the daily limit."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from miantan.scheduling.availability import (
    Availability,
    PersonSchedule,
    ShiftDefinition,
    compute_availability,
)
from miantan.scheduling.enums import ShiftKind
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
    with pytest.raises(ValueError, match=r"^duration and step must be positive$"):
        find_slots([person()], duration=timedelta())
    with pytest.raises(ValueError, match=r"^duration and step must be positive$"):
        find_slots([person()], duration=HOUR, step=timedelta())
    with pytest.raises(ValueError, match="positive"):
        find_slots([person()], duration=timedelta(seconds=-1))


# --- defaults and reasons -------------------------------------------------------------------------

NIGHT = ShiftDefinition("夜班", ShiftKind.NIGHT, time(20), time(8))
SURGERY = ShiftDefinition("手术日", ShiftKind.SURGERY, time(8), time(12))


def rostered(shifts: list[tuple[date, ShiftDefinition]], employee_id: int = 1) -> Availability:
    schedule = PersonSchedule(
        employee_id, f"P{employee_id}", "Europe/Berlin", NINE_TO_FIVE, shifts=shifts
    )
    return compute_availability(schedule, (at(MONDAY, 0), at(MONDAY + timedelta(days=5), 0)))


def test_five_slots_by_default():
    assert len(find_slots([person()], duration=HOUR, max_per_day=None)) == 5


def test_the_daily_limit_holds_when_a_day_has_several_good_starts():
    early = SoftPreferences(time_of_day=(TimeOfDay(end=time(10)),))

    slots = find_slots([person()], duration=HOUR, soft=early, limit=6)

    assert starts(slots) == [at(MONDAY + timedelta(days=day), 9) for day in range(5)]


def test_by_default_a_duty_day_is_allowed_but_eight_hours_after_a_night_are_not():
    sunday = MONDAY - timedelta(days=1)
    # The night from Sunday ends Monday 08:00: Monday from 16:00 only. Tuesday's night makes
    # Tuesday a duty day, which the default constraints allow.
    tuesday = MONDAY + timedelta(days=1)
    person_on_nights = rostered([(sunday, NIGHT), (tuesday, NIGHT)])

    slots = find_slots([person_on_nights], duration=HOUR, limit=2)

    assert starts(slots) == [at(MONDAY, 16), at(tuesday, 9)]


def test_a_preferred_start_of_day_scores_only_on_its_own_day():
    tuesday = MONDAY + timedelta(days=1)
    late = TimeOfDay(start=time(16), weight=10.0)

    slots = find_slots(
        [person()],
        duration=HOUR,
        window=(at(MONDAY, 9), at(tuesday, 17)),
        soft=SoftPreferences(time_of_day=(late,), earliest=0.0),
        limit=3,
        max_per_day=None,
    )

    assert starts(slots) == [at(MONDAY, 16), at(tuesday, 16), at(MONDAY, 9)]
    assert [slot.score for slot in slots] == [10.0, 10.0, 0.0]


def test_a_preferred_time_shorter_than_the_talk_changes_no_score():
    short = TimeOfDay(start=time(9), end=time(9, 30), weight=10.0)

    slots = find_slots(
        [person()],
        duration=HOUR,
        window=(at(MONDAY, 9), at(MONDAY, 12)),
        soft=SoftPreferences(time_of_day=(short,), earliest=0.0),
        limit=8,
        max_per_day=None,
    )

    assert starts(slots) == [at(MONDAY, 9, 15 * quarter) for quarter in range(4)] + [
        at(MONDAY, 10, 15 * quarter) for quarter in range(4)
    ]
    assert {slot.score for slot in slots} == {0.0}


def test_time_of_day_labels_are_hours_and_minutes():
    assert TimeOfDay(time(14), time(16, 30)).label() == {"start": "14:00", "end": "16:30"}
    assert TimeOfDay(end=time(10)).label() == {"start": "", "end": "10:00"}
    assert TimeOfDay(start=time(8, 5)).label() == {"start": "08:05", "end": ""}


def reasons_of(slot) -> dict[str, tuple[float, str]]:
    return {reason.code: (reason.points, reason.message) for reason in slot.reasons}


def test_every_time_of_day_reason_names_its_times_kept_or_missed():
    preferences = (
        TimeOfDay(start=time(14), weight=1.0),
        TimeOfDay(time(9), time(11), 2.0),
        TimeOfDay(end=time(10), weight=4.0),
    )
    kept, missed = (
        find_slots(
            [person()],
            duration=HOUR,
            window=window,
            soft=SoftPreferences(time_of_day=preferences, earliest=0.0),
            limit=1,
        )[0]
        for window in ((at(MONDAY, 9), at(MONDAY, 10)), (at(MONDAY, 14), at(MONDAY, 15)))
    )

    assert reasons_of(kept)["between"][0] == 2.0
    assert "09:00" in reasons_of(kept)["between"][1] and "11:00" in reasons_of(kept)["between"][1]
    assert reasons_of(kept)["before"] == (4.0, reasons_of(kept)["before"][1])
    assert "10:00" in reasons_of(kept)["before"][1]
    assert reasons_of(kept)["after_missed"][0] == 0.0
    assert "14:00" in reasons_of(kept)["after_missed"][1]
    assert reasons_of(missed)["after"][0] == 1.0
    assert "14:00" in reasons_of(missed)["after"][1]
    assert "09:00" in reasons_of(missed)["between_missed"][1]
    assert "10:00" in reasons_of(missed)["before_missed"][1]


def test_a_preference_weighing_nothing_gives_no_reason():
    ignored = TimeOfDay(start=time(14), weight=0.0)

    (slot,) = find_slots(
        [person()], duration=HOUR, soft=SoftPreferences(time_of_day=(ignored,)), limit=1
    )

    assert not any("after" in reason.code for reason in slot.reasons)


def test_surgery_day_reasons_name_the_person_only_when_surgery_days_are_avoided():
    surgeon = rostered([(MONDAY, SURGERY)])
    avoid = SoftPreferences(avoid_surgery_days=5.0, earliest=0.0)

    on_surgery_day = find_slots(
        [surgeon], duration=HOUR, window=(at(MONDAY, 13), at(MONDAY, 14)), soft=avoid
    )[0]
    other_day = find_slots([surgeon], duration=HOUR, soft=avoid, limit=1)[0]
    by_default = find_slots([surgeon], duration=HOUR, limit=1)[0]

    assert reasons_of(on_surgery_day)["surgery_day"][0] == -5.0
    assert "P1" in reasons_of(on_surgery_day)["surgery_day"][1]
    assert other_day.start.astimezone(BERLIN).date() != MONDAY
    assert reasons_of(other_day)["no_surgery_day"][0] == 0.0
    assert not any("surgery" in reason.code for reason in by_default.reasons)


def test_talks_already_that_day_cost_points_per_talk_for_managers_only():
    talks = [(at(MONDAY, 9), at(MONDAY, 10)), (at(MONDAY, 14), at(MONDAY, 15))]
    manager = compute_availability(
        PersonSchedule(1, "张伟", "Europe/Berlin", NINE_TO_FIVE, talks=talks),
        (at(MONDAY, 0), at(MONDAY + timedelta(days=2), 0)),
    )
    spread = SoftPreferences(spread=1.5, earliest=0.0)

    monday = find_slots(
        [manager], duration=HOUR, window=(at(MONDAY, 11), at(MONDAY, 12)), soft=spread
    )[0]
    not_a_manager = find_slots(
        [manager],
        duration=HOUR,
        window=(at(MONDAY, 11), at(MONDAY, 12)),
        soft=spread,
        managers=[99],
    )[0]

    unweighted = find_slots(
        [manager], duration=HOUR, window=(at(MONDAY, 11), at(MONDAY, 12)), limit=1
    )[0]

    assert monday.score == -3.0
    assert not any(reason.code == "busy_day" for reason in unweighted.reasons)
    assert reasons_of(monday)["busy_day"][0] == -3.0
    assert "张伟" in reasons_of(monday)["busy_day"][1]
    assert not_a_manager.score == 0.0


def test_a_buffer_keeps_time_free_on_both_sides_of_a_talk():
    booked = (at(MONDAY, 10), at(MONDAY, 11))
    busy = compute_availability(
        PersonSchedule(1, "P1", "Europe/Berlin", NINE_TO_FIVE, talks=[booked]),
        (at(MONDAY, 0), at(MONDAY + timedelta(days=1), 0)),
    )
    buffered = HardConstraints(buffer=timedelta(minutes=15))

    slots = find_slots([busy], duration=HOUR, hard=buffered, limit=20, max_per_day=None)

    assert at(MONDAY, 9) not in starts(slots)
    assert at(MONDAY, 11) not in starts(slots)
    assert at(MONDAY, 11, 15) in starts(slots)
    assert starts(slots)[0] == at(MONDAY, 11, 15)
