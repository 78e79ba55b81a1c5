"""Who may do what to a talk, decided once (interviews.rules) for the talk page and the
services alike: only the two people act; the side that is asked answers (accepts, declines
with a reason); the side that waits withdraws; either side calls off a scheduled talk.

王芳 asks her manager 周敏 and proposes Tuesday 09:00; the clock stands on Monday 07:00."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.test import Client
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError, DomainError
from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.interviews.rules import ABILITIES, talk_abilities
from miantan.interviews.services import (
    InvalidTalk,
    TalkRequest,
    accept_time,
    cancel_talk,
    decline_talk,
    propose_time,
    request_talk,
    start_talk,
    update_agenda,
)
from miantan.people.models import Employee
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

MONDAY = date(2026, 12, 7)
NOW = at(MONDAY, 7)
TUESDAY_NINE = at(MONDAY + timedelta(days=1), 9)
WEDNESDAY_TEN = at(MONDAY + timedelta(days=2), 10)
NOTHING = dict.fromkeys(ABILITIES, False)


@pytest.fixture
def ward(hospital: Hospital) -> Iterator[Hospital]:
    hospital_hours(hospital.organisation)
    with time_machine.travel(NOW, tick=False):
        yield hospital


def asked(ward: Hospital) -> Talk:
    """王芳 asked 周敏 and proposed Tuesday 09:00: 周敏 is to answer."""
    return request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=TalkRequest(topic="quarterly_review", message="想聊聊本季度"),
        slot=(TUESDAY_NINE, TUESDAY_NINE + timedelta(minutes=45)),
    )


def scheduled(ward: Hospital) -> Talk:
    return accept_time(asked(ward), actor=ward.head_nurse.user)


def abilities(employee: Employee, talk: Talk) -> dict[str, bool]:
    talk = Talk.objects.select_related("employee__department").get(pk=talk.pk)
    return talk_abilities(employee.user, talk, talk.open_proposal())


# --- the services refuse what the rules do not allow ------------------------------------------


def test_cancel_by_the_side_that_is_asked_is_refused_they_decline_with_a_reason(ward: Hospital):
    talk = asked(ward)

    with pytest.raises(ConflictError) as refused:
        cancel_talk(talk, actor=ward.head_nurse.user)

    assert refused.value.code == "decline_instead"
    message = refused.value.message
    with translation.override("en"):
        assert str(message) == "You were asked for this talk: decline it, and say why."
    with translation.override("zh-hans"):
        assert str(message) == "这次面谈是向你提出的：请选择拒绝，并说明原因。"
    talk.refresh_from_db()
    assert talk.state == TalkState.REQUESTED and talk.awaiting == ward.head_nurse
    assert not AuditEvent.objects.filter(action="interviews.talk.cancelled").exists()

    with pytest.raises(InvalidTalk):
        decline_talk(talk, actor=ward.head_nurse.user, reason="  ")
    declined = decline_talk(talk, actor=ward.head_nurse.user, reason="这周在外院进修")
    assert (declined.state, declined.closing_reason) == (TalkState.DECLINED, "这周在外院进修")


def test_cancel_by_the_side_that_is_asked_is_refused_with_a_reason_too(ward: Hospital):
    talk = asked(ward)

    with pytest.raises(ConflictError):
        cancel_talk(talk, actor=ward.head_nurse.user, reason="太忙")

    assert Talk.objects.get(pk=talk.pk).state == TalkState.REQUESTED


def test_decline_by_the_side_that_waits_is_refused_they_withdraw(ward: Hospital):
    talk = asked(ward)

    with pytest.raises(ConflictError) as refused:
        decline_talk(talk, actor=ward.nurse_wang.user, reason="不想谈了")

    assert refused.value.code == "withdraw_instead"
    assert Talk.objects.get(pk=talk.pk).state == TalkState.REQUESTED
    withdrawn = cancel_talk(talk, actor=ward.nurse_wang.user)
    assert (withdrawn.state, withdrawn.closing_reason) == (TalkState.CANCELLED, "")


@pytest.mark.parametrize("side", ["nurse_wang", "head_nurse"])
def test_either_side_calls_off_a_scheduled_talk(ward: Hospital, side: str):
    talk = scheduled(ward)

    cancelled = cancel_talk(talk, actor=getattr(ward, side).user, reason="临时手术")

    assert (cancelled.state, cancelled.sequence) == (TalkState.CANCELLED, 1)


def test_accept_by_the_side_that_is_not_asked_is_refused(ward: Hospital):
    """王芳 proposed a time and then 周敏 proposed another: now 王芳 is asked, so 周敏's own
    proposal cannot be accepted by 周敏, and the earlier one no longer counts."""
    talk = asked(ward)
    propose_time(talk, actor=ward.head_nurse.user, start=WEDNESDAY_TEN)
    talk.refresh_from_db()

    with pytest.raises(ConflictError):
        accept_time(talk, actor=ward.head_nurse.user)
    accepted = accept_time(talk, actor=ward.nurse_wang.user)

    assert (accepted.state, accepted.scheduled_start) == (TalkState.SCHEDULED, WEDNESDAY_TEN)


@pytest.mark.parametrize("outsider", ["hr_partner", "hr_cardiology", "head", "admin", "zhao"])
@pytest.mark.parametrize("action", ["accept", "decline", "cancel", "propose", "agenda", "start"])
def test_people_outside_the_talk_are_refused_by_every_service(
    ward: Hospital, outsider: str, action: str
):
    """HR partners with 王芳 in scope, her department head and administrators may see the
    talk, but only its two people act on it; the refusal is audited."""
    talk = scheduled(ward) if action == "start" else asked(ward)
    user = getattr(ward, outsider).user

    with pytest.raises(PermissionDenied):
        ACTIONS[action](talk, user)

    assert Talk.objects.get(pk=talk.pk).state == talk.state
    assert AuditEvent.objects.filter(outcome="denied", object_id=str(talk.pk)).count() == 1


# --- the page offers exactly what the services allow ------------------------------------------

ACTIONS: dict[str, Callable[[Talk, Any], Any]] = {
    "accept": lambda talk, user: accept_time(talk, actor=user),
    "decline": lambda talk, user: decline_talk(talk, actor=user, reason="排班冲突"),
    "cancel": lambda talk, user: cancel_talk(talk, actor=user, reason="另有安排"),
    "propose": lambda talk, user: propose_time(talk, actor=user, start=WEDNESDAY_TEN),
    "agenda": lambda talk, user: update_agenda(talk, actor=user, items=["本季度回顾"]),
    "start": lambda talk, user: start_talk(talk, actor=user),
}
# The page's name of each action's ability.
ABILITY_OF = {"agenda": "edit_agenda"}


def _service_allows(action: str, talk: Talk, user: Any) -> bool:
    """Run the service and roll it back: did it go through?"""
    try:
        with transaction.atomic():
            ACTIONS[action](Talk.objects.get(pk=talk.pk), user)
            transaction.set_rollback(True)
    except DomainError:
        return False
    return True


@pytest.mark.parametrize("moment", ["asked", "scheduled", "about to start"])
@pytest.mark.parametrize("side", ["nurse_wang", "head_nurse"])
def test_talk_page_abilities_are_what_the_services_allow(ward: Hospital, moment: str, side: str):
    talk = asked(ward) if moment == "asked" else scheduled(ward)
    person = getattr(ward, side)
    clock = TUESDAY_NINE - timedelta(minutes=20) if moment == "about to start" else NOW

    with time_machine.travel(clock, tick=False):
        can = abilities(person, talk)
        allowed = {action: _service_allows(action, talk, person.user) for action in ACTIONS}

    assert {action: can[ABILITY_OF.get(action, action)] for action in ACTIONS} == allowed


def test_talk_abilities_of_the_two_sides_of_an_open_talk(ward: Hospital):
    talk = asked(ward)

    assert abilities(ward.head_nurse, talk) == {
        **NOTHING,
        "accept": True,
        "answer": True,
        "propose": True,
        "decline": True,
        "edit_agenda": True,
    }
    assert abilities(ward.nurse_wang, talk) == {
        **NOTHING,
        "propose": True,
        "cancel": True,
        "edit_agenda": True,
    }


def test_talk_abilities_start_from_thirty_minutes_before_the_time(ward: Hospital):
    talk = scheduled(ward)
    expected = {**NOTHING, "propose": True, "reschedule": True, "cancel": True, "edit_agenda": True}

    assert abilities(ward.nurse_wang, talk) == expected
    with time_machine.travel(TUESDAY_NINE - timedelta(minutes=31), tick=False):
        assert abilities(ward.nurse_wang, talk)["start"] is False
    with time_machine.travel(TUESDAY_NINE - timedelta(minutes=30), tick=False):
        assert abilities(ward.head_nurse, talk) == {**expected, "start": True}


@pytest.mark.parametrize(
    "viewer", ["hr_partner", "hr_cardiology", "head", "admin", "executive", "zhao", "doctor_li"]
)
@pytest.mark.parametrize("moment", ["asked", "scheduled"])
def test_talk_abilities_of_people_outside_the_talk_are_none(
    ward: Hospital, viewer: str, moment: str
):
    talk = asked(ward) if moment == "asked" else scheduled(ward)

    with time_machine.travel(TUESDAY_NINE, tick=False):
        assert abilities(getattr(ward, viewer), talk) == NOTHING


@pytest.mark.parametrize("viewer", ["hr_partner", "hr_cardiology", "admin"])
def test_talk_page_of_hr_and_administrators_shows_the_talk_without_actions(
    ward: Hospital, client_as: Callable[[Employee], Client], viewer: str
):
    talk = asked(ward)

    response = client_as(getattr(ward, viewer)).get(f"/talks/{talk.pk}/")

    assert response.status_code == 200
    assert response.context["can"] == NOTHING and not response.context["participant"]
    html = response.content.decode()
    for action in ("accept", "propose", "decline", "cancel", "start", "agenda"):
        assert f"/talks/{talk.pk}/{action}/" not in html


@pytest.mark.parametrize("viewer", ["head", "executive", "zhao", "doctor_li"])
def test_talk_page_is_not_found_for_others(
    ward: Hospital, client_as: Callable[[Employee], Client], viewer: str
):
    """Her department head leads 王芳 but does not follow her talks with others."""
    talk = asked(ward)

    assert client_as(getattr(ward, viewer)).get(f"/talks/{talk.pk}/").status_code == 404
