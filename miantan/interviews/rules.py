"""Who may talk with whom, and who may see and act on a talk.

A request goes to someone the requester has a working relation with (PRODUCT.md A1): an
employee asks their manager, a manager further up, the head of their department or an HR
partner for their department; managers, department heads and HR partners ask the people in
their scope; executives ask anyone in the organisation. Both sides are active employees of one
organisation, and nobody requests a talk with themself.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import rules
from django.utils import timezone

from miantan.people.models import Employee
from miantan.people.rules import (
    is_admin_of,
    is_department_head_for,
    is_hr_for,
    is_manager_of,
)
from miantan.people.scopes import scope_for

from .enums import OPEN_STATES, Initiation, TalkState
from .models import Proposal, Talk


def _own(user: Any) -> Employee | None:
    employee = scope_for(user).employee
    return employee if employee is not None and employee.is_active else None


def relation_to(requester: Employee, other: Employee, *, user: Any) -> tuple[str, bool] | None:
    """How a request from `requester` (the signed-in `user`) to `other` is allowed, as
    (initiation, requester is the employee the talk is about); None if it is not.

    Looking down (the requester leads the talk) comes first: a department head asking one of
    their people is the department head's talk, not an upward request."""
    if not other.is_active or other.pk == requester.pk:
        return None
    if other.organisation_id != requester.organisation_id:
        return None
    if is_manager_of.test(user, other):
        direct = other.manager_id == requester.pk
        return (Initiation.MANAGER if direct else Initiation.SKIP_LEVEL), False
    if is_department_head_for.test(user, other):
        return Initiation.DEPARTMENT_HEAD, False
    if is_hr_for.test(user, other):
        return Initiation.HR, False
    if scope_for(user).is_executive:
        return Initiation.EXECUTIVE, False
    # Looking up: the requester is the employee and asks for the talk.
    if _leads(other, requester):
        return Initiation.EMPLOYEE, True
    return None


def _leads(leader: Employee, employee: Employee) -> bool:
    """The leader is a manager up the employee's line, heads or is HR for their department."""
    if employee.manager_path.startswith(leader.manager_path) and leader.pk != employee.pk:
        return True
    from miantan.people.scopes import scope_for_employee

    scope = scope_for_employee(leader)
    path = employee.department.path
    return any(path.startswith(root) for root in scope.department_paths)


@rules.predicate
def can_request_talk_with(user: Any, other: Employee) -> bool:
    own = _own(user)
    return own is not None and relation_to(own, other, user=user) is not None


@rules.predicate
def is_participant(user: Any, talk: Talk) -> bool:
    own = _own(user)
    return (
        own is not None
        and own.organisation_id == talk.organisation_id
        and own.pk in talk.participant_ids
    )


@rules.predicate
def is_hr_or_admin_for_talk(user: Any, talk: Talk) -> bool:
    """HR partners with the employee in scope follow talks (cycles, SLAs); they do not act."""
    return bool(is_hr_for.test(user, talk.employee) or is_admin_of.test(user, talk.employee))


can_view_talk = is_participant | is_hr_or_admin_for_talk
can_act_on_talk = is_participant


# Which side of a talk may do what. Both the talk page (`talk_abilities`, which buttons show)
# and the services (which refuse everything else) ask these; callers have checked that
# `own` is one of the talk's two people.


def is_asked(own: Employee, talk: Talk) -> bool:
    """`own` is the side an open talk waits for: they answer (accept, decline)."""
    return talk.state in OPEN_STATES and talk.awaiting_id == own.pk


def may_decline(own: Employee, talk: Talk) -> bool:
    """Only the side that is asked says no, with a reason the other side reads."""
    return is_asked(own, talk)


def may_propose(talk: Talk) -> bool:
    """Either side proposes a time while the talk is open, or a new one for a scheduled talk
    (a reschedule); the same holds for editing the agenda."""
    return talk.state in OPEN_STATES or talk.state == TalkState.SCHEDULED


may_edit_agenda = may_propose


def may_cancel(own: Employee, talk: Talk) -> bool:
    """A scheduled talk is called off by either side. While an open talk waits for an answer,
    the side that waits withdraws; the side that is asked declines instead, with a reason."""
    if talk.state == TalkState.SCHEDULED:
        return True
    return talk.state in OPEN_STATES and talk.awaiting_id != own.pk


# A talk can be started from this long before its time.
START_EARLY = timedelta(minutes=30)


def may_start(talk: Talk) -> bool:
    """Either side opens a scheduled talk's record, from START_EARLY before its time."""
    starts = talk.scheduled_start
    return (
        talk.state == TalkState.SCHEDULED
        and starts is not None
        and timezone.now() >= starts - START_EARLY
    )


ABILITIES = (
    "accept",
    "answer",
    "propose",
    "reschedule",
    "decline",
    "cancel",
    "start",
    "edit_agenda",
)


def talk_abilities(user: Any, talk: Talk, proposal: Proposal | None) -> dict[str, bool]:
    """What the user may do to the talk now (what its page offers; the services check the
    same again): only the two people act, the side that is asked answers, the side that
    waits for an answer withdraws."""
    own = _own(user)
    if own is None or not is_participant.test(user, talk):
        return dict.fromkeys(ABILITIES, False)
    asked = is_asked(own, talk)
    return {
        "accept": asked and proposal is not None and proposal.proposed_by_id != own.pk,
        "answer": asked,
        "propose": may_propose(talk),
        "reschedule": talk.state == TalkState.SCHEDULED,
        "decline": may_decline(own, talk),
        "cancel": may_cancel(own, talk),
        "start": may_start(talk),
        "edit_agenda": may_edit_agenda(talk),
    }
