"""/api/v1/talks/{id}/record/notes, …/attachments and …/feedback: the same functions and rules
as the record page. Another person's private note does not exist over the API either, for an
administrator, an HR partner or the other side."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from miantan.api.v1 import api
from miantan.people.models import Employee
from miantan.records.enums import NoteTier, RecordState
from miantan.records.models import Attachment, Feedback, Mention, Note, Record
from miantan.records.notes import add_note
from tests.factories import api_token_for
from tests.personas import Hospital
from tests.records.builders import TALK_AT, started_record
from tests.records.test_attachments import pdf, png

pytestmark = pytest.mark.django_db

SECRET = "私人笔记MARKER-a11e"


@pytest.fixture(autouse=True)
def _during_the_talk(settings, tmp_path):
    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def bearer(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


def base(record: Record) -> str:
    return f"/api/v1/talks/{record.talk_id}/record"


def send(client: Client, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.generic(method, url, json.dumps(data or {}), "application/json")


# --- notes ----------------------------------------------------------------------------------


def test_notes_are_added_and_listed_by_tier(hospital, record):
    zhou, wang = bearer(hospital.head_nurse), bearer(hospital.nurse_wang)

    created = send(zhou, "POST", f"{base(record)}/notes", {"body": SECRET})
    send(zhou, "POST", f"{base(record)}/notes", {"body": "共享", "tier": "shared"})

    assert created.status_code == 201
    assert created.json()["tier"] == "private"
    assert created.json()["promotable_to"] == ["shared", "formal"]
    assert [n["text"] for n in zhou.get(f"{base(record)}/notes").json()] == [SECRET, "共享"]
    assert [n["text"] for n in wang.get(f"{base(record)}/notes").json()] == ["共享"]


@pytest.mark.parametrize("reader", ["nurse_wang", "hr_partner", "admin"])
def test_another_persons_private_note_does_not_exist_over_the_api(hospital, record, reader):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    client = bearer(getattr(hospital, reader))

    listing = client.get(f"{base(record)}/notes")
    edit = send(client, "PUT", f"{base(record)}/notes/{note.pk}", {"body": "改"})
    promote = send(client, "POST", f"{base(record)}/notes/{note.pk}/promote", {"tier": "formal"})
    delete = send(client, "POST", f"{base(record)}/notes/{note.pk}/delete")

    assert listing.status_code == 200
    assert "MARKER-a11e" not in listing.content.decode()
    assert (edit.status_code, promote.status_code, delete.status_code) == (404, 404, 404)
    note.refresh_from_db()
    assert note.tier == NoteTier.PRIVATE


def test_hr_and_administrators_read_formal_notes_but_not_shared_ones(hospital, record):
    add_note(record, actor=hospital.nurse_wang.user, body="共享", tier=NoteTier.SHARED)
    add_note(record, actor=hospital.nurse_wang.user, body="正式", tier=NoteTier.FORMAL)

    for follower in (hospital.hr_partner, hospital.admin):
        texts = [n["text"] for n in bearer(follower).get(f"{base(record)}/notes").json()]
        assert texts == ["正式"]


def test_the_author_edits_promotes_and_deletes_a_note(hospital, record):
    client = bearer(hospital.nurse_wang)
    note = send(client, "POST", f"{base(record)}/notes", {"body": "初稿"}).json()

    edited = send(client, "PUT", f"{base(record)}/notes/{note['id']}", {"body": "定稿"})
    promoted = send(
        client, "POST", f"{base(record)}/notes/{note['id']}/promote", {"tier": "shared"}
    )
    back = send(client, "POST", f"{base(record)}/notes/{note['id']}/promote", {"tier": "private"})
    deleted = send(client, "POST", f"{base(record)}/notes/{note['id']}/delete")

    assert (edited.status_code, edited.json()["text"]) == (200, "定稿")
    assert (promoted.status_code, promoted.json()["tier"]) == (200, "shared")
    assert back.status_code == 409
    assert deleted.status_code == 204
    assert not Note.objects.exists()


def test_the_other_side_may_not_change_a_shared_note(hospital, record):
    note = add_note(record, actor=hospital.nurse_wang.user, body="共享", tier=NoteTier.SHARED)

    response = send(
        bearer(hospital.head_nurse), "PUT", f"{base(record)}/notes/{note.pk}", {"body": "改"}
    )

    assert response.status_code == 403


def test_a_bad_note_answers_400_with_the_field(hospital, record):
    client = bearer(hospital.nurse_wang)

    empty = send(client, "POST", f"{base(record)}/notes", {"body": " "})
    missing = send(client, "POST", f"{base(record)}/notes", {})
    tier = send(client, "POST", f"{base(record)}/notes", {"body": "x", "tier": "secret"})

    assert empty.status_code == missing.status_code == tier.status_code == 400
    assert "body" in empty.json()["errors"] and "body" in missing.json()["errors"]
    assert "tier" in tier.json()["errors"]
    assert not Note.objects.exists()


def test_notes_of_a_confirmed_record_answer_409(hospital, record):
    Record.objects.filter(pk=record.pk).update(state=RecordState.CONFIRMED)

    response = send(bearer(hospital.nurse_wang), "POST", f"{base(record)}/notes", {"body": "x"})

    assert response.status_code == 409


def test_a_talk_without_a_record_or_out_of_sight_answers_404(hospital, record):
    assert bearer(hospital.zhao).get(f"{base(record)}/notes").status_code == 404
    assert bearer(hospital.nurse_wang).get("/api/v1/talks/987654/record/notes").status_code == 404


# --- attachments ----------------------------------------------------------------------------


def upload(client: Client, record: Record, data: bytes, name: str, **fields: str) -> Any:
    return client.post(
        f"{base(record)}/attachments", {"file": SimpleUploadedFile(name, data), **fields}
    )


def test_a_file_is_uploaded_listed_and_downloaded(hospital, record):
    client = bearer(hospital.nurse_wang)

    created = upload(client, record, pdf(), "评估表.pdf", section="went_well")

    assert created.status_code == 201
    body = created.json()
    assert (body["name"], body["content_type"], body["section"]) == (
        "评估表.pdf",
        "application/pdf",
        "went_well",
    )
    listed = bearer(hospital.hr_partner).get(f"{base(record)}/attachments").json()
    assert [item["id"] for item in listed] == [body["id"]]
    download = bearer(hospital.head_nurse).get(f"{base(record)}/attachments/{body['id']}")
    assert download.status_code == 200
    assert download.content == pdf()
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "sandbox"


def test_a_file_of_a_kind_not_accepted_answers_400(hospital, record):
    response = upload(bearer(hospital.nurse_wang), record, b"<svg onload='alert(1)'/>", "chart.png")

    assert response.status_code == 400
    assert "file" in response.json()["errors"]
    assert not Attachment.objects.exists()


def test_an_upload_without_a_file_answers_400(hospital, record):
    response = bearer(hospital.nurse_wang).post(f"{base(record)}/attachments", {"section": ""})

    assert response.status_code == 400


def test_administrators_upload_nothing(hospital, record):
    assert upload(bearer(hospital.admin), record, png(), "a.png").status_code == 403


def test_a_mentioned_colleague_lists_and_downloads_their_sections_files(hospital, record):
    client = bearer(hospital.nurse_wang)
    shown = upload(client, record, pdf(), "a.pdf", section="went_well").json()
    hidden = upload(client, record, png(), "b.png").json()
    Mention.objects.create(
        record=record, section="went_well", employee=hospital.zhao, mentioned_by=hospital.nurse_wang
    )
    zhao = bearer(hospital.zhao)

    assert [item["id"] for item in zhao.get(f"{base(record)}/attachments").json()] == [shown["id"]]
    assert zhao.get(f"{base(record)}/attachments/{shown['id']}").status_code == 200
    assert zhao.get(f"{base(record)}/attachments/{hidden['id']}").status_code == 404
    assert zhao.get(f"{base(record)}/notes").status_code == 404
    assert upload(zhao, record, png(), "c.png").status_code == 404


def test_the_uploader_removes_a_file(hospital, record):
    client = bearer(hospital.nurse_wang)
    created = upload(client, record, png(), "a.png").json()

    refused = bearer(hospital.head_nurse).post(f"{base(record)}/attachments/{created['id']}/remove")
    removed = client.post(f"{base(record)}/attachments/{created['id']}/remove")

    assert (refused.status_code, removed.status_code) == (403, 204)
    assert client.get(f"{base(record)}/attachments/{created['id']}").status_code == 404


# --- after the talk -------------------------------------------------------------------------


def test_feedback_and_requirements_over_the_api(hospital, record):
    employee, manager = bearer(hospital.nurse_wang), bearer(hospital.head_nurse)

    given = send(
        employee,
        "PUT",
        f"{base(record)}/feedback/employee",
        {"satisfaction": 4, "takeaways": "交接要点"},
    )
    required = send(
        manager, "PUT", f"{base(record)}/feedback/manager", {"requirements": "带教两名新护士"}
    )

    assert given.status_code == required.status_code == 200
    read = bearer(hospital.hr_partner).get(f"{base(record)}/feedback").json()
    assert (read["satisfaction"], read["takeaways"], read["requirements"]) == (
        4,
        "交接要点",
        "带教两名新护士",
    )
    assert read["can_give_feedback"] is False


def test_the_wrong_side_or_a_bad_rating_changes_no_feedback(hospital, record):
    wrong = send(
        bearer(hospital.head_nurse), "PUT", f"{base(record)}/feedback/employee", {"satisfaction": 5}
    )
    bad = send(
        bearer(hospital.nurse_wang), "PUT", f"{base(record)}/feedback/employee", {"satisfaction": 9}
    )

    assert (wrong.status_code, bad.status_code) == (403, 400)
    assert not Feedback.objects.exists()


# --- the document ---------------------------------------------------------------------------


def test_the_openapi_document_describes_notes_files_and_feedback():
    paths = api.get_openapi_schema()["paths"]

    assert "/api/v1/talks/{talk_id}/record/notes" in paths
    upload_body = paths["/api/v1/talks/{talk_id}/record/attachments"]["post"]["requestBody"]
    assert "multipart/form-data" in upload_body["content"]
    assert "/api/v1/talks/{talk_id}/record/feedback/employee" in paths
