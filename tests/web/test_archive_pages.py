"""The pages of signing and the archive (PRODUCT.md D1, D2, D5, D6): nurse 王芳 and head nurse
周敏 sign the record of their talk on its page, 王芳 may sign with a disagreement, which HR
partner 孙丽 resolves on the appeal's page; the archived record downloads as a signed PDF and
as JSON; 王芳's file lists her signed talks for those who may see it; the public keys that
check a signature are published for anyone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from miantan.archive.exports import EXPORT_FORMAT
from miantan.archive.models import Appeal, AppealState, Signature
from miantan.audit.models import AuditEvent
from miantan.core import signing
from miantan.interviews.models import Talk
from miantan.records import services as records
from miantan.records.enums import RecordState, Side
from miantan.records.models import Record
from tests.archive.test_signing import DOT, confirmed_record, sign
from tests.factories import PASSWORD
from tests.notifications.builders import booked_talk
from tests.personas import Hospital
from tests.records.builders import TALK_AT
from tests.records.test_record_services import AGREEMENT, MANAGER, PLAN, WENT_WELL, fill

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _after_the_talk() -> Iterator[None]:
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


@pytest.fixture
def pdf_certificate(settings, tmp_path: Path) -> Path:
    """The demo signing certificate of the PDFs, made in a folder of the test's own."""
    settings.MIANTAN_PDF_CERTIFICATE_DIR = str(tmp_path / "pdf-signing")
    return tmp_path


def record_url(record: Record) -> str:
    return reverse("web:record", args=[record.talk_id])


def sign_url(record: Record) -> str:
    return reverse("web:record_sign", args=[record.talk_id])


def in_chinese(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def archived_record(hospital: Hospital) -> Record:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang, handwriting=DOT)
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    return record


def appealed_record(hospital: Hospital) -> tuple[Record, Appeal]:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang, dissent=True, reason="第三项不是我的责任")
    sign(record, hospital.head_nurse)
    return record, Appeal.objects.get(record=record)


# --- the signing panel and signing -----------------------------------------------------------


def test_signing_panel_offers_each_side_its_form_and_hr_none(hospital, client_as):
    record = confirmed_record(hospital)

    employee = client_as(hospital.nurse_wang).get(record_url(record)).content.decode()
    manager = client_as(hospital.head_nurse).get(record_url(record)).content.decode()
    hr = client_as(hospital.hr_partner).get(record_url(record)).content.decode()

    for page in (employee, manager, hr):
        assert 'data-testid="signing"' in page
        assert 'data-testid="unsigned-employee"' in page
    assert f'action="{sign_url(record)}"' in employee and 'name="dissent"' in employee
    assert f'action="{sign_url(record)}"' in manager and 'name="dissent"' not in manager
    assert 'data-testid="sign-form"' not in hr
    assert "web/signature.js" in employee and "web/signature.js" not in hr


def test_signing_panel_is_not_shown_before_both_confirm(hospital, client_as):
    record = confirmed_record(hospital)
    Record.objects.filter(pk=record.pk).update(state=RecordState.IN_PROGRESS)

    page = client_as(hospital.nurse_wang).get(record_url(record)).content.decode()

    assert 'data-testid="signing"' not in page


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "Enter your password to sign: signing needs it at that moment."),
        ("not-the-password", "The password is not correct; nothing was signed."),
    ],
)
def test_signing_without_the_right_password_is_refused_and_stores_nothing(
    hospital, client_as, password, message
):
    record = confirmed_record(hospital)

    response = client_as(hospital.nurse_wang).post(
        sign_url(record), {"password": password, "handwriting": DOT}, follow=True
    )

    assert response.redirect_chain == [(f"{record_url(record)}#signing", 302)]
    assert in_chinese(message) in messages_of(response)
    assert not Signature.objects.exists()
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    assert AuditEvent.objects.filter(action="archive.signature.refused").count() == 1


def test_signing_on_the_page_keeps_the_evidence_and_both_signatures_archive(hospital, client_as):
    record = confirmed_record(hospital)
    employee = client_as(hospital.nurse_wang)

    first = employee.post(
        sign_url(record),
        {"password": PASSWORD, "handwriting": DOT, "reason": "不会被保存"},
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
        follow=True,
    )

    assert in_chinese("You signed the record.") in messages_of(first)
    signature = Signature.objects.get(record=record, side=Side.EMPLOYEE)
    assert signature.ip == "127.0.0.1" and signature.user_agent == "Mozilla/5.0 (iPhone)"
    assert signature.handwriting_sha256 and not signature.dissent
    assert signature.dissent_reason == ""
    page = first.content.decode()
    assert 'data-testid="handwriting-employee"' in page
    assert 'data-testid="sign-form"' not in page  # signed once, no second form

    second = client_as(hospital.head_nurse).post(
        sign_url(record), {"password": PASSWORD}, follow=True
    )

    assert in_chinese("Both sides signed: the record is archived.") in messages_of(second)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    page = second.content.decode()
    assert 'data-testid="archived"' in page and 'data-testid="chain-position"' in page
    assert f'href="{reverse("web:record_pdf", args=[record.talk_id])}"' in page
    assert f'href="{reverse("web:record_json", args=[record.talk_id])}"' in page


def test_signing_twice_or_by_hr_is_refused(hospital, client_as):
    record = confirmed_record(hospital)
    employee = client_as(hospital.nurse_wang)
    employee.post(sign_url(record), {"password": PASSWORD})

    again = employee.post(sign_url(record), {"password": PASSWORD}, follow=True)

    assert in_chinese("You have already signed this record.") in messages_of(again)
    assert (
        client_as(hospital.hr_partner).post(sign_url(record), {"password": PASSWORD}).status_code
        == 403
    )
    assert (
        client_as(hospital.zhao).post(sign_url(record), {"password": PASSWORD}).status_code == 404
    )
    assert Signature.objects.count() == 1


def test_a_drawing_that_is_not_a_png_is_refused(hospital, client_as):
    record = confirmed_record(hospital)

    response = client_as(hospital.nurse_wang).post(
        sign_url(record),
        {"password": PASSWORD, "handwriting": "data:image/svg+xml;base64,PHN2Zz4="},
        follow=True,
    )

    assert in_chinese("The drawn signature must be a PNG image.") in messages_of(response)
    assert not Signature.objects.exists()


# --- disagreement and appeals ----------------------------------------------------------------


def test_signing_with_a_disagreement_needs_a_reason(hospital, client_as):
    record = confirmed_record(hospital)

    response = client_as(hospital.nurse_wang).post(
        sign_url(record), {"password": PASSWORD, "dissent": "1", "reason": " "}, follow=True
    )

    assert in_chinese("Say what you disagree with.") in messages_of(response)
    assert not Signature.objects.exists()


def test_a_disagreement_opens_an_appeal_that_hr_resolves(hospital, client_as):
    record = confirmed_record(hospital)
    employee, manager = client_as(hospital.nurse_wang), client_as(hospital.head_nurse)
    hr = client_as(hospital.hr_partner)

    signed = employee.post(
        sign_url(record),
        {"password": PASSWORD, "dissent": "1", "reason": "第三项不是我的责任"},
        follow=True,
    )
    manager.post(sign_url(record), {"password": PASSWORD})

    assert "第三项不是我的责任" in signed.content.decode()
    appeal = Appeal.objects.get(record=record)
    assert appeal.state == AppealState.OPEN and appeal.reason == "第三项不是我的责任"
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED  # held back by the open appeal
    appeal_url = reverse("web:appeal", args=[appeal.pk])
    resolve_url = reverse("web:appeal_resolve", args=[appeal.pk])
    # HR finds it in the list and on the record page.
    listing = hr.get(reverse("web:appeals")).content.decode()
    assert f'href="{appeal_url}"' in listing and "王芳" in listing
    assert f'href="{appeal_url}#resolve"' in hr.get(record_url(record)).content.decode()
    assert f'href="{appeal_url}#resolve"' not in manager.get(record_url(record)).content.decode()
    page = hr.get(appeal_url).content.decode()
    assert "第三项不是我的责任" in page and f'action="{resolve_url}"' in page
    assert f'action="{resolve_url}"' not in employee.get(appeal_url).content.decode()
    # The manager may read the appeal but not decide it; a decision needs its reason.
    assert manager.post(resolve_url, {"outcome": "upheld", "resolution": "维持"}).status_code == 403
    refused = hr.post(resolve_url, {"outcome": "upheld", "resolution": ""})
    assert refused.status_code == 400
    assert in_chinese("Give the reason for the decision.") in refused.content.decode()
    assert hr.post(resolve_url, {"outcome": "nonsense", "resolution": "x"}).status_code == 400
    appeal.refresh_from_db()
    assert appeal.state == AppealState.OPEN

    resolved = hr.post(resolve_url, {"outcome": "upheld", "resolution": "维持原评分"}, follow=True)

    assert resolved.redirect_chain == [(appeal_url, 302)]
    assert "维持原评分" in resolved.content.decode()
    appeal.refresh_from_db()
    record.refresh_from_db()
    assert appeal.outcome == "upheld" and appeal.resolved_by == hospital.hr_partner
    assert record.state == RecordState.ARCHIVED
    again = hr.post(resolve_url, {"outcome": "withdrawn", "resolution": "再次"})
    assert again.status_code == 409
    empty = hr.get(reverse("web:appeals")).content.decode()
    assert 'data-testid="no-appeals"' in empty


def test_an_amended_appeal_sends_the_record_back_to_both_sides(hospital, client_as):
    record, appeal = appealed_record(hospital)

    client_as(hospital.hr_partner).post(
        reverse("web:appeal_resolve", args=[appeal.pk]),
        {"outcome": "amended", "resolution": "第三项由护士长修改后双方重新签署"},
    )

    record.refresh_from_db()
    assert record.state == RecordState.IN_PROGRESS and record.version > appeal.record_version
    # While they amend it, both see the decision, its reason and the earlier signatures.
    for person in (hospital.nurse_wang, hospital.head_nurse):
        html = client_as(person).get(record_url(record)).content.decode()
        assert 'data-testid="amending"' in html
        assert "第三项由护士长修改后双方重新签署" in html
        assert 'data-testid="earlier-signatures"' in html
        assert 'data-testid="sign-form"' not in html


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("nurse_wang", 403),
        ("head_nurse", 403),
        ("zhao", 403),
        ("admin", 403),
        ("hr_partner", 200),
        ("hr_cardiology", 200),
    ],
)
def test_the_appeals_list_is_for_hr(hospital, client_as, persona, status):
    assert client_as(getattr(hospital, persona)).get(reverse("web:appeals")).status_code == status


def test_the_appeals_list_asks_anonymous_visitors_to_sign_in(db):
    response = Client().get(reverse("web:appeals"))

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_appeals_list_says_when_there_is_nothing_to_resolve(hospital, client_as):
    page = client_as(hospital.hr_partner).get(reverse("web:appeals")).content.decode()

    assert in_chinese("No open appeals: there is nothing to resolve.") in page


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("nurse_wang", 200),
        ("head_nurse", 200),
        ("hr_partner", 200),
        ("admin", 200),
        ("zhao", 404),
        ("head", 404),
    ],
)
def test_an_appeal_is_read_by_the_talks_people_and_those_following_the_employee(
    hospital, client_as, persona, status
):
    _record, appeal = appealed_record(hospital)

    response = client_as(getattr(hospital, persona)).get(reverse("web:appeal", args=[appeal.pk]))

    assert response.status_code == status


def test_navigation_shows_appeals_to_hr_only(hospital, client_as):
    def manage(persona) -> list[str]:
        group = client_as(persona).get("/me/").context["nav_manage"]
        return [item.key for item in group.items] if group else []

    assert "appeals" in manage(hospital.hr_partner)
    assert "appeals" in manage(hospital.hr_cardiology)
    for persona in (hospital.nurse_wang, hospital.head_nurse, hospital.admin, hospital.zhao):
        assert "appeals" not in manage(persona)


# --- exports -----------------------------------------------------------------------------------


def test_the_pdf_of_an_archived_record_downloads_and_is_audited(
    hospital, client_as, pdf_certificate
):
    record = archived_record(hospital)

    response = client_as(hospital.nurse_wang).get(reverse("web:record_pdf", args=[record.talk_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == (
        f'attachment; filename="talk-{record.talk_id}-H0013-v{record.version}.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="archive.record.exported")
    assert event.actor_id == hospital.nurse_wang.user_id
    assert event.data == {"format": "pdf", "version": record.version}


def test_the_json_export_holds_the_signatures(hospital, client_as):
    record = archived_record(hospital)

    response = client_as(hospital.hr_partner).get(reverse("web:record_json", args=[record.talk_id]))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    exported = json.loads(response.content)
    assert exported["format"] == EXPORT_FORMAT
    assert len(exported["signatures"]) == 2
    assert exported["chain"]["seq"] == 1
    assert AuditEvent.objects.filter(action="archive.record.exported", data__format="json").exists()


def test_exports_are_for_archived_records_and_their_readers_only(hospital, client_as):
    record = confirmed_record(hospital)
    pdf_url = reverse("web:record_pdf", args=[record.talk_id])
    json_url = reverse("web:record_json", args=[record.talk_id])

    assert client_as(hospital.nurse_wang).get(json_url).status_code == 404  # not yet archived
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    for url in (pdf_url, json_url):
        assert client_as(hospital.zhao).get(url).status_code == 404
        assert client_as(hospital.head).get(url).status_code == 404
        assert Client().get(url).status_code == 302
    assert not AuditEvent.objects.filter(action="archive.record.exported").exists()


def test_signing_keys_are_published_for_anyone(db):
    response = Client().get("/.well-known/miantan-signing-keys.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    published = response.json()
    assert published == signing.ring().published()
    assert published["algorithm"] == "Ed25519" and published["current"] in published["keys"]


# --- the employee's file -----------------------------------------------------------------------


def file_url(employee) -> str:
    return reverse("web:employee_file", args=[employee.pk])


def rows_of(response) -> list[int]:
    return [row.record.talk_id for row in response.context["rows"]]


def test_the_file_lists_the_signed_talk_for_those_who_may_see_it(hospital, client_as):
    record = archived_record(hospital)
    open_talk = booked_talk(hospital, start=TALK_AT + timedelta(days=7))

    for persona in (hospital.nurse_wang, hospital.hr_partner, hospital.head_nurse):
        response = client_as(persona).get(file_url(hospital.nurse_wang))
        assert response.status_code == 200
        assert rows_of(response) == [record.talk_id]
        page = response.content.decode()
        assert f'href="{record_url(record)}"' in page
        assert f'href="{reverse("web:record_pdf", args=[record.talk_id])}"' in page
        assert f"/talks/{open_talk.pk}/" not in page
    # The department head sees the file, but only the talks held with him.
    assert rows_of(client_as(hospital.head).get(file_url(hospital.nurse_wang))) == []
    assert client_as(hospital.zhao).get(file_url(hospital.nurse_wang)).status_code == 404
    assert Client().get(file_url(hospital.nurse_wang)).status_code == 302
    assert AuditEvent.objects.filter(
        action="archive.file.viewed", subject_id=hospital.nurse_wang.pk
    ).exists()


def test_the_person_page_and_my_profile_link_to_the_file(hospital, client_as):
    link = f'href="{file_url(hospital.nurse_wang)}"'

    assert link in client_as(hospital.nurse_wang).get("/me/").content.decode()
    home = client_as(hospital.nurse_wang).get("/home/me/").content.decode()
    assert 'data-testid="home-file-link"' in home and link in home
    page = client_as(hospital.head_nurse).get(f"/people/{hospital.nurse_wang.pk}/")
    assert link in page.content.decode()


@pytest.mark.parametrize(
    ("filters", "found"),
    [
        ({}, True),
        ({"from": "2026-03-01", "to": "2026-03-31"}, True),
        ({"from": "2026-03-05"}, False),
        ({"to": "2026-03-03"}, False),
        ({"topic": "quarterly_review"}, True),
        ({"topic": "career"}, False),
    ],
)
def test_the_file_filters_by_date_and_topic(hospital, client_as, filters, found):
    record = archived_record(hospital)

    response = client_as(hospital.hr_partner).get(file_url(hospital.nurse_wang), filters)

    assert response.status_code == 200
    assert rows_of(response) == ([record.talk_id] if found else [])


def test_the_file_filters_by_template(hospital, client_as):
    record = archived_record(hospital)
    client = client_as(hospital.hr_partner)
    template = record.template_version.template_id

    assert rows_of(client.get(file_url(hospital.nurse_wang), {"template": template})) == [
        record.talk_id
    ]
    unknown = client.get(file_url(hospital.nurse_wang), {"template": template + 999})
    assert rows_of(unknown) == []
    assert in_chinese("Choose a template from the list.") in unknown.content.decode()


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"from": "2026-13-45"}, "Enter a valid date."),
        ({"to": "yesterday"}, "Enter a valid date."),
        ({"from": "2026-04-01", "to": "2026-03-01"}, "The start date is after the end date."),
        ({"template": "abc"}, "Choose a template from the list."),
    ],
)
def test_bad_filters_are_named_on_the_file_page(hospital, client_as, filters, message):
    archived_record(hospital)

    response = client_as(hospital.nurse_wang).get(file_url(hospital.nurse_wang), filters)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="filter-errors"' in page
    assert in_chinese(message) in page
    assert response.context["rows"] == []


def test_a_bad_topic_is_named_on_the_file_page(hospital, client_as):
    response = client_as(hospital.nurse_wang).get(file_url(hospital.nurse_wang), {"topic": "x"})

    assert response.status_code == 200
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_the_file_page_in_english(hospital, client_as):
    archived_record(hospital)
    hospital.nurse_wang.__class__.objects.filter(pk=hospital.nurse_wang.pk).update(language="en")

    page = client_as(hospital.nurse_wang).get(file_url(hospital.nurse_wang)).content.decode()

    assert "Performance file of 王芳" in page and "1 signed talk" in page


def another_archived_talk(hospital: Hospital, start: datetime) -> Record:
    """A signed talk of 王芳 and 周敏 at `start`, signed forty minutes later."""
    talk = booked_talk(hospital, start=start)
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    with time_machine.travel(start - timedelta(minutes=5), tick=False):
        record = records.start_record(talk, actor=zhou)
    with time_machine.travel(start + timedelta(minutes=40), tick=False):
        fill(record, "went_well", WENT_WELL, wang)
        fill(record, "to_improve", {"items": [{"event": "一次给药延误"}]}, wang)
        fill(record, "plan", PLAN, wang)
        fill(record, "manager", MANAGER, zhou)
        fill(record, "agreement", AGREEMENT, zhou)
        for actor, side in ((wang, Side.EMPLOYEE), (zhou, Side.MANAGER)):
            fill(record, "overall", {"rating": 4}, actor, side)
            block = record.blocks.get(section="overall", side=side)
            records.submit_block(record, block.pk, actor=actor, base_version=block.version)
        for person in (hospital.nurse_wang, hospital.head_nurse):
            record.refresh_from_db()
            records.confirm_record(record, actor=person.user, version=record.version)
        record.refresh_from_db()
        sign(record, hospital.nurse_wang)
        sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    return record


def file_queries(client: Client, path: str) -> int:
    client.get(path)  # warm-up: the first request may fill per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def test_the_file_page_runs_as_many_queries_for_one_talk_as_for_thirty(hospital, client_as):
    archived_record(hospital)
    client = client_as(hospital.hr_partner)
    path = file_url(hospital.nurse_wang)
    one = file_queries(client, path)

    # One signed talk a day after the first: each signing's password check is counted within
    # the sign-in limits, and a day apart their windows have closed.
    for day in range(1, 30):
        another_archived_talk(hospital, TALK_AT + timedelta(days=day))
    assert Talk.objects.filter(employee=hospital.nurse_wang).count() == 30

    with time_machine.travel(TALK_AT + timedelta(days=31), tick=False):
        client = client_as(hospital.hr_partner)  # a month later: a new sign-in
        thirty = file_queries(client, path)
        assert len(client.get(path).context["rows"]) == 25  # a page
    assert thirty == one, f"{one} queries for one signed talk, {thirty} for thirty"
