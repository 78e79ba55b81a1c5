"""@mentions (C9): "@姓名" or "@工号" in a comment lets that colleague read the one section,
tells them (without quoting the record) and is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied

from miantan.audit.models import AuditEvent
from miantan.core.errors import InvalidFields
from miantan.notifications.models import Notification
from miantan.notifications.rendering import inbox_entry, render
from miantan.people.enums import EmploymentStatus
from miantan.records import queries, services
from miantan.records.mentions import grant_mentions, named_colleagues, sections_mentioned
from miantan.records.models import Mention, Record
from tests.factories import EmployeeFactory
from tests.personas import Hospital
from tests.records.builders import TALK_AT, started_record

pytestmark = pytest.mark.django_db

COMMENT = "@赵强 请看一下这次抢救配合，MARKER-5d1e"


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def names(text: str, hospital: Hospital) -> list[str]:
    return [p.name for p in named_colleagues(text, organisation_id=hospital.organisation.pk)]


# --- finding the names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@赵强 请看", ["赵强"]),
        ("@赵强请看一下", ["赵强"]),
        ("请@张伟、@李明看看", ["张伟", "李明"]),
        ("工号 @H0011 和 @h0020", ["李明", "赵强"]),
        ("@赵强 @赵强 @H0020", ["赵强"]),
        ("没有提到谁", []),
        ("@ 空的", []),
        ("邮件 zhao@hospital.test 不算", []),
        ("@无此人", []),
    ],
)
def test_colleagues_are_found_by_name_or_employee_number(hospital, text, expected):
    assert names(text, hospital) == expected


def test_a_name_two_colleagues_share_mentions_nobody_and_the_number_does(hospital):
    namesake = EmployeeFactory(
        organisation=hospital.organisation,
        department=hospital.emergency,
        employee_number="H0099",
        name="赵强",
    )

    assert names("@赵强 请看", hospital) == []
    assert names("@H0099 请看", hospital) == [namesake.name]


def test_colleagues_who_left_or_work_elsewhere_are_not_mentioned(hospital, other_org):
    hospital.zhao.status = EmploymentStatus.LEFT
    hospital.zhao.save(update_fields=["status"])

    assert names("@赵强 @冯涛 @X0001", hospital) == []


# --- granting -------------------------------------------------------------------------------


def test_a_mention_lets_the_colleague_read_that_section_only(hospital, record):
    (mention,) = grant_mentions(record, "went_well", COMMENT, actor=hospital.nurse_wang.user)

    assert (mention.employee, mention.section, mention.mentioned_by) == (
        hospital.zhao,
        "went_well",
        hospital.nurse_wang,
    )
    assert sections_mentioned(hospital.zhao.user, record) == {"went_well"}
    page = queries.access_record(hospital.zhao.user, record.talk_id)
    assert page.limited_to == {"went_well"}
    assert [section.section.key for section in page.sections] == ["went_well"]


def test_a_mention_is_granted_once_per_section_and_person(hospital, record):
    wang = hospital.nurse_wang.user
    grant_mentions(record, "went_well", COMMENT, actor=wang)
    again = grant_mentions(record, "went_well", "@赵强 还有这个", actor=wang)
    with time_machine.travel(TALK_AT + timedelta(minutes=11), tick=False):
        grant_mentions(record, "plan", "@赵强 计划也请看", actor=wang)

    assert len(again) == 1
    assert Mention.objects.filter(employee=hospital.zhao).count() == 2
    assert sections_mentioned(hospital.zhao.user, record) == {"went_well", "plan"}
    granted = AuditEvent.objects.filter(action="records.mention.granted", outcome="ok")
    assert granted.count() == 2
    assert Notification.objects.filter(recipient=hospital.zhao, channel="inbox").count() == 2


def test_the_actor_and_the_two_people_are_never_mentioned(hospital, record):
    mentions = grant_mentions(
        record, "went_well", "@王芳 @周敏 @孙丽", actor=hospital.head_nurse.user
    )

    assert [mention.employee for mention in mentions] == [hospital.hr_partner]
    assert grant_mentions(record, "went_well", "@周敏", actor=hospital.head_nurse.user) == []


def test_the_mentioned_colleague_is_told_without_the_comment(hospital, record):
    grant_mentions(record, "went_well", COMMENT, actor=hospital.nurse_wang.user)

    rows = Notification.objects.filter(recipient=hospital.zhao)
    assert {row.channel for row in rows} == {"inbox", "email"}
    inbox = rows.get(channel="inbox")
    assert inbox.kind == "record.mentioned"
    subject, body = render(inbox)
    assert "王芳" in body
    assert "MARKER-5d1e" not in subject + body + str(inbox.context)
    assert inbox_entry(inbox).link == f"/talks/{record.talk_id}/record/"
    _subject, mail = render(rows.get(channel="email"))
    assert f"/talks/{record.talk_id}/record/" in mail


def test_a_mention_is_audited_with_the_section_and_the_colleague(hospital, record):
    grant_mentions(record, "went_well", COMMENT, actor=hospital.nurse_wang.user)

    event = AuditEvent.objects.get(action="records.mention.granted")
    assert event.subject_id == hospital.nurse_wang.pk
    assert event.data == {"section": "went_well", "employee": hospital.zhao.pk}
    assert "MARKER" not in str(event.data)


def test_hr_following_the_record_mentions_colleagues(hospital, record):
    (mention,) = grant_mentions(record, "manager", "@赵强 请核对", actor=hospital.hr_partner.user)

    assert mention.mentioned_by == hospital.hr_partner


@pytest.mark.parametrize("actor", ["admin", "zhao", "doctor_li"])
def test_who_has_no_part_in_the_record_mentions_nobody(hospital, record, actor):
    with pytest.raises(PermissionDenied):
        grant_mentions(record, "went_well", "@李明 看看", actor=getattr(hospital, actor).user)

    assert not Mention.objects.exists()


def test_a_section_the_record_does_not_have_is_refused(hospital, record):
    with pytest.raises(InvalidFields):
        grant_mentions(record, "nope", COMMENT, actor=hospital.nurse_wang.user)


def test_nobody_else_was_mentioned_anywhere(hospital, record):
    grant_mentions(record, "went_well", COMMENT, actor=hospital.nurse_wang.user)

    assert sections_mentioned(hospital.doctor_li.user, record) == set()
    assert sections_mentioned(hospital.nurse_wang.user, record) == set()


def test_a_comment_with_a_mention_grants_it(hospital, record):
    services.add_comment(record, actor=hospital.head_nurse.user, section="went_well", body=COMMENT)

    assert sections_mentioned(hospital.zhao.user, record) == {"went_well"}
