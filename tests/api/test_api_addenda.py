"""/api/v1/talks/{id}/record/addenda: 周敏 adds to the archived record of her talk with 王芳
and signs it with her password, 王芳 signs it too and it is archived; the signing view and the
JSON export carry it. HR may read but neither add nor sign; outsiders find nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from miantan.archive.models import Addendum, AddendumState
from miantan.archive.verification import verify_export
from tests.api.test_api_archive import archived, base, bearer, post
from tests.factories import PASSWORD
from tests.records.builders import TALK_AT

pytestmark = pytest.mark.django_db

TEXT = "补充：复训安排在下月第一周。"


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def test_an_addendum_is_added_signed_and_exported(hospital):
    record = archived(hospital)
    manager, employee = bearer(hospital.head_nurse), bearer(hospital.nurse_wang)

    added = post(manager, f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD})
    assert added.status_code == 201, added.content
    body = added.json()
    assert (body["number"], body["state"], body["text"]) == (1, "awaiting", TEXT)
    assert [s["side"] for s in body["signatures"]] == ["manager"]

    view = employee.get(f"{base(record)}/signatures").json()
    assert view["addenda"][0]["may_sign"] is True and view["may_add_addendum"] is False

    signed = post(employee, f"{base(record)}/addenda/1/signatures", {"password": PASSWORD})
    assert signed.status_code == 201, signed.content
    assert signed.json()["state"] == "archived"
    assert sorted(s["side"] for s in signed.json()["signatures"]) == ["employee", "manager"]

    export = manager.get(f"{base(record)}/export.json").json()
    assert len(export["addenda"]) == 1
    assert verify_export(export) == []


def test_refusals_change_nothing(hospital):
    record = archived(hospital)
    manager = bearer(hospital.head_nurse)

    wrong = post(manager, f"{base(record)}/addenda", {"text": TEXT, "password": "nope"})
    empty = post(manager, f"{base(record)}/addenda", {"text": " ", "password": PASSWORD})
    missing = post(manager, f"{base(record)}/addenda", {"text": TEXT})

    assert (wrong.status_code, wrong.json()["code"]) == (403, "reauth")
    assert (empty.status_code, empty.json()["code"]) == (400, "text")
    assert missing.status_code == 400
    assert not Addendum.objects.exists()

    post(manager, f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD})
    own = post(manager, f"{base(record)}/addenda/1/signatures", {"password": PASSWORD})
    again = post(manager, f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD})
    assert (own.status_code, own.json()["code"]) == (409, "signed")
    assert (again.status_code, again.json()["code"]) == (409, "addendum_waiting")


def test_hr_reads_but_neither_adds_nor_signs_and_outsiders_find_nothing(hospital):
    record = archived(hospital)
    post(
        bearer(hospital.head_nurse), f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD}
    )
    hr, outsider = bearer(hospital.hr_partner), bearer(hospital.zhao)

    assert hr.get(f"{base(record)}/signatures").json()["addenda"][0]["text"] == TEXT
    assert (
        post(hr, f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD}).status_code == 403
    )
    assert (
        post(hr, f"{base(record)}/addenda/1/signatures", {"password": PASSWORD}).status_code == 403
    )
    assert (
        post(outsider, f"{base(record)}/addenda", {"text": TEXT, "password": PASSWORD}).status_code
        == 404
    )
    assert (
        post(outsider, f"{base(record)}/addenda/1/signatures", {"password": PASSWORD}).status_code
        == 404
    )
    assert Addendum.objects.get().state == AddendumState.AWAITING
