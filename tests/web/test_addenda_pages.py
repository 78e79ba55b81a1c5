"""Addenda on the record page (PRODUCT.md D3): 周敏 adds to the archived record of her talk
with 王芳 and signs it with her password; 王芳 sees it and signs it too; HR reads it and can
do neither. Wrong passwords and empty texts are refused and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from miantan.archive.models import Addendum, AddendumState, ArchiveEntry
from tests.factories import PASSWORD
from tests.records.builders import TALK_AT
from tests.web.test_archive_pages import archived_record, in_chinese, messages_of

pytestmark = pytest.mark.django_db

TEXT = "补充：第三项培训改到四月。"


@pytest.fixture(autouse=True)
def _after_the_talk() -> Iterator[None]:
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def page(record) -> str:
    return reverse("web:record", args=[record.talk_id])


def add_url(record) -> str:
    return reverse("web:record_addendum", args=[record.talk_id])


def sign_url(record, number: int) -> str:
    return reverse("web:addendum_sign", args=[record.talk_id, number])


def test_an_addendum_is_added_signed_by_the_other_and_archived(hospital, client_as):
    record = archived_record(hospital)
    manager = client_as(hospital.head_nurse)
    assert 'data-testid="addendum-form"' in manager.get(page(record)).content.decode()

    added = manager.post(add_url(record), {"text": TEXT, "password": PASSWORD}, follow=True)
    assert added.redirect_chain[-1][0].endswith("#addenda")
    html = added.content.decode()
    assert "第三项培训改到四月" in html and 'data-testid="addendum-1"' in html
    assert 'data-testid="addendum-form"' not in html  # one waits for its second signature

    employee = client_as(hospital.nurse_wang)
    shown = employee.get(page(record)).content.decode()
    assert 'data-testid="addendum-sign-form-1"' in shown
    signed = employee.post(sign_url(record, 1), {"password": PASSWORD}, follow=True)
    assert in_chinese("You signed the addendum: it is archived with the record.") in messages_of(
        signed
    )
    addendum = Addendum.objects.get(record=record)
    assert addendum.state == AddendumState.ARCHIVED
    assert ArchiveEntry.objects.filter(addendum=addendum).exists()


def test_hr_reads_an_addendum_but_neither_adds_nor_signs(hospital, client_as):
    record = archived_record(hospital)
    client_as(hospital.head_nurse).post(add_url(record), {"text": TEXT, "password": PASSWORD})
    hr = client_as(hospital.hr_partner)

    html = hr.get(page(record)).content.decode()
    assert "第三项培训改到四月" in html
    assert 'data-testid="addendum-form"' not in html
    assert 'data-testid="addendum-sign-form-1"' not in html
    assert hr.post(add_url(record), {"text": TEXT, "password": PASSWORD}).status_code == 403
    assert hr.post(sign_url(record, 1), {"password": PASSWORD}).status_code == 403
    assert Addendum.objects.get(record=record).state == AddendumState.AWAITING


def test_a_wrong_password_or_an_empty_text_changes_nothing(hospital, client_as):
    record = archived_record(hospital)
    manager = client_as(hospital.head_nurse)

    wrong = manager.post(add_url(record), {"text": TEXT, "password": "not it"}, follow=True)
    empty = manager.post(add_url(record), {"text": "  ", "password": PASSWORD}, follow=True)

    assert in_chinese("The password is not correct; nothing was signed.") in messages_of(wrong)
    assert in_chinese("Write what the addendum says.") in messages_of(empty)
    assert not Addendum.objects.exists()


def test_outsiders_and_unknown_addenda_get_404(hospital, client_as):
    record = archived_record(hospital)
    client_as(hospital.head_nurse).post(add_url(record), {"text": TEXT, "password": PASSWORD})

    outsider = client_as(hospital.zhao)
    assert outsider.post(add_url(record), {"text": TEXT, "password": PASSWORD}).status_code == 404
    assert outsider.post(sign_url(record, 1), {"password": PASSWORD}).status_code == 404
    employee = client_as(hospital.nurse_wang)
    assert employee.post(sign_url(record, 7), {"password": PASSWORD}).status_code == 404
