"""Talks from the request on: who may ask whom, the negotiation, the calendar sequence, expiry.
Every change goes through one transition function; these tests read its effects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.interviews.enums import Initiation, ProposalState, TalkEvent, TalkState
from miantan.interviews.models import Proposal, Talk, TalkActivity
from miantan.interviews.queries import inbox_of, offer_slots, slots_for, talks_visible_to
from miantan.interviews.services import (
    InvalidTalk,
    TalkRequest,
    TimeConflict,
    TimeTaken,
    accept_time,
    cancel_talk,
    decline_talk,
    expire_due_requests,
    propose_time,
    request_talk,
    transition,
    update_agenda,
)
from miantan.scheduling.availability import load_availability
from miantan.scheduling.models import RosterEntry
from tests.personas import Hospital, OtherOrganisation
from tests.scheduling.builders import at, hospital_hours, shift_codes

MONDAY = date(2026, 12, 7)
NOW = at(MONDAY, 7)
QUARTERLY = TalkRequest(topic="quarterly_review", message="想聊聊本季度的工作")


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ward(hospital: Hospital, frozen: None) -> Hospital:
    hospital_hours(hospital.organisation)
    return hospital


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- who may ask whom -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requester", "other", "initiation", "employee", "counterpart"),
    [
        ("nurse_wang", "head_nurse", Initiation.EMPLOYEE, "nurse_wang", "head_nurse"),
        ("nurse_wang", "head", Initiation.EMPLOYEE, "nurse_wang", "head"),
        ("nurse_wang", "hr_partner", Initiation.EMPLOYEE, "nurse_wang", "hr_partner"),
        ("head_nurse", "nurse_wang", Initiation.MANAGER, "nurse_wang", "head_nurse"),
        ("head", "nurse_wang", Initiation.SKIP_LEVEL, "nurse_wang", "head"),
        ("hr_partner", "zhao", Initiation.HR, "zhao", "hr_partner"),
        ("executive", "zhao", Initiation.EXECUTIVE, "zhao", "executive"),
    ],
)
def test_request_talk_in_every_direction_the_scopes_allow(
    ward: Hospital, requester: str, other: str, initiation: str, employee: str, counterpart: str
) -> None:
    asking = getattr(ward, requester)

    talk = request_talk(getattr(ward, other), requester=asking.user, details=QUARTERLY)

    assert talk.initiation == initiation
    assert (talk.employee, talk.counterpart) == (
        getattr(ward, employee),
        getattr(ward, counterpart),
    )
    assert talk.state == TalkState.REQUESTED
    assert talk.awaiting == getattr(ward, other)
    assert talk.requested_by == asking
    [event] = events("interviews.talk.requested")
    assert event.subject_id == talk.employee_id and event.outcome == "ok"


def test_request_talk_with_someone_unrelated_is_refused_audited_and_writes_nothing(
    ward: Hospital,
) -> None:
    with pytest.raises(PermissionDenied):
        request_talk(ward.nurse_wang, requester=ward.zhao.user, details=QUARTERLY)

    assert not Talk.objects.exists()
    [event] = events("interviews.talk.requested")
    assert event.outcome == "denied" and event.subject_id == ward.nurse_wang.pk


def test_request_talk_with_another_organisation_is_refused(
    ward: Hospital, other_org: OtherOrganisation
) -> None:
    with pytest.raises(PermissionDenied):
        request_talk(other_org.employee, requester=ward.executive.user, details=QUARTERLY)

    assert not Talk.objects.exists()


def test_request_talk_with_oneself_is_refused(ward: Hospital) -> None:
    with pytest.raises(PermissionDenied):
        request_talk(ward.head, requester=ward.head.user, details=QUARTERLY)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"topic": "gossip"}, "topic"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"message": "字" * 2001}, "message"),
        ({"online_link": "javascript:alert(1)"}, "online_link"),
        ({"urgency": "now"}, "urgency"),
        ({"not_before": date(2026, 12, 20), "not_after": date(2026, 12, 10)}, "not_after"),
        ({"soft_preferences": {"before": "25:99"}}, "before"),
    ],
)
def test_request_talk_bad_input_names_the_field_and_writes_nothing(
    ward: Hospital, changes: dict[str, object], field: str
) -> None:
    details = TalkRequest(**{"topic": "career", **changes})  # type: ignore[arg-type]

    with pytest.raises(InvalidTalk) as raised:
        request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=details)

    assert field in raised.value.errors
    assert not Talk.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="interviews.").exists()


# --- negotiation and the calendar sequence ----------------------------------------------------


def test_talk_from_request_to_cancellation_raises_the_sequence_at_each_booked_change(
    ward: Hospital,
) -> None:
    wang, manager = ward.nurse_wang, ward.head_nurse
    first = at(MONDAY, 9)
    talk = request_talk(manager, requester=wang.user, details=QUARTERLY, slot=(first, first))
    assert talk.open_proposal() is not None and talk.awaiting == manager

    accept_time(talk, actor=manager.user)
    talk.refresh_from_db()
    assert talk.state == TalkState.SCHEDULED
    assert (talk.scheduled_start, talk.scheduled_end) == (first, first + timedelta(minutes=45))
    assert talk.sequence == 0 and talk.awaiting is None and talk.agenda

    later = at(MONDAY + timedelta(days=1), 14)
    propose_time(talk, actor=manager.user, start=later)
    talk.refresh_from_db()
    assert talk.state == TalkState.NEGOTIATING and talk.awaiting == wang
    assert talk.scheduled_start == first  # the booked time stands until the new one is agreed
    accept_time(talk, actor=wang.user)
    talk.refresh_from_db()
    assert (talk.state, talk.scheduled_start, talk.sequence) == (TalkState.SCHEDULED, later, 1)

    cancel_talk(talk, actor=wang.user, reason="临时出差")
    talk.refresh_from_db()
    assert (talk.state, talk.sequence, talk.closing_reason) == (TalkState.CANCELLED, 2, "临时出差")
    assert [a.event for a in TalkActivity.objects.filter(talk=talk)] == [
        TalkEvent.REQUESTED,
        TalkEvent.ACCEPTED,
        TalkEvent.RESCHEDULED,
        TalkEvent.ACCEPTED,
        TalkEvent.CANCELLED,
    ]
    assert len(events("interviews.talk.accepted")) == 2


def test_counter_proposal_supersedes_the_open_one_and_turns_who_is_awaited(ward: Hospital) -> None:
    wang, manager = ward.nurse_wang, ward.head_nurse
    talk = request_talk(manager, requester=wang.user, details=QUARTERLY)

    first = propose_time(talk, actor=manager.user, start=at(MONDAY, 10))
    talk.refresh_from_db()
    second = propose_time(talk, actor=wang.user, start=at(MONDAY, 15))
    talk.refresh_from_db()

    first.refresh_from_db()
    assert first.state == ProposalState.SUPERSEDED and second.state == ProposalState.OPEN
    assert talk.awaiting == manager
    assert [t.pk for t in inbox_of(manager.user)] == [talk.pk]
    assert not inbox_of(wang.user).exists()


def test_accept_time_of_ones_own_proposal_is_refused(ward: Hospital) -> None:
    talk = request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=QUARTERLY,
        slot=(at(MONDAY, 9), at(MONDAY, 9)),
    )

    with pytest.raises(ConflictError):
        accept_time(talk, actor=ward.nurse_wang.user)
    talk.refresh_from_db()
    assert talk.state == TalkState.REQUESTED


def test_a_custom_time_on_a_night_shift_warns_and_is_kept_only_when_confirmed(
    ward: Hospital,
) -> None:
    codes = shift_codes(ward.organisation)
    RosterEntry.objects.create(
        organisation=ward.organisation,
        employee=ward.nurse_wang,
        date=MONDAY,
        shift_code=codes["夜班"],
    )
    talk = request_talk(ward.nurse_wang, requester=ward.head_nurse.user, details=QUARTERLY)
    # Tuesday 09:00 is within 8 hours after the night shift that ends at 08:00.
    tuesday_morning = at(MONDAY + timedelta(days=1), 9)

    with pytest.raises(TimeConflict) as raised:
        propose_time(talk, actor=ward.head_nurse.user, start=tuesday_morning)
    assert {c["reason"] for c in raised.value.conflicts} == {"rest_after_night"}
    assert not Proposal.objects.exists()

    kept = propose_time(
        talk, actor=ward.head_nurse.user, start=tuesday_morning, accept_conflicts=True
    )
    assert kept.conflicts and kept.conflicts[0]["reason"] == "rest_after_night"


def test_accept_time_refuses_a_double_booking(ward: Hospital) -> None:
    nine = at(MONDAY, 9)
    booked = request_talk(
        ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY, slot=(nine, nine)
    )
    accept_time(booked, actor=ward.head_nurse.user)
    # The head proposes the same time to the head nurse, who keeps it despite the warning.
    other = request_talk(ward.head_nurse, requester=ward.head.user, details=QUARTERLY)
    propose_time(other, actor=ward.head.user, start=nine, accept_conflicts=True)
    other.refresh_from_db()

    with pytest.raises(TimeTaken) as raised:
        accept_time(other, actor=ward.head_nurse.user)
    other.refresh_from_db()
    assert other.state == TalkState.NEGOTIATING
    assert "周敏" in str(raised.value.message)
    assert [c["reason"] for c in raised.value.conflicts] == ["talk"]


def test_decline_talk_needs_a_reason(ward: Hospital) -> None:
    talk = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)

    with pytest.raises(InvalidTalk):
        decline_talk(talk, actor=ward.head_nurse.user, reason="  ")
    decline_talk(talk, actor=ward.head_nurse.user, reason="下周我在外培训，请换到月底")

    talk.refresh_from_db()
    assert talk.state == TalkState.DECLINED and talk.closing_reason.startswith("下周")
    [event] = events("interviews.talk.declined")
    assert event.data["from"] == "requested" and event.data["to"] == "declined"


def test_only_participants_act_on_a_talk(ward: Hospital) -> None:
    talk = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)

    # HR may follow the talk but not answer for the manager.
    assert talk in talks_visible_to(ward.hr_partner.user)
    with pytest.raises(PermissionDenied):
        decline_talk(talk, actor=ward.hr_partner.user, reason="no")
    with pytest.raises(PermissionDenied):
        propose_time(talk, actor=ward.zhao.user, start=at(MONDAY, 10))
    assert talk not in talks_visible_to(ward.zhao.user)
    assert events("interviews.talk.declined")[0].outcome == "denied"


def test_transition_refuses_a_stale_talk_and_an_unknown_path(ward: Hospital) -> None:
    talk = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)
    stale = Talk.objects.get(pk=talk.pk)
    decline_talk(talk, actor=ward.head_nurse.user, reason="不合适")

    with pytest.raises(ConflictError):
        cancel_talk(stale, actor=ward.nurse_wang.user)
    with pytest.raises(ConflictError):
        transition(talk, TalkState.SCHEDULED, actor=ward.head_nurse.user, event="accepted")
    talk.refresh_from_db()
    assert talk.state == TalkState.DECLINED


def test_transition_refuses_a_copy_older_than_a_step_that_kept_the_state(ward: Hospital) -> None:
    """The agenda edit keeps the talk's state; a step taken on the copy read before it is
    refused by the version, not only by the state."""
    talk = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)
    stale = Talk.objects.get(pk=talk.pk)
    update_agenda(talk, actor=ward.head_nurse.user, items=["本季度回顾"])
    assert stale.state == Talk.objects.get(pk=talk.pk).state

    with pytest.raises(ConflictError) as refused:
        decline_talk(stale, actor=ward.head_nurse.user, reason="不合适")
    assert refused.value.code == "stale"
    assert Talk.objects.get(pk=talk.pk).version == stale.version + 1


def test_expire_due_requests_expires_each_overdue_request_once(ward: Hospital) -> None:
    waiting = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)
    answered = request_talk(ward.head, requester=ward.doctor_li.user, details=QUARTERLY)
    decline_talk(answered, actor=ward.head.user, reason="本周排满")

    with time_machine.travel(NOW + timedelta(days=8), tick=False):
        assert expire_due_requests() == 1
        assert expire_due_requests() == 0

    waiting.refresh_from_db()
    assert waiting.state == TalkState.EXPIRED and waiting.awaiting is None
    assert TalkActivity.objects.filter(talk=waiting, event="expired", actor=None).count() == 1


def test_a_request_whose_proposed_time_passes_expires_then(ward: Hospital) -> None:
    nine = at(MONDAY, 9)
    talk = request_talk(
        ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY, slot=(nine, nine)
    )

    with time_machine.travel(nine + timedelta(minutes=1), tick=False):
        assert expire_due_requests() == 1
    talk.refresh_from_db()
    assert talk.state == TalkState.EXPIRED


def test_an_urgent_request_takes_the_earliest_feasible_slot(ward: Hospital) -> None:
    urgent = TalkRequest(topic="improvement", urgency="urgent", duration_minutes=30)

    talk = request_talk(ward.nurse_wang, requester=ward.head_nurse.user, details=urgent)

    proposal = talk.open_proposal()
    assert proposal is not None and proposal.start == at(MONDAY, 8)
    assert talk.expires_at == proposal.start


def test_a_booked_talk_is_busy_time_for_both_people(ward: Hospital) -> None:
    nine = at(MONDAY, 9)
    talk = request_talk(
        ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY, slot=(nine, nine)
    )
    accept_time(talk, actor=ward.head_nurse.user)

    people = load_availability([ward.head_nurse], at(MONDAY, 0), at(MONDAY, 23))
    assert any(
        (b.start, b.end, b.reason) == (nine, nine + timedelta(minutes=45), "talk")
        for b in people[ward.head_nurse.pk].busy
    )
    other = request_talk(ward.head_nurse, requester=ward.head.user, details=QUARTERLY)
    starts = [slot.start for slot in slots_for(other, limit=20)]
    assert all(
        not (nine - timedelta(minutes=60) < s < nine + timedelta(minutes=60)) for s in starts
    )


def test_agenda_is_written_on_confirmation_and_both_sides_edit_it(ward: Hospital) -> None:
    nine = at(MONDAY, 9)
    talk = request_talk(
        ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY, slot=(nine, nine)
    )
    assert talk.agenda == []
    accept_time(talk, actor=ward.head_nurse.user)
    talk.refresh_from_db()
    generated = [item["text"] for item in talk.agenda]
    assert generated and all(
        item["source"] in {"topic", "flag", "strength", "action"} for item in talk.agenda
    )

    update_agenda(talk, actor=ward.nurse_wang.user, items=[generated[0], "排班调整的诉求"])
    talk.refresh_from_db()
    assert [i["text"] for i in talk.agenda] == [generated[0], "排班调整的诉求"]
    assert talk.agenda[0]["source"] == "topic" and talk.agenda[1]["source"] == "own"
    with pytest.raises(InvalidTalk):
        update_agenda(talk, actor=ward.head_nurse.user, items=["x" * 501])


def test_slots_are_offered_in_2027_without_a_holiday_file(ward: Hospital) -> None:
    new_year = TalkRequest(
        topic="quarterly_review", not_before=date(2027, 1, 1), not_after=date(2027, 1, 8)
    )
    talk = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=new_year)

    starts = [slot.start for slot in slots_for(talk, limit=40)]

    local_days = {start.astimezone(at(MONDAY, 0).tzinfo).date() for start in starts}
    assert local_days == {date(2027, 1, 4) + timedelta(days=n) for n in range(5)}
    # 元旦 comes from the holidays package: no talk on 1 January.
    assert date(2027, 1, 1) not in local_days
    assert offer_slots(talk).unknown_years == []
    proposal = propose_time(talk, actor=ward.head_nurse.user, start=at(date(2027, 1, 4), 9))
    assert proposal.conflicts == []


def test_an_unanswered_new_time_for_a_booked_talk_keeps_the_booked_time(ward: Hospital) -> None:
    nine = at(MONDAY, 9)
    talk = request_talk(
        ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY, slot=(nine, nine)
    )
    accept_time(talk, actor=ward.head_nurse.user)
    talk.refresh_from_db()
    propose_time(talk, actor=ward.head_nurse.user, start=at(MONDAY + timedelta(days=2), 15))

    with time_machine.travel(NOW + timedelta(days=2, hours=9), tick=False):
        assert expire_due_requests() == 1

    talk.refresh_from_db()
    assert (talk.state, talk.scheduled_start, talk.sequence) == (TalkState.SCHEDULED, nine, 0)
    assert TalkActivity.objects.filter(talk=talk).last().event == TalkEvent.KEPT


def test_hr_for_one_department_sees_the_talks_of_its_people_only(ward: Hospital) -> None:
    from tests.factories import EmployeeFactory, RoleAssignmentFactory

    nursing_hr = EmployeeFactory(department=ward.hr_department)
    RoleAssignmentFactory(employee=nursing_hr, role="hr", department=ward.cardiology_nursing)
    in_scope = request_talk(ward.head_nurse, requester=ward.nurse_wang.user, details=QUARTERLY)
    outside = request_talk(ward.zhao, requester=ward.hr_partner.user, details=QUARTERLY)

    visible = set(talks_visible_to(nursing_hr.user))

    assert in_scope in visible and outside not in visible
