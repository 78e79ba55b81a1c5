"""Review cycles: creating one, launching it (pairs, slots, constraints, reasons, audit,
notifications) and its progress."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied

from miantan.audit.models import AuditEvent
from miantan.audit.verification import verify_chain
from miantan.core.errors import ConflictError
from miantan.interviews.cycle_queries import cycle_progress
from miantan.interviews.cycles import InvalidCycle, create_cycle, launch_cycle
from miantan.interviews.enums import BOOKED_STATES, CycleState, Initiation, ProposalState
from miantan.interviews.models import Proposal, ReviewCycle, Talk
from miantan.interviews.services import accept_time, decline_talk
from miantan.notifications.models import Notification
from miantan.people.enums import Role
from miantan.people.models import Employee
from miantan.scheduling.enums import LeaveKind
from miantan.scheduling.models import Leave, RosterEntry, WorkingHours
from tests.factories import EmployeeFactory, RoleAssignmentFactory
from tests.personas import Hospital, OtherOrganisation
from tests.scheduling.builders import at, hospital_hours, shift_codes

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 30)
FRIDAY_NEXT = date(2026, 12, 11)  # ten working days from MONDAY
NIGHTS = [MONDAY + timedelta(days=offset) for offset in range(0, 14, 2)]


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI), tick=False)


def new_cycle(hospital: Hospital, **overrides: Any) -> ReviewCycle:
    values: dict[str, Any] = {
        "actor": hospital.hr_partner.user,
        "name": "2026 Q4 绩效面谈",
        "topic": "quarterly_review",
        "period": "2026 Q4",
        "departments": [hospital.root],
        "window_start": MONDAY,
        "window_end": FRIDAY_NEXT,
        "duration_minutes": 45,
    }
    values.update(overrides)
    return create_cycle(**values)


def launched(hospital: Hospital, **launch: Any) -> tuple[ReviewCycle, Any]:
    cycle = new_cycle(hospital)
    report = launch_cycle(cycle, actor=hospital.hr_partner.user, **launch)
    cycle.refresh_from_db()
    return cycle, report


def report_of(hospital: Hospital, number: int, manager: Employee, **extra: Any) -> Employee:
    return EmployeeFactory(
        department=hospital.cardiology_nursing,
        employee_number=f"H9{number:03d}",
        name=f"护士{number}",
        manager=manager,
        **extra,
    )


def held_times(people: list[int]) -> dict[int, list[tuple[datetime, datetime]]]:
    """Every proposed (open) or booked time of these people, by person."""
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    proposals = Proposal.objects.filter(state=ProposalState.OPEN).values_list(
        "talk__employee_id", "talk__counterpart_id", "start", "end"
    )
    booked = Talk.objects.filter(state__in=sorted(BOOKED_STATES)).values_list(
        "employee_id", "counterpart_id", "scheduled_start", "scheduled_end"
    )
    for employee_id, counterpart_id, start, end in [*proposals, *booked]:
        for person in (employee_id, counterpart_id):
            if person in people:
                spans[person].append((start, end))
    return spans


# --- creating ---------------------------------------------------------------------------------


def test_create_cycle_makes_a_draft_for_hr(hospital: Hospital) -> None:
    cycle = new_cycle(hospital)

    assert cycle.state == CycleState.DRAFT
    assert cycle.created_by == hospital.hr_partner
    assert list(cycle.departments.all()) == [hospital.root]
    assert AuditEvent.objects.filter(action="interviews.cycle.created").count() == 1


def test_create_cycle_is_open_to_an_administrator(hospital: Hospital) -> None:
    cycle = new_cycle(hospital, actor=hospital.admin.user)

    assert cycle.created_by == hospital.admin


@pytest.mark.parametrize("persona", ["doctor_li", "head", "head_nurse", "executive"])
def test_create_cycle_is_refused_without_hr_or_admin(hospital: Hospital, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        new_cycle(hospital, actor=getattr(hospital, persona).user)

    assert not ReviewCycle.objects.exists()
    denied = AuditEvent.objects.get(action="interviews.cycle.created")
    assert denied.outcome == "denied"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "长" * 201}, "name"),
        ({"topic": "gossip"}, "topic"),
        ({"period": "x" * 51}, "period"),
        ({"departments": []}, "departments"),
        ({"window_start": date(2026, 11, 24)}, "window_start"),
        ({"window_end": MONDAY - timedelta(days=1)}, "window_end"),
        ({"window_end": MONDAY + timedelta(days=60)}, "window_end"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"duration_minutes": 241}, "duration_minutes"),
    ],
)
def test_create_cycle_with_bad_input_changes_nothing(
    hospital: Hospital, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidCycle) as refused:
        new_cycle(hospital, **overrides)

    assert field in refused.value.errors
    assert str(refused.value.errors[field])
    assert not ReviewCycle.objects.exists()
    assert not AuditEvent.objects.filter(action="interviews.cycle.created").exists()


def test_create_cycle_accepts_a_window_of_sixty_days_from_today(hospital: Hospital) -> None:
    today = date(2026, 11, 25)

    cycle = new_cycle(hospital, window_start=today, window_end=today + timedelta(days=59))

    assert cycle.window_end == date(2027, 1, 23)


def test_create_cycle_refuses_another_organisations_department(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    with pytest.raises(InvalidCycle) as refused:
        new_cycle(hospital, departments=[other_org.department])

    assert "departments" in refused.value.errors
    assert not ReviewCycle.objects.exists()


def test_create_cycle_refuses_a_department_outside_the_hr_scope(hospital: Hospital) -> None:
    RoleAssignmentFactory(employee=hospital.zhao, role=Role.HR, department=hospital.emergency)

    with pytest.raises(InvalidCycle) as refused:
        new_cycle(hospital, actor=hospital.zhao.user, departments=[hospital.cardiology])

    assert "departments" in refused.value.errors
    assert not ReviewCycle.objects.exists()


# --- launching: who is in it ------------------------------------------------------------------


def test_launch_creates_a_talk_for_every_employee_manager_pair(hospital: Hospital) -> None:
    cycle, report = launched(hospital)

    pairs = set(cycle.talks.values_list("employee_id", "counterpart_id"))
    assert pairs == {
        (hospital.doctor_li.pk, hospital.head.pk),
        (hospital.head_nurse.pk, hospital.head.pk),
        (hospital.nurse_wang.pk, hospital.head_nurse.pk),
    }
    assert (report.pairs, report.placed, report.infeasible) == (3, 3, [])
    assert cycle.state == CycleState.LAUNCHED
    assert cycle.launched_at is not None
    assert cycle.report["pairs"] == 3 and cycle.report["placed"] == 3
    assert cycle.report["seconds"] >= 0


def test_launch_proposes_the_managers_time_and_waits_for_the_employee(
    hospital: Hospital,
) -> None:
    cycle, _report = launched(hospital)

    for talk in cycle.talks.select_related("employee"):
        proposal = talk.proposals.get()
        assert talk.state == "negotiating"
        assert talk.initiation == Initiation.CYCLE
        assert talk.requested_by == hospital.hr_partner
        assert talk.awaiting_id == talk.employee_id
        assert proposal.proposed_by_id == talk.counterpart_id
        assert proposal.end - proposal.start == timedelta(minutes=45)
        assert MONDAY <= proposal.start.astimezone(SHANGHAI).date() <= FRIDAY_NEXT
        assert talk.activities.count() == 1


def test_launch_freezes_the_participants(hospital: Hospital) -> None:
    cycle, _report = launched(hospital)
    newcomer = report_of(hospital, 1, hospital.head)

    assert not cycle.talks.filter(employee=newcomer).exists()
    assert cycle_progress(cycle)["total"] == 3


def test_launch_covers_subtrees_only_of_the_chosen_departments(hospital: Hospital) -> None:
    outside = EmployeeFactory(department=hospital.emergency, manager=hospital.zhao)
    cycle = new_cycle(hospital, departments=[hospital.cardiology_nursing])

    launch_cycle(cycle, actor=hospital.hr_partner.user)

    assert set(cycle.talks.values_list("employee_id", flat=True)) == {
        hospital.head_nurse.pk,
        hospital.nurse_wang.pk,
    }
    assert not cycle.talks.filter(employee=outside).exists()


def test_launch_leaves_out_leavers_and_people_whose_manager_left(hospital: Hospital) -> None:
    Employee.objects.filter(pk=hospital.head_nurse.pk).update(status="left")

    cycle, report = launched(hospital)

    assert set(cycle.talks.values_list("employee_id", flat=True)) == {hospital.doctor_li.pk}
    assert report.pairs == 1


def test_launch_skips_an_employee_who_already_has_an_open_talk_in_the_cycle(
    hospital: Hospital,
) -> None:
    cycle = new_cycle(hospital)
    Talk.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        counterpart=hospital.head,
        requested_by=hospital.head,
        topic="quarterly_review",
        cycle=cycle,
    )

    report = launch_cycle(cycle, actor=hospital.hr_partner.user)

    assert (report.pairs, report.skipped) == (2, 1)
    assert cycle.talks.filter(employee=hospital.doctor_li).count() == 1


def test_launch_twice_is_refused(hospital: Hospital) -> None:
    cycle, _report = launched(hospital)

    with pytest.raises(ConflictError):
        launch_cycle(cycle, actor=hospital.hr_partner.user)

    assert cycle.talks.count() == 3
    assert AuditEvent.objects.filter(action="interviews.cycle.launched").count() == 1


@pytest.mark.parametrize("persona", ["doctor_li", "head", "executive"])
def test_launch_is_refused_without_hr_or_admin(hospital: Hospital, persona: str) -> None:
    cycle = new_cycle(hospital)

    with pytest.raises(PermissionDenied):
        launch_cycle(cycle, actor=getattr(hospital, persona).user)

    assert not cycle.talks.exists()
    assert ReviewCycle.objects.get().state == CycleState.DRAFT


def test_launch_is_refused_to_hr_of_part_of_the_cycles_departments(hospital: Hospital) -> None:
    RoleAssignmentFactory(employee=hospital.zhao, role=Role.HR, department=hospital.emergency)
    cycle = new_cycle(hospital)

    with pytest.raises(PermissionDenied):
        launch_cycle(cycle, actor=hospital.zhao.user)

    assert not cycle.talks.exists()


# --- launching: times -------------------------------------------------------------------------


@pytest.fixture
def busy_ward(hospital: Hospital) -> dict[str, Any]:
    """心内科 with hospital hours, 12 more nurses under 周敏 (every third one on alternate
    night shifts), and 李明 on alternate night shifts."""
    organisation = hospital.organisation
    codes = shift_codes(organisation)
    hospital_hours(organisation)
    nurses = [report_of(hospital, number, hospital.head_nurse) for number in range(12)]
    rostered = [hospital.doctor_li, *nurses[::3]]
    RosterEntry.objects.bulk_create(
        RosterEntry(organisation=organisation, employee=person, date=day, shift_code=codes["夜班"])
        for person in rostered
        for day in NIGHTS
    )
    return {"nurses": nurses, "rostered": rostered}


def test_launch_books_nobody_twice(hospital: Hospital, busy_ward: dict[str, Any]) -> None:
    cycle, report = launched(hospital, max_talks_per_day=3)

    people = [hospital.head.pk, hospital.head_nurse.pk, *(n.pk for n in busy_ward["nurses"])]
    for person, spans in held_times(people).items():
        ordered = sorted(spans)
        for (_a, first_end), (second_start, _b) in pairwise(ordered):
            assert first_end <= second_start, f"employee {person} is booked twice"
    assert report.placed == 15 == Proposal.objects.filter(talk__cycle=cycle).count()


def test_launch_keeps_a_buffer_between_a_managers_talks(
    hospital: Hospital, busy_ward: dict[str, Any]
) -> None:
    launched(hospital)

    spans = sorted(held_times([hospital.head_nurse.pk])[hospital.head_nurse.pk])
    for (_a, first_end), (second_start, _b) in pairwise(spans):
        assert second_start - first_end >= timedelta(minutes=15)


def test_launch_avoids_duty_days_and_the_rest_after_night_shifts(
    hospital: Hospital, busy_ward: dict[str, Any]
) -> None:
    launched(hospital)

    rostered = [person.pk for person in busy_ward["rostered"]]
    for person, spans in held_times(rostered).items():
        for start, end in spans:
            local = start.astimezone(SHANGHAI)
            assert local.date() not in NIGHTS, f"{person} has a talk on a night-shift day"
            night_end = datetime.combine(local.date(), time(8), tzinfo=SHANGHAI)
            if local.date() - timedelta(days=1) in NIGHTS:
                assert start >= night_end + timedelta(hours=8), f"{person} has no rest"
            assert at(local.date(), 8) <= local and end.astimezone(SHANGHAI) <= at(
                local.date(), 17, 30
            )


def test_launch_gives_a_manager_at_most_the_daily_cap(
    hospital: Hospital, busy_ward: dict[str, Any]
) -> None:
    launched(hospital, max_talks_per_day=2)

    spans = held_times([hospital.head_nurse.pk])[hospital.head_nurse.pk]
    per_day = Counter(start.astimezone(SHANGHAI).date() for start, _end in spans)
    assert per_day and max(per_day.values()) <= 2


def test_launch_treats_an_existing_booked_talk_as_busy(hospital: Hospital) -> None:
    hospital_hours(hospital.organisation)
    # 李明 and 张伟 already meet the whole first morning and afternoon.
    for start, end in ((at(MONDAY, 8), at(MONDAY, 12)), (at(MONDAY, 14), at(MONDAY, 17, 30))):
        Talk.objects.create(
            organisation=hospital.organisation,
            employee=hospital.doctor_li,
            counterpart=hospital.head,
            requested_by=hospital.head,
            topic="career",
            state="scheduled",
            scheduled_start=start,
            scheduled_end=end,
        )

    cycle, _report = launched(hospital)

    proposal = Proposal.objects.get(talk__cycle=cycle, talk__employee=hospital.doctor_li)
    assert proposal.start.astimezone(SHANGHAI).date() > MONDAY


# --- launching: pairs without a time ----------------------------------------------------------


def test_pairs_without_a_time_get_a_request_for_the_manager_and_a_reason(
    hospital: Hospital,
) -> None:
    hospital_hours(hospital.organisation)
    Leave.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        kind=LeaveKind.ANNUAL,
        start=at(MONDAY - timedelta(days=3), 0),
        end=at(FRIDAY_NEXT + timedelta(days=3), 0),
    )
    # 李明 works evenings only: never when 张伟 does.
    for weekday in range(5):
        WorkingHours.objects.create(
            organisation=hospital.organisation,
            employee=hospital.doctor_li,
            weekday=weekday,
            start=time(18),
            end=time(21),
        )

    cycle, report = launched(hospital)

    reasons = {entry["employee"]: entry["reason"] for entry in report.infeasible}
    assert reasons == {
        hospital.nurse_wang.pk: "employee_on_leave",
        hospital.doctor_li.pk: "no_common_time",
    }
    assert report.placed == 1
    for entry in cycle.report["infeasible"]:
        talk = Talk.objects.get(pk=entry["talk"])
        assert (talk.state, talk.awaiting_id) == ("requested", talk.counterpart_id)
        assert not talk.proposals.exists()
        assert entry["message"]


def test_pairs_beyond_the_managers_daily_cap_are_reported(hospital: Hospital) -> None:
    hospital_hours(hospital.organisation)
    for number in range(4):
        report_of(hospital, number, hospital.head_nurse)
    cycle = new_cycle(
        hospital, departments=[hospital.cardiology_nursing], window_end=MONDAY + timedelta(days=1)
    )

    report = launch_cycle(cycle, actor=hospital.hr_partner.user, max_talks_per_day=2)

    # 周敏 has her own talk with 张伟 and leads five: two talks a day on two days leave
    # room for three of them.
    assert report.placed == 4
    led_by_her = [e for e in report.infeasible if e["manager"] == hospital.head_nurse.pk]
    assert [entry["reason"] for entry in led_by_her] == ["manager_at_cap", "manager_at_cap"]


def test_a_manager_on_leave_is_reported(hospital: Hospital) -> None:
    hospital_hours(hospital.organisation)
    Leave.objects.create(
        organisation=hospital.organisation,
        employee=hospital.head_nurse,
        kind=LeaveKind.TRAINING,
        start=at(MONDAY, 0),
        end=at(FRIDAY_NEXT + timedelta(days=1), 0),
    )
    cycle = new_cycle(hospital, departments=[hospital.cardiology_nursing])

    report = launch_cycle(cycle, actor=hospital.hr_partner.user)

    by_employee = {entry["employee"]: entry["reason"] for entry in report.infeasible}
    assert by_employee[hospital.nurse_wang.pk] == "manager_on_leave"
    assert by_employee[hospital.head_nurse.pk] == "employee_on_leave"


# --- launching: audit and notifications -------------------------------------------------------


def test_launch_appends_the_audit_events_in_one_intact_chain(hospital: Hospital) -> None:
    cycle, _report = launched(hospital)

    launched_event = AuditEvent.objects.get(action="interviews.cycle.launched")
    requested = AuditEvent.objects.filter(action="interviews.talk.requested")
    assert launched_event.object_id == str(cycle.pk)
    assert sorted(requested.values_list("subject_id", flat=True)) == sorted(
        cycle.talks.values_list("employee_id", flat=True)
    )
    assert list(verify_chain()) == []


def test_launch_notifies_both_sides_of_every_talk(hospital: Hospital) -> None:
    cycle, _report = launched(hospital)

    for talk in cycle.talks.all():
        recipients = set(
            Notification.objects.filter(object_id=str(talk.pk), kind="talk.requested").values_list(
                "recipient_id", flat=True
            )
        )
        assert recipients == {talk.employee_id, talk.counterpart_id}


# --- progress ---------------------------------------------------------------------------------


def test_cycle_progress_counts_every_bucket(
    hospital: Hospital, django_assert_num_queries: Any
) -> None:
    cycle, _report = launched(hospital)
    talks = {talk.employee_id: talk for talk in cycle.talks.select_related("employee")}
    accept_time(talks[hospital.doctor_li.pk], actor=hospital.doctor_li.user)
    decline_talk(
        talks[hospital.nurse_wang.pk], actor=hospital.nurse_wang.user, reason="本周夜班太多"
    )
    cycle = ReviewCycle.objects.select_related("organisation").get(pk=cycle.pk)

    with django_assert_num_queries(1):
        progress = cycle_progress(cycle)

    assert progress["total"] == 3
    assert progress["buckets"] == {
        "proposed": 1,
        "waiting": 0,
        "accepted": 1,
        "held": 0,
        "declined": 1,
        "cancelled": 0,
        "expired": 0,
        "overdue": 0,
    }
    by_manager = {row["id"]: row for row in progress["managers"]}
    assert by_manager[hospital.head.pk]["total"] == 2
    assert by_manager[hospital.head.pk]["accepted"] == 1
    assert by_manager[hospital.head_nurse.pk]["declined"] == 1


def test_cycle_progress_counts_overdue_talks_after_their_time(
    hospital: Hospital, time_machine: Any
) -> None:
    cycle, _report = launched(hospital)
    talks = {talk.employee_id: talk for talk in cycle.talks.select_related("employee")}
    accept_time(talks[hospital.doctor_li.pk], actor=hospital.doctor_li.user)

    during = cycle_progress(cycle, now=at(MONDAY, 7))
    after = cycle_progress(cycle, now=at(FRIDAY_NEXT + timedelta(days=1), 9))

    assert during["buckets"]["overdue"] == 0
    # The booked talk was never started; the two others still wait for an answer.
    assert after["buckets"]["overdue"] == 3


def test_cycle_progress_of_a_draft_is_empty(hospital: Hospital) -> None:
    progress = cycle_progress(new_cycle(hospital))

    assert progress["total"] == 0
    assert progress["managers"] == []
