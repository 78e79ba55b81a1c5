"""/api/v1/talks/{id}/record/signatures, …/verification, …/export.json|pdf, /api/v1/appeals and
/api/v1/people/{id}/file: nurse 王芳 and head nurse 周敏 sign the record of their talk with
their passwords, 王芳 may disagree, HR partner 孙丽 resolves the appeal; the archived record is
verified and exported. Colleagues outside the talk find none of it (404)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

from miantan.archive.models import Appeal, ArchiveEntry, Signature
from miantan.archive.verification import verify_export
from miantan.audit.enums import Outcome
from miantan.audit.models import AuditEvent
from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.people.models import Employee
from miantan.records.enums import RecordState
from miantan.records.models import Record
from tests.archive.test_signing import DOT, confirmed_record, sign
from tests.factories import PASSWORD, api_token_for
from tests.personas import Hospital
from tests.records.builders import TALK_AT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _after_the_talk(settings, tmp_path):
    # The PDF is signed with a demo certificate made for this test, never one under var/.
    settings.MIANTAN_PDF_CERTIFICATE = ""
    settings.MIANTAN_PDF_PRIVATE_KEY = ""
    settings.MIANTAN_PDF_CERTIFICATE_DIR = str(tmp_path / "pdf-signing")
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def base(record: Record) -> str:
    return f"/api/v1/talks/{record.talk_id}/record"


def post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def archived(hospital: Hospital) -> Record:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    return record


def in_chinese(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


# --- signing ----------------------------------------------------------------------------------


def test_signing_needs_the_password_and_nothing_is_stored_without_it(hospital):
    record = confirmed_record(hospital)
    wang = bearer(hospital.nurse_wang)

    missing = post(wang, f"{base(record)}/signatures", {"dissent": False})
    empty = post(wang, f"{base(record)}/signatures", {"password": ""})
    wrong = post(wang, f"{base(record)}/signatures", {"password": "not-the-password"})

    assert missing.status_code == 400
    assert "password" in missing.json()["errors"]
    assert empty.status_code == 403
    assert empty.json() == {
        "detail": in_chinese("Enter your password to sign: signing needs it at that moment."),
        "code": "reauth",
    }
    assert wrong.status_code == 403
    assert wrong.json() == {
        "detail": in_chinese("The password is not correct; nothing was signed."),
        "code": "reauth",
    }
    assert not Signature.objects.exists()
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    refused = AuditEvent.objects.filter(action="archive.signature.refused", outcome=Outcome.DENIED)
    assert refused.count() == 2


def test_too_many_wrong_passwords_lock_signing_out(hospital, settings):
    settings.MIANTAN_LOGIN_MAX_FAILURES = 2
    record = confirmed_record(hospital)
    wang = bearer(hospital.nurse_wang)
    for _attempt in range(2):
        post(wang, f"{base(record)}/signatures", {"password": "not-the-password"})

    locked = post(wang, f"{base(record)}/signatures", {"password": PASSWORD})

    assert locked.status_code == 403
    assert locked.json()["code"] == "locked_out"
    assert not Signature.objects.exists()


def test_both_sides_sign_and_the_record_is_archived(hospital):
    record = confirmed_record(hospital)
    wang, zhou = bearer(hospital.nurse_wang), bearer(hospital.head_nurse)

    first = post(wang, f"{base(record)}/signatures", {"password": PASSWORD, "handwriting": DOT})
    second = post(zhou, f"{base(record)}/signatures", {"password": PASSWORD})

    assert first.status_code == 201, first.content
    assert first.json()["record_state"] == RecordState.CONFIRMED
    assert first.json()["chain"] is None
    signed = first.json()["signature"]
    assert signed["side"] == "employee"
    assert signed["signer"]["name"] == "王芳"
    assert signed["dissent"] is False and signed["reason"] == ""
    assert len(signed["snapshot_sha256"]) == 64 and signed["handwriting_sha256"]
    assert second.status_code == 201, second.content
    assert second.json()["record_state"] == RecordState.ARCHIVED
    entry = ArchiveEntry.objects.get(record=record)
    assert second.json()["chain"]["seq"] == entry.seq
    assert second.json()["chain"]["hash"] == entry.hash
    assert second.json()["signature"]["snapshot_sha256"] == signed["snapshot_sha256"]
    stored = Signature.objects.get(record=record, side="employee")
    assert stored.ip == "127.0.0.1"
    assert signed["server_signature"] == stored.server_signature
    assert Talk.objects.get(pk=record.talk_id).state == TalkState.ARCHIVED

    view = wang.get(f"{base(record)}/signatures").json()
    assert view["state"] == RecordState.ARCHIVED
    assert [s["side"] for s in view["signatures"]] == ["employee", "manager"]
    assert view["chain"] == {**second.json()["chain"]}
    assert view["may_sign"] is False and view["waiting_for"] == []


def test_signing_twice_answers_409(hospital):
    record = confirmed_record(hospital)
    wang = bearer(hospital.nurse_wang)

    post(wang, f"{base(record)}/signatures", {"password": PASSWORD})
    again = post(wang, f"{base(record)}/signatures", {"password": PASSWORD})

    assert again.status_code == 409
    assert again.json()["code"] == "signed"
    assert Signature.objects.filter(record=record).count() == 1


def test_the_signing_view_before_anyone_signed(hospital):
    record = confirmed_record(hospital)

    view = bearer(hospital.nurse_wang).get(f"{base(record)}/signatures").json()
    follower = bearer(hospital.hr_partner).get(f"{base(record)}/signatures").json()

    assert view["side"] == "employee"
    assert view["may_sign"] is True and view["may_dissent"] is True
    assert view["waiting_for"] == ["employee", "manager"]
    assert view["signatures"] == [] and view["chain"] is None
    assert follower["side"] == "hr" and follower["may_sign"] is False


def test_hr_may_not_sign(hospital):
    record = confirmed_record(hospital)

    answer = post(bearer(hospital.hr_partner), f"{base(record)}/signatures", {"password": PASSWORD})

    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"
    assert not Signature.objects.exists()


# --- disagreeing and appeals ------------------------------------------------------------------


def test_a_disagreement_opens_an_appeal_that_hr_lists_and_resolves(hospital):
    record = confirmed_record(hospital)
    wang, zhou, sun = (
        bearer(hospital.nurse_wang),
        bearer(hospital.head_nurse),
        bearer(hospital.hr_partner),
    )

    no_reason = post(wang, f"{base(record)}/signatures", {"password": PASSWORD, "dissent": True})
    managers = post(
        zhou, f"{base(record)}/signatures", {"password": PASSWORD, "dissent": True, "reason": "x"}
    )
    dissent = post(
        wang,
        f"{base(record)}/signatures",
        {"password": PASSWORD, "dissent": True, "reason": "第三项不是我的责任"},
    )
    post(zhou, f"{base(record)}/signatures", {"password": PASSWORD})

    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "reason")
    assert (managers.status_code, managers.json()["code"]) == (400, "dissent")
    assert dissent.status_code == 201
    opened = dissent.json()["appeal"]
    assert opened["state"] == "open" and opened["reason"] == "第三项不是我的责任"
    assert dissent.json()["signature"]["reason"] == "第三项不是我的责任"
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED  # the open appeal holds the archive back

    listed = sun.get("/api/v1/appeals")
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["items"]] == [opened["id"]]
    assert listed.json()["items"][0]["talk_id"] == record.talk_id
    department_hr = bearer(hospital.hr_cardiology).get("/api/v1/appeals").json()["items"]
    assert [a["id"] for a in department_hr] == [opened["id"]]

    detail = sun.get(f"/api/v1/appeals/{opened['id']}").json()
    assert detail["may_resolve"] is True and detail["employee"]["name"] == "王芳"
    assert wang.get(f"/api/v1/appeals/{opened['id']}").json()["may_resolve"] is False
    view = wang.get(f"{base(record)}/signatures").json()
    assert [(a["id"], a["state"]) for a in view["appeals"]] == [(opened["id"], "open")]
    assert sun.get(f"{base(record)}/signatures").json()["resolvable"] == [opened["id"]]

    resolution = {"outcome": "upheld", "resolution": "维持原评分"}
    by_manager = post(zhou, f"/api/v1/appeals/{opened['id']}/resolution", resolution)
    unknown = post(
        sun, f"/api/v1/appeals/{opened['id']}/resolution", {"outcome": "x", "resolution": "y"}
    )
    resolved = post(sun, f"/api/v1/appeals/{opened['id']}/resolution", resolution)
    again = post(sun, f"/api/v1/appeals/{opened['id']}/resolution", resolution)

    assert by_manager.status_code == 403
    assert (unknown.status_code, unknown.json()["code"]) == (400, "outcome")
    assert resolved.status_code == 200, resolved.content
    answer = resolved.json()
    assert (answer["state"], answer["outcome"]) == ("resolved", "upheld")
    assert answer["resolved_by"]["name"] == "孙丽" and answer["resolution"] == "维持原评分"
    assert answer["record_state"] == RecordState.ARCHIVED and answer["may_resolve"] is False
    assert (again.status_code, again.json()["code"]) == (409, "resolved")
    assert sun.get("/api/v1/appeals").json()["items"] == []


@pytest.mark.parametrize("role", ["nurse", "manager", "admin", "executive", "employee"])
def test_only_hr_lists_appeals(hospital, role):
    answer = bearer(hospital.by_role(role)).get("/api/v1/appeals")

    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


# --- what the outsiders find ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["colleague", "foreign"])
def test_outsiders_find_nothing(hospital, other_org, who):
    record = archived(hospital)
    waiting = confirmed_record(hospital)
    sign(waiting, hospital.nurse_wang, dissent=True, reason="评分偏低")
    appeal = Appeal.objects.get(record=waiting)
    outsider = hospital.zhao if who == "colleague" else other_org.employee
    client = bearer(outsider)
    talk_urls = [
        f"{base(record)}/signatures",
        f"{base(record)}/verification",
        f"{base(record)}/export.json",
        f"{base(record)}/export.pdf",
        f"{base(waiting)}/signatures",
    ]

    for url in talk_urls:
        assert client.get(url).status_code == 404, url
    signing = post(client, f"{base(waiting)}/signatures", {"password": PASSWORD})
    reading = client.get(f"/api/v1/appeals/{appeal.pk}")
    resolving = post(
        client,
        f"/api/v1/appeals/{appeal.pk}/resolution",
        {"outcome": "upheld", "resolution": "维持"},
    )
    file = client.get(f"/api/v1/people/{hospital.nurse_wang.pk}/file")

    assert [signing.status_code, reading.status_code, resolving.status_code] == [404, 404, 404]
    assert file.status_code == 404
    assert Signature.objects.filter(record=waiting).count() == 1
    appeal.refresh_from_db()
    assert appeal.state == "open"
    assert AuditEvent.objects.filter(
        action="archive.appeal.viewed", outcome=Outcome.DENIED, object_id=str(appeal.pk)
    ).exists()
    assert not AuditEvent.objects.filter(action="archive.record.exported").exists()


def test_anonymous_requests_answer_401(hospital):
    record = archived(hospital)

    assert Client().get(f"{base(record)}/signatures").status_code == 401
    assert Client().get(f"{base(record)}/export.json").status_code == 401
    assert Client().get("/api/v1/appeals").status_code == 401


# --- the archived record ----------------------------------------------------------------------


def test_the_json_export_holds_the_signed_snapshot_and_is_audited(hospital):
    record = archived(hospital)

    answer = bearer(hospital.nurse_wang).get(f"{base(record)}/export.json")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer["Content-Disposition"].startswith("attachment;")
    data = json.loads(answer.content)
    signed = Signature.objects.filter(record=record).values_list("snapshot_sha256", flat=True)
    assert set(signed) == {data["snapshot_sha256"]}
    assert len(data["signatures"]) == 2 and data["chain"]["seq"] == 1
    assert verify_export(data) == []
    event = AuditEvent.objects.get(action="archive.record.exported")
    assert event.data["format"] == "json" and event.actor_id == hospital.nurse_wang.user.pk


def test_the_pdf_export_is_a_pdf_and_is_audited(hospital):
    record = archived(hospital)

    answer = bearer(hospital.hr_partner).get(f"{base(record)}/export.pdf")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert b"/ByteRange" in answer.content  # signed
    event = AuditEvent.objects.get(action="archive.record.exported")
    assert event.data["format"] == "pdf"


def test_verification_of_an_intact_archive(hospital):
    record = archived(hospital)

    answer = bearer(hospital.head_nurse).get(f"{base(record)}/verification")

    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "findings": []}


def test_a_record_not_yet_archived_has_no_export_or_verification(hospital):
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang)
    wang = bearer(hospital.nurse_wang)

    for tail in ("/verification", "/export.json", "/export.pdf"):
        assert wang.get(f"{base(record)}{tail}").status_code == 404, tail
    assert wang.get(f"{base(record)}/signatures").status_code == 200


# --- the employee's file ----------------------------------------------------------------------


def test_the_file_lists_the_signed_talks_and_filters_by_topic(hospital):
    review = archived(hospital)
    career = confirmed_record(hospital)
    Talk.objects.filter(pk=career.talk_id).update(topic=Topic.CAREER)
    sign(career, hospital.nurse_wang, dissent=True, reason="评分偏低")
    sign(career, hospital.head_nurse)
    waiting = Appeal.objects.get(record=career)
    post(
        bearer(hospital.hr_partner),
        f"/api/v1/appeals/{waiting.pk}/resolution",
        {"outcome": "upheld", "resolution": "维持原评分"},
    )
    url = f"/api/v1/people/{hospital.nurse_wang.pk}/file"
    wang = bearer(hospital.nurse_wang)

    everything = wang.get(url).json()
    careers = wang.get(url, {"topic": "career"}).json()
    reviews = wang.get(url, {"topic": "quarterly_review"}).json()

    assert everything["total"] == 2 and everything["whole"] is True
    assert {row["talk_id"] for row in everything["rows"]} == {review.talk_id, career.talk_id}
    assert [row["talk_id"] for row in careers["rows"]] == [career.talk_id]
    row = careers["rows"][0]
    assert row["topic"] == "career" and row["dissent"] is True and row["appeals"] == 1
    assert row["chain_seq"] == 2 and row["date"] == "2026-03-04"
    assert row["template"]["key"] == "quarterly_review"
    assert [row["talk_id"] for row in reviews["rows"]] == [review.talk_id]
    assert reviews["rows"][0]["dissent"] is False and reviews["rows"][0]["chain_seq"] == 1
    assert wang.get(url, {"topic": "promotion"}).json()["rows"] == []
    assert wang.get(url, {"topic": "nonsense"}).status_code == 422
    assert wang.get(url, {"start": "0001-01-01"}).status_code == 422
    later = wang.get(url, {"start": "2026-03-05"}).json()
    assert later["total"] == 0
    assert AuditEvent.objects.filter(action="archive.file.viewed").exists()


def test_the_department_head_sees_the_file_but_only_the_talks_he_held(hospital):
    archived(hospital)

    answer = bearer(hospital.head).get(f"/api/v1/people/{hospital.nurse_wang.pk}/file")

    assert answer.status_code == 200
    assert answer.json()["whole"] is False and answer.json()["rows"] == []
