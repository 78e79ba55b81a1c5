"""Someone who left keeps no part in talks: no requests, no abilities on the talks they were in.

王芳 asks her manager 周敏 for a talk on Tuesday 09:00, then leaves; the clock stands on
Monday 07:00."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import time_machine

from miantan.interviews.models import Talk
from miantan.interviews.rules import (
    can_request_talk_with,
    can_view_talk,
    is_participant,
    talk_abilities,
)
from miantan.interviews.services import TalkRequest, request_talk
from miantan.people.scopes import forget_scope
from miantan.people.services import mark_left
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

MONDAY = date(2026, 12, 7)
TUESDAY_NINE = at(MONDAY + timedelta(days=1), 9)


@pytest.fixture
def ward(hospital: Hospital) -> Iterator[Hospital]:
    hospital_hours(hospital.organisation)
    with time_machine.travel(at(MONDAY, 7), tick=False):
        yield hospital


@pytest.fixture
def talk(ward: Hospital) -> Talk:
    asked = request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=TalkRequest(topic="quarterly_review", message="想聊聊本季度"),
        slot=(TUESDAY_NINE, TUESDAY_NINE + timedelta(minutes=45)),
    )
    return Talk.objects.select_related("employee__department").get(pk=asked.pk)


def leave(ward: Hospital) -> None:
    mark_left(ward.nurse_wang, actor=ward.admin.user)
    forget_scope(ward.nurse_wang.user)


def test_an_employee_may_ask_their_manager_until_they_leave(ward: Hospital):
    assert can_request_talk_with.test(ward.nurse_wang.user, ward.head_nurse)

    leave(ward)

    assert not can_request_talk_with.test(ward.nurse_wang.user, ward.head_nurse)


def test_a_participant_who_left_has_no_abilities_on_their_talk(ward: Hospital, talk: Talk):
    before = talk_abilities(ward.nurse_wang.user, talk, talk.open_proposal())

    leave(ward)
    after = talk_abilities(ward.nurse_wang.user, talk, talk.open_proposal())

    assert before["cancel"] is True
    assert not any(after.values())
    assert not is_participant.test(ward.nurse_wang.user, talk)
    assert not can_view_talk.test(ward.nurse_wang.user, talk)
