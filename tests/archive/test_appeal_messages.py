"""Appeal messages: HR in scope of the employee hears of a new appeal, the talk's two people of
its resolution, each in their own language, never with the reason or the resolution quoted."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from miantan.archive import services
from miantan.archive.messages import hr_partners_of
from miantan.archive.models import Appeal
from miantan.notifications.models import Notification
from miantan.notifications.rendering import inbox_entry, render
from miantan.people.services import set_language
from tests.archive.test_signing import confirmed_record, sign
from tests.records.builders import TALK_AT

pytestmark = pytest.mark.django_db

REASON = "护理质量评分的依据MARKER-31aa"
RESOLUTION = "依据已核实MARKER-52bb"


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


@pytest.fixture
def appeal(hospital) -> Appeal:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang, dissent=True, reason=REASON)
    return Appeal.objects.get(record=record)


def kinds_for(person) -> list[str]:
    return sorted(
        Notification.objects.filter(
            recipient=person, channel="inbox", kind__startswith="archive."
        ).values_list("kind", flat=True)
    )


def test_hr_in_scope_hears_of_an_appeal_and_nobody_else(hospital, appeal):
    partners = list(hr_partners_of(hospital.nurse_wang))

    assert hospital.hr_partner in partners
    assert hospital.head_nurse not in partners and hospital.nurse_wang not in partners
    assert kinds_for(hospital.hr_partner) == ["archive.appeal_opened"]
    assert kinds_for(hospital.nurse_wang) == kinds_for(hospital.head_nurse) == []
    row = Notification.objects.get(
        recipient=hospital.hr_partner, channel="inbox", kind="archive.appeal_opened"
    )
    subject, body = render(row)
    assert "申诉" in subject
    assert "王芳" in body and "MARKER" not in body
    assert inbox_entry(row).link == f"/appeals/{appeal.pk}/"


def test_both_people_hear_how_it_was_resolved_in_their_language(hospital, appeal):
    set_language(hospital.nurse_wang, language="en", actor=hospital.nurse_wang.user)
    sign(appeal.record, hospital.head_nurse)

    services.resolve_appeal(
        appeal, actor=hospital.hr_partner.user, outcome="amended", resolution=RESOLUTION
    )

    for person in (hospital.nurse_wang, hospital.head_nurse):
        assert kinds_for(person) == ["archive.appeal_resolved"]
    english = Notification.objects.get(
        recipient=hospital.nurse_wang, channel="inbox", kind="archive.appeal_resolved"
    )
    subject, body = render(english)
    assert subject.startswith("Appeal resolved")
    assert "to be amended" in body and "MARKER" not in body
    chinese = Notification.objects.get(
        recipient=hospital.head_nurse, channel="inbox", kind="archive.appeal_resolved"
    )
    assert "修改" in render(chinese)[1]


def test_a_resolution_is_announced_once(hospital, appeal):
    sign(appeal.record, hospital.head_nurse)
    services.resolve_appeal(
        appeal, actor=hospital.hr_partner.user, outcome="upheld", resolution=RESOLUTION
    )

    rows = Notification.objects.filter(kind="archive.appeal_resolved", channel="inbox")
    assert sorted(rows.values_list("recipient", flat=True)) == sorted(
        [hospital.nurse_wang.pk, hospital.head_nurse.pk]
    )
