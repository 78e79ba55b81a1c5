"""The hospital scenario of issue 4: a doctor on alternate night shifts and the head of
心内科 with clinic mornings get the slots a person would pick by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from miantan.scheduling.availability import load_availability
from miantan.scheduling.enums import BusySource
from miantan.scheduling.models import BusyBlock, RosterEntry
from miantan.scheduling.slots import HardConstraints, SoftPreferences, TimeOfDay, find_slots
from tests.personas import Hospital

from .builders import at, hospital_hours, shift_codes

MONDAY = date(2026, 11, 30)
WINDOW = (at(MONDAY, 0), at(MONDAY + timedelta(days=14), 0))
NIGHTS = [MONDAY + timedelta(days=offset) for offset in range(2, 14, 2)]  # Wed 12-02, Fri …
CLINIC = [MONDAY + timedelta(days=offset) for offset in (0, 2, 4, 7, 9, 11)]  # Mon/Wed/Fri


@pytest.fixture
def scenario(hospital: Hospital) -> Hospital:
    organisation = hospital.organisation
    codes = shift_codes(organisation)
    hospital_hours(organisation)
    for day in NIGHTS:
        RosterEntry.objects.create(
            organisation=organisation,
            employee=hospital.doctor_li,
            date=day,
            shift_code=codes["夜班"],
        )
    for day in CLINIC:
        RosterEntry.objects.create(
            organisation=organisation, employee=hospital.head, date=day, shift_code=codes["门诊"]
        )
    # The head's department meeting on Thursday afternoon.
    BusyBlock.objects.create(
        organisation=organisation,
        employee=hospital.head,
        start=at(date(2026, 12, 3), 16),
        end=at(date(2026, 12, 3), 17),
        source=BusySource.ICS,
        uid="meeting-1",
    )
    return hospital


def test_hospital_scenario_top_slots_are_the_ones_a_person_picks(scenario: Hospital) -> None:
    people = [scenario.doctor_li, scenario.head]
    loaded = load_availability(people, *WINDOW)
    slots = find_slots(
        [loaded[person.pk] for person in people],
        duration=timedelta(hours=1),
        hard=HardConstraints(avoid_duty_days=True),
        soft=SoftPreferences(time_of_day=(TimeOfDay(end=at(MONDAY, 10).time()),)),
        limit=6,
    )

    # By hand: Tuesday 12-01 is the only morning both are free (the doctor's preference);
    # then the earliest afternoons: Monday after the head's clinic, and the days after a night
    # shift from 16:00, once 8 hours of rest have passed. Thursday 12-03 has the meeting, the
    # night days (Wed, Fri, Tue, Thu) are duty days, and weekends are not working days.
    assert [slot.start for slot in slots] == [
        at(date(2026, 12, 1), 8),
        at(date(2026, 11, 30), 14),
        at(date(2026, 12, 7), 16),
        at(date(2026, 12, 9), 16),
        at(date(2026, 12, 11), 16),
    ]
    assert [reason.code for reason in slots[0].reasons] == ["before", "earliest"]
    assert slots[1].reasons[0].code == "before_missed"


def test_hospital_scenario_no_slot_within_eight_hours_after_a_night(scenario: Hospital) -> None:
    people = [scenario.doctor_li, scenario.head]
    loaded = load_availability(people, *WINDOW)
    slots = find_slots(
        [loaded[person.pk] for person in people],
        duration=timedelta(minutes=30),
        hard=HardConstraints(avoid_duty_days=True),
        limit=50,
        max_per_day=None,
    )

    night_ends = [at(day + timedelta(days=1), 8) for day in NIGHTS]
    assert slots
    for slot in slots:
        assert not any(end <= slot.start < end + timedelta(hours=8) for end in night_ends)
        assert slot.start.astimezone(at(MONDAY, 0).tzinfo).date() not in NIGHTS


def test_hospital_scenario_through_a_talk_request_gives_the_same_slots(scenario: Hospital) -> None:
    """The doctor asks the head for a talk with the same constraints, stored on the talk."""
    from miantan.interviews.queries import slots_for
    from miantan.interviews.services import TalkRequest, request_talk

    details = TalkRequest(
        topic="career",
        duration_minutes=60,
        hard_constraints={"avoid_duty_days": True, "rest_after_night_hours": 8},
        soft_preferences={"before": "10:00"},
        not_before=MONDAY,
        not_after=MONDAY + timedelta(days=13),
    )
    with time_machine.travel(at(date(2026, 11, 29), 20), tick=False):
        talk = request_talk(scenario.head, requester=scenario.doctor_li.user, details=details)
        slots = slots_for(talk, limit=5)

    assert [slot.start for slot in slots] == [
        at(date(2026, 12, 1), 8),
        at(date(2026, 11, 30), 14),
        at(date(2026, 12, 7), 16),
        at(date(2026, 12, 9), 16),
        at(date(2026, 12, 11), 16),
    ]
