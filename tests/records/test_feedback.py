"""After the talk (C10): the employee's takeaways and rating, the manager's requirements; both
in the employee's file and in the satisfaction figures."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.records.enums import RecordState
from miantan.records.feedback import (
    InvalidFeedback,
    feedback_for,
    feedback_in_file,
    give_feedback,
    give_requirements,
    satisfaction_ratings,
)
from miantan.records.models import Feedback, Mention, Record
from tests.personas import Hospital
from tests.records.builders import SHANGHAI, TALK_AT, started_record

pytestmark = pytest.mark.django_db

TAKEAWAYS = "学会了交接的要点MARKER-c0de"


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(hours=1), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def held_record(template_record: Record, employee, counterpart, *, state=RecordState.CONFIRMED):
    """Another held talk with its record, made directly."""
    talk = Talk.objects.create(
        organisation=employee.organisation,
        employee=employee,
        counterpart=counterpart,
        requested_by=counterpart,
        topic="quarterly_review",
        state=TalkState.IN_PROGRESS,
    )
    return Record.objects.create(
        talk=talk,
        organisation=employee.organisation,
        template_version=template_record.template_version,
        state=state,
    )


def rated(record: Record, satisfaction: int, at: datetime) -> Feedback:
    return Feedback.objects.create(record=record, satisfaction=satisfaction, employee_at=at)


# --- writing --------------------------------------------------------------------------------


def test_the_employee_gives_takeaways_and_a_rating(hospital, record):
    feedback = give_feedback(
        record, actor=hospital.nurse_wang.user, takeaways=TAKEAWAYS, satisfaction="4"
    )

    assert (feedback.satisfaction, feedback.takeaways) == (4, TAKEAWAYS)
    assert feedback.employee_at is not None and feedback.manager_at is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT takeaways FROM records_feedback WHERE id = %s", [feedback.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("mt1:") and "MARKER" not in stored
    event = AuditEvent.objects.get(action="records.feedback.given")
    assert event.data == {"satisfaction": 4}
    assert event.subject_id == hospital.nurse_wang.pk


def test_the_employee_changes_their_feedback(hospital, record):
    wang = hospital.nurse_wang.user
    give_feedback(record, actor=wang, takeaways="初稿", satisfaction=3)
    give_feedback(record, actor=wang, takeaways="想清楚了", satisfaction=5)

    feedback = Feedback.objects.get(record=record)
    assert (feedback.satisfaction, feedback.takeaways) == (5, "想清楚了")


def test_the_manager_gives_improvement_requirements(hospital, record):
    zhou = hospital.head_nurse.user
    give_feedback(record, actor=hospital.nurse_wang.user, takeaways="", satisfaction=4)
    give_requirements(record, actor=zhou, requirements="三月底前完成交接培训")
    give_requirements(record, actor=zhou, requirements="四月底前完成交接培训")

    feedback = Feedback.objects.get(record=record)
    assert feedback.requirements == "四月底前完成交接培训"
    assert feedback.satisfaction == 4
    assert feedback.manager_at is not None


@pytest.mark.parametrize("writer", ["head_nurse", "hr_partner", "admin", "zhao"])
def test_only_the_employee_gives_the_takeaways_and_rating(hospital, record, writer):
    with pytest.raises(PermissionDenied):
        give_feedback(record, actor=getattr(hospital, writer).user, takeaways="", satisfaction=5)

    assert not Feedback.objects.exists()
    assert AuditEvent.objects.filter(action="records.feedback.given", outcome="denied").exists()


@pytest.mark.parametrize("writer", ["nurse_wang", "hr_partner", "admin", "head"])
def test_only_the_manager_side_gives_the_requirements(hospital, record, writer):
    with pytest.raises(PermissionDenied):
        give_requirements(record, actor=getattr(hospital, writer).user, requirements="要求")

    assert not Feedback.objects.exists()


def test_feedback_waits_until_the_talk_has_been_held(hospital, record):
    Record.objects.filter(pk=record.pk).update(state=RecordState.PREPARING)
    record.refresh_from_db()

    with pytest.raises(ConflictError):
        give_feedback(record, actor=hospital.nurse_wang.user, takeaways="", satisfaction=4)
    with pytest.raises(ConflictError):
        give_requirements(record, actor=hospital.head_nurse.user, requirements="要求")
    assert not Feedback.objects.exists()


def test_feedback_is_given_after_the_record_is_confirmed_too(hospital, record):
    Record.objects.filter(pk=record.pk).update(state=RecordState.CONFIRMED)
    record.refresh_from_db()

    give_feedback(record, actor=hospital.nurse_wang.user, takeaways="", satisfaction=2)

    assert Feedback.objects.get(record=record).satisfaction == 2


@pytest.mark.parametrize("rating", [0, 6, "", "很好", None, "4.5", -1])
def test_a_rating_outside_one_to_five_is_refused(hospital, record, rating):
    with pytest.raises(InvalidFeedback) as refused:
        give_feedback(record, actor=hospital.nurse_wang.user, takeaways="", satisfaction=rating)

    assert "satisfaction" in refused.value.errors
    assert not Feedback.objects.exists()


def test_empty_or_too_long_text_is_refused(hospital, record):
    with pytest.raises(InvalidFeedback):
        give_requirements(record, actor=hospital.head_nurse.user, requirements="  ")
    with pytest.raises(InvalidFeedback):
        give_feedback(record, actor=hospital.nurse_wang.user, takeaways="长" * 5001, satisfaction=3)
    assert not Feedback.objects.exists()


# --- reading --------------------------------------------------------------------------------


def test_the_two_people_and_those_following_the_talk_read_the_feedback(hospital, record):
    give_feedback(record, actor=hospital.nurse_wang.user, takeaways=TAKEAWAYS, satisfaction=4)

    for reader in (hospital.nurse_wang, hospital.head_nurse, hospital.hr_partner, hospital.admin):
        view = feedback_for(reader.user, record)
        assert view is not None and view.takeaways == TAKEAWAYS and view.satisfaction == 4
    assert AuditEvent.objects.filter(action="records.feedback.viewed").count() == 4


def test_the_reader_is_told_what_they_may_write(hospital, record):
    employee = feedback_for(hospital.nurse_wang.user, record)
    manager = feedback_for(hospital.head_nurse.user, record)
    hr = feedback_for(hospital.hr_partner.user, record)

    assert (employee.can_give_feedback, employee.can_give_requirements) == (True, False)
    assert (manager.can_give_feedback, manager.can_give_requirements) == (False, True)
    assert (hr.can_give_feedback, hr.can_give_requirements) == (False, False)
    assert not employee.given and employee.satisfaction is None


def test_strangers_and_mentioned_colleagues_do_not_read_the_feedback(hospital, record):
    Mention.objects.create(
        record=record, section="went_well", employee=hospital.zhao, mentioned_by=hospital.nurse_wang
    )

    assert feedback_for(hospital.zhao.user, record) is None
    assert feedback_for(hospital.doctor_li.user, record) is None


def test_the_feedback_is_in_the_employees_file_for_those_who_see_her_talks(hospital, record):
    give_feedback(record, actor=hospital.nurse_wang.user, takeaways=TAKEAWAYS, satisfaction=4)
    give_requirements(record, actor=hospital.head_nurse.user, requirements="加强交接")

    for viewer in (hospital.nurse_wang, hospital.head_nurse, hospital.hr_partner, hospital.admin):
        (entry,) = feedback_in_file(hospital.nurse_wang, viewer=viewer.user)
        assert entry.talk_id == record.talk_id
        assert (entry.feedback.satisfaction, entry.feedback.requirements) == (4, "加强交接")
        assert entry.counterpart == "周敏"
    for viewer in (hospital.head, hospital.doctor_li, hospital.zhao):
        assert feedback_in_file(hospital.nurse_wang, viewer=viewer.user) == []
    event = AuditEvent.objects.filter(action="records.feedback.viewed").first()
    assert event.subject_id == hospital.nurse_wang.pk


# --- the figures ----------------------------------------------------------------------------


def test_satisfaction_ratings_per_employee_department_and_month(hospital, record):
    january = datetime(2026, 1, 20, 10, tzinfo=SHANGHAI)
    february = datetime(2026, 2, 10, 10, tzinfo=SHANGHAI)
    rated(record, 4, february)
    rated(held_record(record, hospital.nurse_wang, hospital.head_nurse), 2, january)
    rated(held_record(record, hospital.doctor_li, hospital.head), 5, february)
    rated(held_record(record, hospital.zhao, hospital.hr_partner), 3, february)
    organisation = hospital.organisation.pk

    per_employee = {
        g.key: (g.count, g.average) for g in satisfaction_ratings(organisation, by="employee")
    }
    assert per_employee == {
        hospital.nurse_wang.pk: (2, 3.0),
        hospital.doctor_li.pk: (1, 5.0),
        hospital.zhao.pk: (1, 3.0),
    }
    per_department = {
        g.key: (g.count, g.average) for g in satisfaction_ratings(organisation, by="department")
    }
    assert per_department == {
        hospital.cardiology_nursing.pk: (2, 3.0),
        hospital.cardiology.pk: (1, 5.0),
        hospital.emergency.pk: (1, 3.0),
    }
    per_month = [
        (g.key.date().isoformat()[:7], g.count, g.average)
        for g in satisfaction_ratings(organisation, by="month")
    ]
    assert per_month == [("2026-01", 1, 2.0), ("2026-02", 3, 4.0)]


def test_satisfaction_ratings_over_a_period_and_some_departments(hospital, record):
    january = datetime(2026, 1, 20, 10, tzinfo=SHANGHAI)
    february = datetime(2026, 2, 10, 10, tzinfo=SHANGHAI)
    rated(record, 4, february)
    rated(held_record(record, hospital.nurse_wang, hospital.head_nurse), 2, january)
    rated(held_record(record, hospital.zhao, hospital.hr_partner), 3, february)
    preparing = held_record(record, hospital.doctor_li, hospital.head, state=RecordState.PREPARING)
    rated(preparing, 1, february)

    groups = satisfaction_ratings(
        hospital.organisation.pk,
        by="department",
        since=datetime(2026, 2, 1, tzinfo=SHANGHAI),
        until=datetime(2026, 3, 1, tzinfo=SHANGHAI),
        department_ids=[hospital.cardiology_nursing.pk, hospital.cardiology.pk],
    )

    assert [(g.key, g.count, g.average) for g in groups] == [
        (hospital.cardiology_nursing.pk, 1, 4.0)
    ]


def test_satisfaction_ratings_of_another_organisation_are_not_counted(hospital, record, other_org):
    rated(record, 4, TALK_AT)

    assert satisfaction_ratings(other_org.organisation.pk, by="employee") == []
