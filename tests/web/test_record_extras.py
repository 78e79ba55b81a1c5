"""Notes, files and after-talk feedback beside the record, on the pages: the forms post to their
own URLs, downloads are never shown inline, and an administrator (or a superuser) never reads
another person's private note, on the record page, at a note's URL or on the admin site."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from miantan.records import queries
from miantan.records.enums import NoteTier, RecordState
from miantan.records.feedback import give_feedback, give_requirements
from miantan.records.models import Attachment, Feedback, Mention, Note, Record
from miantan.records.notes import add_note
from miantan.web.views.record_extras import extras_context
from tests.personas import Hospital
from tests.records.builders import TALK_AT, started_record
from tests.records.test_attachments import pdf, png

pytestmark = pytest.mark.django_db

SECRET = "只给自己看MARKER-e9b4"


@pytest.fixture(autouse=True)
def _during_the_talk(settings, tmp_path):
    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def url(name: str, record: Record, *ids: int) -> str:
    return reverse(f"web:{name}", args=[record.talk_id, *ids])


def page(record: Record) -> str:
    return reverse("web:record", args=[record.talk_id])


def superuser_client() -> Client:
    client = Client()
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "x" * 12)
    )
    return client


def partial(name: str, user, record: Record) -> str:
    """One of the partials as the record page includes it, for `user`."""
    view = queries.access_record(user, record.talk_id)
    request = RequestFactory().get("/")
    request.user = user
    context = {"talk": view.talk, "record": view.record, "side": view.side, "page": view}
    context |= extras_context(user, view)
    return render_to_string(f"web/records/{name}", context, request=request)


# --- notes ----------------------------------------------------------------------------------


def test_the_author_adds_a_note_and_finds_it_beside_the_record(hospital, record, client_as):
    client = client_as(hospital.head_nurse)

    response = client.post(url("record_note_add", record), {"body": SECRET, "tier": "private"})

    assert response.status_code == 302
    assert response["Location"] == page(record) + "#notes"
    assert SECRET in client.get(page(record)).content.decode()
    note = Note.objects.get()
    assert (note.author, note.tier) == (hospital.head_nurse, NoteTier.PRIVATE)


@pytest.mark.parametrize("reader", ["nurse_wang", "hr_partner", "admin"])
def test_another_persons_private_note_is_not_on_the_record_page(
    hospital, record, client_as, reader
):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)

    response = client_as(getattr(hospital, reader)).get(page(record))

    assert response.status_code == 200
    assert "MARKER-e9b4" not in response.content.decode()


@pytest.mark.parametrize(
    "action", ["record_note_edit", "record_note_promote", "record_note_delete"]
)
@pytest.mark.parametrize("reader", ["nurse_wang", "hr_partner", "admin"])
def test_another_persons_private_note_has_no_url_for_anyone_else(
    hospital, record, client_as, action, reader
):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)

    response = client_as(getattr(hospital, reader)).post(
        url(action, record, note.pk), {"body": "改掉", "tier": "formal"}
    )

    assert response.status_code == 404
    note.refresh_from_db()
    assert note.tier == NoteTier.PRIVATE


def test_a_superuser_reads_no_note_through_the_pages(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    client = superuser_client()

    assert client.get(page(record)).status_code == 404
    assert client.post(url("record_note_edit", record, note.pk), {"body": "x"}).status_code == 404


def test_a_superuser_sees_no_note_text_on_the_admin_site(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    add_note(record, actor=hospital.nurse_wang.user, body="共享MARKER-e9b4", tier="shared")
    client = superuser_client()

    listing = client.get(reverse("admin:records_note_changelist"))
    detail = client.get(reverse("admin:records_note_change", args=[note.pk]))

    assert listing.status_code == detail.status_code == 200
    for response in (listing, detail):
        html = response.content.decode()
        assert "MARKER-e9b4" not in html
        assert "mt1:" not in html
    assert "sealed" in detail.content.decode() or "已加密" in detail.content.decode()


def test_organisation_administrators_do_not_reach_records_on_the_admin_site(
    hospital, record, client_as
):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    client = client_as(hospital.admin)

    for model in ("note", "record", "attachment", "feedback", "mention"):
        assert client.get(reverse(f"admin:records_{model}_changelist")).status_code == 403


def test_the_admin_site_changes_no_record_data(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    client = superuser_client()

    response = client.post(reverse("admin:records_note_delete", args=[note.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Note.objects.filter(pk=note.pk).exists()
    assert client.get(reverse("admin:records_note_add")).status_code == 403


def test_promoting_and_deleting_a_note_on_the_page(hospital, record, client_as):
    note = add_note(record, actor=hospital.nurse_wang.user, body="想多上白班")
    client = client_as(hospital.nurse_wang)

    client.post(url("record_note_promote", record, note.pk), {"tier": "shared"})
    note.refresh_from_db()
    assert note.tier == NoteTier.SHARED
    assert "想多上白班" in client_as(hospital.head_nurse).get(page(record)).content.decode()

    client.post(url("record_note_delete", record, note.pk))
    assert not Note.objects.exists()


def test_an_empty_note_is_refused_with_a_message(hospital, record, client_as):
    client = client_as(hospital.nurse_wang)

    response = client.post(url("record_note_add", record), {"body": "  "}, follow=True)

    assert not Note.objects.exists()
    assert "Write the note first." in response.content.decode() or "请先写" in (
        response.content.decode()
    )


def test_hr_may_not_write_notes(hospital, record, client_as):
    response = client_as(hospital.hr_partner).post(url("record_note_add", record), {"body": "x"})

    assert response.status_code == 403
    assert not Note.objects.exists()


def test_a_colleague_mentioned_in_a_section_writes_no_note(hospital, record, client_as):
    Mention.objects.create(
        record=record, section="went_well", employee=hospital.zhao, mentioned_by=hospital.nurse_wang
    )

    response = client_as(hospital.zhao).post(url("record_note_add", record), {"body": "x"})

    assert response.status_code == 404


def test_the_notes_form_shows_only_to_the_two_people(hospital, record):
    assert 'data-testid="note-form"' in partial("_notes.html", hospital.nurse_wang.user, record)
    assert 'data-testid="note-form"' not in partial("_notes.html", hospital.admin.user, record)


# --- attachments ----------------------------------------------------------------------------


def upload(client: Client, record: Record, data: bytes, name: str, section: str = ""):
    return client.post(
        url("record_attachment_add", record),
        {"file": SimpleUploadedFile(name, data), "section": section},
    )


def test_a_file_is_attached_and_downloaded_never_inline(hospital, record, client_as):
    client = client_as(hospital.nurse_wang)

    response = upload(client, record, pdf(), "夜班 评估表.pdf")

    assert response.status_code == 302
    assert response["Location"] == page(record) + "#attachments"
    attachment = Attachment.objects.get()
    download = client_as(hospital.hr_partner).get(url("record_attachment", record, attachment.pk))
    assert download.status_code == 200
    assert download.content == pdf()
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''%E5%A4%9C%E7%8F%AD%20%E8%AF%84%E4%BC%B0%E8%A1%A8.pdf"
        in (download["Content-Disposition"])
    )
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "sandbox"


def test_an_html_file_is_refused_whatever_its_name(hospital, record, client_as, settings):
    client = client_as(hospital.nurse_wang)

    response = upload(client, record, b"<html><script>alert(1)</script></html>", "report.pdf")

    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert not list(Path(settings.MIANTAN_ATTACHMENT_ROOT).rglob("*.*"))


def test_a_text_file_named_html_is_kept_as_text(hospital, record, client_as):
    client = client_as(hospital.nurse_wang)
    upload(client, record, "交接要点".encode(), "notes.html")
    attachment = Attachment.objects.get()

    download = client.get(url("record_attachment", record, attachment.pk))

    assert download["Content-Type"] == "text/plain"
    assert "notes.html.txt" in download["Content-Disposition"]


@pytest.mark.parametrize("stranger", ["zhao", "doctor_li", "head"])
def test_a_file_is_not_found_for_who_does_not_see_the_record(hospital, record, client_as, stranger):
    upload(client_as(hospital.nurse_wang), record, png(), "a.png")
    attachment = Attachment.objects.get()

    response = client_as(getattr(hospital, stranger)).get(
        url("record_attachment", record, attachment.pk)
    )

    assert response.status_code == 404


def test_a_mentioned_colleague_downloads_the_files_of_their_section(hospital, record, client_as):
    client = client_as(hospital.nurse_wang)
    upload(client, record, pdf(), "a.pdf", section="went_well")
    upload(client, record, png(), "b.png", section="plan")
    shown, hidden = Attachment.objects.order_by("pk")
    Mention.objects.create(
        record=record, section="went_well", employee=hospital.zhao, mentioned_by=hospital.nurse_wang
    )
    zhao = client_as(hospital.zhao)

    assert zhao.get(url("record_attachment", record, shown.pk)).status_code == 200
    assert zhao.get(url("record_attachment", record, hidden.pk)).status_code == 404
    html = partial("_attachments.html", hospital.zhao.user, record)
    assert "a.pdf" in html and "b.png" not in html
    assert 'data-testid="attachment-form"' not in html


def test_the_uploader_removes_a_file(hospital, record, client_as):
    client = client_as(hospital.nurse_wang)
    upload(client, record, png(), "a.png")
    attachment = Attachment.objects.get()

    assert (
        client_as(hospital.head_nurse)
        .post(url("record_attachment_remove", record, attachment.pk))
        .status_code
        == 403
    )
    response = client.post(url("record_attachment_remove", record, attachment.pk))

    assert response.status_code == 302
    assert client.get(url("record_attachment", record, attachment.pk)).status_code == 404


def test_a_file_of_another_record_is_not_found_here(hospital, record, client_as):
    upload(client_as(hospital.nurse_wang), record, png(), "a.png")
    attachment = Attachment.objects.get()

    response = client_as(hospital.nurse_wang).get(
        reverse("web:record_attachment", args=[record.talk_id + 1000, attachment.pk])
    )

    assert response.status_code == 404


def test_the_files_partial_offers_the_upload_to_who_may(hospital, record):
    html = partial("_attachments.html", hospital.head_nurse.user, record)
    assert 'data-testid="attachment-form"' in html
    assert 'enctype="multipart/form-data"' in html
    assert 'data-testid="attachment-form"' not in partial(
        "_attachments.html", hospital.admin.user, record
    )


# --- after the talk -------------------------------------------------------------------------


def test_the_employee_and_the_manager_give_their_feedback_on_the_page(hospital, record, client_as):
    response = client_as(hospital.nurse_wang).post(
        url("record_feedback", record), {"satisfaction": "5", "takeaways": "知道了改进的重点"}
    )
    assert response.status_code == 302
    assert response["Location"] == page(record) + "#feedback"
    client_as(hospital.head_nurse).post(
        url("record_feedback", record), {"requirements": "三月底前完成带教"}
    )

    feedback = Feedback.objects.get()
    assert (feedback.satisfaction, feedback.takeaways, feedback.requirements) == (
        5,
        "知道了改进的重点",
        "三月底前完成带教",
    )


def test_hr_gives_no_feedback(hospital, record, client_as):
    response = client_as(hospital.hr_partner).post(
        url("record_feedback", record), {"satisfaction": "1"}
    )

    assert response.status_code == 403
    assert not Feedback.objects.exists()


def test_the_feedback_partial_shows_each_side_its_form(hospital, record):
    employee = partial("_feedback.html", hospital.nurse_wang.user, record)
    manager = partial("_feedback.html", hospital.head_nurse.user, record)
    hr = partial("_feedback.html", hospital.hr_partner.user, record)

    assert 'data-testid="feedback-form"' in employee
    assert 'data-testid="requirements-form"' not in employee
    assert 'data-testid="requirements-form"' in manager
    assert "feedback-form" not in hr and "requirements-form" not in hr


def test_the_feedback_partial_shows_what_was_given(hospital, record):
    give_feedback(record, actor=hospital.nurse_wang.user, takeaways="交接要点", satisfaction=4)
    give_requirements(record, actor=hospital.head_nurse.user, requirements="带教两名新护士")

    html = partial("_feedback.html", hospital.hr_partner.user, record)

    assert "交接要点" in html and "带教两名新护士" in html
    assert 'data-testid="feedback-employee"' in html


def test_before_the_talk_the_feedback_partial_says_what_comes(hospital, record):
    Record.objects.filter(pk=record.pk).update(state=RecordState.PREPARING)

    html = partial("_feedback.html", hospital.nurse_wang.user, record)

    assert "feedback-form" not in html
    assert "周敏" in html


def test_the_feedback_is_listed_in_the_employees_profile(hospital, record, client_as):
    give_feedback(record, actor=hospital.nurse_wang.user, takeaways="交接要点", satisfaction=4)
    profile = reverse("web:profile", args=[hospital.nurse_wang.pk])

    shown = client_as(hospital.hr_partner).get(profile).content.decode()
    hidden = client_as(hospital.head).get(profile).content.decode()

    assert 'data-testid="after-talk-entry"' in shown and "交接要点" in shown
    assert page(record) + "#feedback" in shown
    assert 'data-testid="after-talk-entry"' not in hidden


# --- in a browser, on a phone ---------------------------------------------------------------


@pytest.mark.browser
def test_browser_notes_files_and_feedback_on_a_phone(
    live_server, hospital, browser, settings, tmp_path
):
    from playwright.sync_api import expect

    from tests.web.test_browser_directory import assert_fits_the_screen, sign_in

    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "browser-attachments"
    record = started_record(hospital)
    base = live_server.url
    width = 375
    context = browser.new_context(
        viewport={"width": width, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    phone = context.new_page()
    sign_in(phone, base, "nurse.wang")
    phone.goto(f"{base}{page(record)}")
    assert_fits_the_screen(phone, width)

    phone.fill("#note-new", "只给自己：下次想谈夜班后的休息")
    phone.click("[data-testid=add-note]")
    phone.fill("#note-new", "想多上白班")
    phone.check("input[type=radio][name=tier][value=shared]")
    phone.click("[data-testid=add-note]")
    expect(phone.locator("[data-testid=note]")).to_have_count(2)
    expect(phone.locator("[data-testid=note][data-tier=shared]")).to_contain_text("想多上白班")
    assert_fits_the_screen(phone, width)

    phone.set_input_files(
        "#attachment-file",
        files=[{"name": "夜班评估.pdf", "mimeType": "application/pdf", "buffer": pdf()}],
    )
    phone.click("[data-testid=attach]")
    expect(phone.locator("[data-testid=attachment]")).to_contain_text("夜班评估.pdf")
    assert_fits_the_screen(phone, width)

    phone.check("input[name=satisfaction][value='4']")
    phone.fill("#feedback-takeaways", "知道了交接的重点")
    phone.click("[data-testid=give-feedback]")
    expect(phone.locator("[data-testid=feedback-employee]")).to_contain_text("知道了交接的重点")
    assert_fits_the_screen(phone, width)
    context.close()

    manager = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    desktop = manager.new_page()
    sign_in(desktop, base, "headnurse.zhou")
    desktop.goto(f"{base}{page(record)}")
    expect(desktop.locator("[data-testid=note]")).to_have_count(1)
    expect(desktop.locator("[data-testid=notes]")).not_to_contain_text("夜班后的休息")
    expect(desktop.locator("[data-testid=requirements-form]")).to_be_visible()
    manager.close()
