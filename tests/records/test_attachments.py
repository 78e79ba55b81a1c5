"""Files attached to a record (C9): accepted by their content, sealed under a random name
outside the web root, opened only by the record's readers (or a colleague mentioned in the
file's section), taken back by their uploader while the record is written."""

from __future__ import annotations

import base64
import io
import os
import struct
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.crypto import DecryptionError
from miantan.core.errors import ConflictError
from miantan.records import attachments
from miantan.records.attachments import (
    CSV,
    DOCX,
    GIF,
    JPEG,
    PDF,
    PNG,
    PPTX,
    TEXT,
    WEBP,
    XLSX,
    InvalidAttachment,
    access_attachment,
    add_attachment,
    attachments_for,
    clean_name,
    open_attachment,
    remove_attachment,
    sniff,
)
from miantan.records.enums import RecordState
from miantan.records.models import Attachment, Mention, Record
from tests.personas import Hospital
from tests.records.builders import TALK_AT, started_record

pytestmark = pytest.mark.django_db

MARKER = "附件MARKER-91c2"


# --- sample files -----------------------------------------------------------------------------


def png() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def pdf(text: str = MARKER) -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n"
        + f"% {text}\n".encode()
        + b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def office(main: str, folder: str, *, extra: dict[str, bytes] | None = None) -> bytes:
    types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{folder}main.xml" ContentType="{main}"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr(f"{folder}main.xml", "<doc/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def docx() -> bytes:
    return office(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "word/",
    )


def pptx() -> bytes:
    return office(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "ppt/",
    )


def xlsx() -> bytes:
    """A workbook as Excel writes it (openpyxl)."""
    book = openpyxl.Workbook()
    book.active.append(["工号", "夜班次数"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _during_the_talk(settings, tmp_path):
    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MIANTAN_ATTACHMENT_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


# --- what is accepted -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (pdf(), "评估表.pdf", PDF),
        (png(), "截图.png", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "photo.jpg", JPEG),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a.gif", GIF),
        (b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00", "a.webp", WEBP),
        (docx(), "改进计划.docx", DOCX),
        (xlsx(), "夜班.xlsx", XLSX),
        (pptx(), "汇报.pptx", PPTX),
        ("夜班交接记录：无差错\n".encode(), "记录.txt", TEXT),
        ("工号,次数\nH0013,6\n".encode(), "夜班.csv", CSV),
        ("\ufeff带BOM的文本".encode(), "bom.txt", TEXT),
        ("分数 < 80 的要复盘".encode(), "note.txt", TEXT),
    ],
)
def test_the_content_decides_what_a_file_is(data, name, kind):
    assert sniff(data, name) == kind


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<!DOCTYPE html><html><body>hi</body></html>", "report.pdf"),
        (b"<html><script>alert(1)</script></html>", "a.txt"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "chart.png"),
        (b'<?xml version="1.0"?><svg/>', "chart.svg"),
        ("说明\n<script>alert(1)</script>".encode(), "readme.txt"),
        (b"#!/bin/sh\nrm -rf /\n", "run.txt"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.pdf"),
        (b"text with a \x00 byte", "a.txt"),
        ("latin-1 caf\xe9".encode("latin-1"), "a.txt"),
        (b"PK\x03\x04 not really a zip", "a.docx"),
        (office("application/xml", "docs/"), "a.docx"),
        (
            office(
                "application/vnd.ms-word.document.macroEnabled.main+xml",
                "word/",
            ),
            "a.docm",
        ),
        (
            office(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                "word/",
                extra={"word/vbaProject.bin": b"\x00macro"},
            ),
            "a.docx",
        ),
        (
            office(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
                "xl/",
            ),
            "a.docx",
        ),
    ],
)
def test_everything_else_is_refused_whatever_its_name(data, name):
    assert sniff(data, name) is None


@pytest.mark.parametrize(
    ("name", "kind", "cleaned"),
    [
        ("评估表.pdf", PDF, "评估表.pdf"),
        ("SCAN.PDF", PDF, "SCAN.PDF"),
        ("../../etc/passwd", TEXT, "passwd.txt"),
        ("C:\\Users\\王芳\\报告.docx", DOCX, "报告.docx"),
        ("page.html", TEXT, "page.html.txt"),
        ("invoice.pdf.exe", PDF, "invoice.pdf.exe.pdf"),
        ('a"b<c>\x07d.png', PNG, "abcd.png"),
        ("", PNG, "attachment.png"),
        ("...", CSV, "attachment.csv"),
    ],
)
def test_a_file_name_keeps_no_folder_and_gets_an_extension_that_fits(name, kind, cleaned):
    with translation.override("en"):
        assert clean_name(name, kind) == cleaned


def test_a_long_file_name_is_shortened_but_keeps_its_extension():
    name = clean_name("长" * 300 + ".pdf", PDF)

    assert len(name) == attachments.MAX_NAME
    assert name.endswith(".pdf")


# --- adding -----------------------------------------------------------------------------------


def test_an_attachment_is_sealed_under_a_random_name_outside_the_web_root(
    hospital, record, settings
):
    attachment = add_attachment(
        record, actor=hospital.nurse_wang.user, name=f"{MARKER}.pdf", data=pdf()
    )

    (stored,) = stored_files(settings)
    assert stored == Path(settings.MIANTAN_ATTACHMENT_ROOT).resolve() / attachment.path
    assert "MARKER" not in str(stored) and "pdf" not in stored.name
    content = stored.read_bytes()
    assert content.startswith(b"mt1:")
    assert MARKER.encode() not in content and b"%PDF" not in content
    assert stored.stat().st_mode & 0o777 == 0o600
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM records_attachment WHERE id = %s", [attachment.pk])
        (raw_name,) = cursor.fetchone()
    assert raw_name.startswith("mt1:") and "MARKER" not in raw_name
    assert (attachment.content_type, attachment.size) == (PDF, len(pdf()))


def test_an_attachment_opens_for_the_people_who_see_the_record(hospital, record):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="表.pdf", data=pdf())

    for reader in (hospital.nurse_wang, hospital.head_nurse, hospital.hr_partner, hospital.admin):
        download = open_attachment(reader.user, record, attachment.pk)
        assert (download.name, download.content_type, download.content) == ("表.pdf", PDF, pdf())
    viewed = AuditEvent.objects.filter(action="records.attachment.viewed", outcome="ok")
    assert viewed.count() == 4
    assert {event.subject_id for event in viewed} == {hospital.nurse_wang.pk}


@pytest.mark.parametrize("stranger", ["zhao", "doctor_li", "executive"])
def test_an_attachment_is_not_found_for_anyone_else(hospital, record, stranger):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="表.pdf", data=pdf())

    with pytest.raises(Http404):
        open_attachment(getattr(hospital, stranger).user, record, attachment.pk)
    assert attachments_for(getattr(hospital, stranger).user, record) == []
    assert AuditEvent.objects.filter(action="records.attachment.viewed", outcome="denied").exists()


def test_a_mentioned_colleague_opens_the_files_of_their_section_only(hospital, record):
    wang = hospital.nurse_wang.user
    in_section = add_attachment(
        record, actor=wang, name="项目.pdf", data=pdf(), section="went_well"
    )
    elsewhere = add_attachment(record, actor=wang, name="计划.pdf", data=pdf(), section="plan")
    whole = add_attachment(record, actor=wang, name="总表.png", data=png())
    Mention.objects.create(
        record=record, section="went_well", employee=hospital.zhao, mentioned_by=hospital.nurse_wang
    )
    zhao = hospital.zhao.user

    assert [view.pk for view in attachments_for(zhao, record)] == [in_section.pk]
    assert open_attachment(zhao, record, in_section.pk).content == pdf()
    for hidden in (elsewhere, whole):
        with pytest.raises(Http404):
            open_attachment(zhao, record, hidden.pk)


def test_the_list_names_each_file_its_section_and_whether_it_can_be_removed(hospital, record):
    add_attachment(
        record, actor=hospital.nurse_wang.user, name="项目.pdf", data=pdf(), section="went_well"
    )

    (mine,) = attachments_for(hospital.nurse_wang.user, record)
    (theirs,) = attachments_for(hospital.head_nurse.user, record)

    assert (mine.name, mine.section, mine.removable) == ("项目.pdf", "went_well", True)
    assert mine.section_title
    assert theirs.removable is False


@pytest.mark.parametrize("uploader", ["nurse_wang", "head_nurse", "hr_partner"])
def test_the_two_people_and_hr_attach_files(hospital, record, uploader):
    attachment = add_attachment(
        record, actor=getattr(hospital, uploader).user, name="a.png", data=png()
    )

    assert attachment.uploaded_by == getattr(hospital, uploader)
    event = AuditEvent.objects.get(action="records.attachment.added")
    assert event.data == {"section": "", "content_type": PNG, "size": len(png())}


@pytest.mark.parametrize("uploader", ["admin", "zhao", "doctor_li"])
def test_administrators_and_strangers_attach_nothing(hospital, record, uploader, settings):
    with pytest.raises(PermissionDenied):
        add_attachment(record, actor=getattr(hospital, uploader).user, name="a.png", data=png())

    assert not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_a_file_too_large_or_empty_is_refused(hospital, record, settings):
    settings.MIANTAN_ATTACHMENT_MAX_BYTES = 1024
    wang = hospital.nurse_wang.user

    with pytest.raises(InvalidAttachment):
        add_attachment(record, actor=wang, name="big.txt", data=b"a" * 1025)
    with pytest.raises(InvalidAttachment):
        add_attachment(record, actor=wang, name="empty.txt", data=b"")
    add_attachment(record, actor=wang, name="ok.txt", data=b"a" * 1024)

    assert Attachment.objects.count() == 1
    assert len(stored_files(settings)) == 1


def test_a_refused_kind_stores_nothing(hospital, record, settings):
    with pytest.raises(InvalidAttachment) as refused:
        add_attachment(
            record,
            actor=hospital.nurse_wang.user,
            name="report.pdf",
            data=b"<html><script>alert(1)</script></html>",
        )

    assert "file" in refused.value.errors
    assert not Attachment.objects.exists()
    assert stored_files(settings) == []


def test_a_section_that_is_not_in_the_record_is_refused(hospital, record):
    with pytest.raises(InvalidAttachment):
        add_attachment(
            record, actor=hospital.nurse_wang.user, name="a.png", data=png(), section="nope"
        )


def test_a_failed_save_leaves_no_file_behind(hospital, record, settings, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(attachments, "_audit", fail)

    with pytest.raises(RuntimeError):
        add_attachment(record, actor=hospital.nurse_wang.user, name="a.png", data=png())

    assert not Attachment.objects.exists()
    assert stored_files(settings) == []


# --- reading what was stored ------------------------------------------------------------------


def test_a_changed_byte_of_a_stored_file_fails_loudly(hospital, record, settings):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="a.pdf", data=pdf())
    (stored,) = stored_files(settings)
    content = bytearray(stored.read_bytes())
    content[-5] ^= 0x01
    stored.write_bytes(bytes(content))

    with pytest.raises(DecryptionError):
        open_attachment(hospital.nurse_wang.user, record, attachment.pk)


def test_a_file_sealed_for_another_attachment_does_not_open(hospital, record, settings):
    wang = hospital.nurse_wang.user
    first = add_attachment(record, actor=wang, name="a.pdf", data=pdf("first"))
    second = add_attachment(record, actor=wang, name="b.pdf", data=pdf("second"))
    Attachment.objects.filter(pk=second.pk).update(path=first.path)

    with pytest.raises(DecryptionError):
        open_attachment(wang, record, second.pk)


def test_a_stored_path_outside_the_attachment_root_is_never_read(hospital, record):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="a.pdf", data=pdf())
    Attachment.objects.filter(pk=attachment.pk).update(path="../../etc/passwd")

    with pytest.raises(DecryptionError):
        open_attachment(hospital.nurse_wang.user, record, attachment.pk)


def test_an_attachment_of_another_record_is_not_found(hospital, record):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="a.pdf", data=pdf())
    talk = record.talk
    other = Record.objects.create(
        talk=type(talk).objects.create(
            organisation=talk.organisation,
            employee=hospital.doctor_li,
            counterpart=hospital.head,
            requested_by=hospital.doctor_li,
            topic="quarterly_review",
            state="in_progress",
        ),
        organisation=record.organisation,
        template_version=record.template_version,
        state=RecordState.IN_PROGRESS,
    )

    with pytest.raises(Http404):
        access_attachment(hospital.head.user, other, attachment.pk)


# --- removing ---------------------------------------------------------------------------------


def test_the_uploader_removes_a_file_and_its_sealed_content_is_deleted(
    hospital, record, settings, django_capture_on_commit_callbacks
):
    wang = hospital.nurse_wang.user
    attachment = add_attachment(record, actor=wang, name="a.pdf", data=pdf())

    with django_capture_on_commit_callbacks(execute=True):
        remove_attachment(access_attachment(wang, record, attachment.pk), actor=wang)

    assert stored_files(settings) == []
    assert attachments_for(wang, record) == []
    with pytest.raises(Http404):
        open_attachment(wang, record, attachment.pk)
    assert AuditEvent.objects.filter(action="records.attachment.removed").exists()


def test_only_the_uploader_removes_a_file(hospital, record):
    attachment = add_attachment(record, actor=hospital.nurse_wang.user, name="a.pdf", data=pdf())

    for other in (hospital.head_nurse, hospital.hr_partner, hospital.admin):
        with pytest.raises(PermissionDenied):
            remove_attachment(
                access_attachment(other.user, record, attachment.pk), actor=other.user
            )
    attachment.refresh_from_db()
    assert attachment.removed_at is None


def test_files_no_longer_change_once_the_record_is_confirmed(hospital, record):
    wang = hospital.nurse_wang.user
    attachment = add_attachment(record, actor=wang, name="a.pdf", data=pdf())
    Record.objects.filter(pk=record.pk).update(state=RecordState.CONFIRMED)
    record.refresh_from_db()

    with pytest.raises(ConflictError):
        add_attachment(record, actor=wang, name="b.pdf", data=pdf())
    with pytest.raises(ConflictError):
        remove_attachment(access_attachment(wang, record, attachment.pk), actor=wang)
    assert open_attachment(wang, record, attachment.pk).content == pdf()


def test_files_are_written_whole_or_not_at_all(hospital, record, settings):
    add_attachment(record, actor=hospital.nurse_wang.user, name="a.png", data=png())

    root = Path(settings.MIANTAN_ATTACHMENT_ROOT)
    assert not [path for path in root.rglob("*.part")]


def test_after_key_rotation_and_removal_of_the_old_key_notes_and_files_still_open(
    hospital, record, settings, django_capture_on_commit_callbacks
):
    from miantan.records.notes import add_note, notes_for

    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    add_note(record, actor=zhou, body="只给自己")
    kept = add_attachment(record, actor=wang, name="a.pdf", data=pdf())
    gone = add_attachment(record, actor=wang, name="b.png", data=png())
    with django_capture_on_commit_callbacks(execute=True):
        remove_attachment(access_attachment(wang, record, gone.pk), actor=wang)
    old = settings.MIANTAN_DATA_KEYS
    new = "k2:" + base64.b64encode(os.urandom(32)).decode()
    settings.MIANTAN_DATA_KEYS = f"{new},{old}"
    out, err = io.StringIO(), io.StringIO()

    call_command("rotate_keys", stdout=out, stderr=err)
    settings.MIANTAN_DATA_KEYS = new

    assert "missing" not in (out.getvalue() + err.getvalue()).lower()
    assert [view.text for view in notes_for(zhou, record)] == ["只给自己"]
    assert open_attachment(wang, record, kept.pk).content == pdf()
    (stored,) = stored_files(settings)
    assert stored.read_bytes().startswith(b"mt1:k2:")
