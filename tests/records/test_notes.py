"""Notes in three tiers (C6): private to the author alone, shared by the two people, formal for
everyone who reads the record; promoted only upwards and re-sealed; locked with the record."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.http import Http404

from miantan.audit.models import AuditEvent
from miantan.core.crypto import DecryptionError, decrypt
from miantan.core.errors import ConflictError
from miantan.records import services
from miantan.records.enums import NoteTier, RecordState, Side
from miantan.records.models import Note, Record
from miantan.records.notes import (
    InvalidNote,
    access_note,
    add_note,
    delete_note,
    edit_note,
    note_text,
    notes_for,
    promote_note,
)
from tests.personas import Hospital
from tests.records.builders import TALK_AT, scheduled_talk, started_record

pytestmark = pytest.mark.django_db

SECRET = "私密笔记MARKER-7f3a：她最近状态不好"


@pytest.fixture(autouse=True)
def _during_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=10), tick=False):
        yield


@pytest.fixture
def record(hospital: Hospital) -> Record:
    return started_record(hospital)


def texts(user, record: Record) -> list[str]:
    return [view.text for view in notes_for(user, record)]


def raw_body(note: Note) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM records_note WHERE id = %s", [note.pk])
        return cursor.fetchone()[0]


def record_of_li(hospital: Hospital) -> Record:
    """Doctor 李明's talk with his head 张伟, started at the same time."""
    talk = scheduled_talk(
        hospital,
        employee=hospital.doctor_li,
        counterpart=hospital.head,
        requested_by=hospital.doctor_li,
    )
    with time_machine.travel(TALK_AT - timedelta(minutes=5), tick=False):
        return services.start_record(talk, actor=hospital.head.user)


def superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", "x" * 12)


# --- reading by tier ------------------------------------------------------------------------


def test_a_note_is_private_unless_its_author_says_otherwise(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body="观察：交接时语速快")

    assert note.tier == NoteTier.PRIVATE
    assert texts(hospital.head_nurse.user, record) == ["观察：交接时语速快"]


@pytest.mark.parametrize(
    "reader", ["nurse_wang", "hr_partner", "hr_cardiology", "admin", "head", "zhao"]
)
def test_a_private_note_is_read_by_its_author_alone(hospital, record, reader):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)

    assert texts(getattr(hospital, reader).user, record) == []


def test_a_private_note_stays_closed_to_superusers(hospital, record):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    admin = hospital.admin.user
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])

    assert texts(admin, record) == []
    assert texts(superuser(), record) == []


def test_a_shared_note_is_read_by_the_two_people_only(hospital, record):
    add_note(record, actor=hospital.nurse_wang.user, body="我想多上白班", tier=NoteTier.SHARED)

    assert texts(hospital.nurse_wang.user, record) == ["我想多上白班"]
    assert texts(hospital.head_nurse.user, record) == ["我想多上白班"]
    for follower in (hospital.hr_partner, hospital.admin, hospital.hr_cardiology):
        assert texts(follower.user, record) == []


def test_a_formal_note_is_read_by_everyone_who_sees_the_record(hospital, record):
    add_note(record, actor=hospital.head_nurse.user, body="约定：三月底前完成带教", tier="formal")

    for reader in (hospital.nurse_wang, hospital.head_nurse, hospital.hr_partner, hospital.admin):
        assert texts(reader.user, record) == ["约定：三月底前完成带教"]
    assert texts(hospital.zhao.user, record) == []
    assert texts(hospital.doctor_li.user, record) == []


def test_each_reader_sees_their_own_private_notes_beside_the_others(hospital, record):
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    add_note(record, actor=wang, body="王的私密")
    add_note(record, actor=zhou, body="周的私密")
    add_note(record, actor=zhou, body="共享", tier=NoteTier.SHARED)

    assert texts(wang, record) == ["王的私密", "共享"]
    assert texts(zhou, record) == ["周的私密", "共享"]


def test_another_authors_private_note_does_not_exist_for_anyone_else(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)

    for reader in (hospital.nurse_wang, hospital.admin, hospital.hr_partner):
        with pytest.raises(Http404):
            access_note(reader.user, record, note.pk)
    assert access_note(hospital.head_nurse.user, record, note.pk) == note
    denied = AuditEvent.objects.filter(action="records.note.viewed", outcome="denied")
    assert denied.count() == 3


def test_a_note_of_another_record_is_not_found(hospital, record):
    other = record_of_li(hospital)
    note = add_note(other, actor=hospital.head.user, body="别处的笔记", tier=NoteTier.FORMAL)

    with pytest.raises(Http404):
        access_note(hospital.head_nurse.user, record, note.pk)


# --- sealed per author ----------------------------------------------------------------------


def test_a_private_note_is_sealed_under_a_key_of_its_author(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    stored = raw_body(note)

    assert stored.startswith("mt1:")
    assert "MARKER-7f3a" not in stored
    assert decrypt(stored, context=f"records.note.private:{hospital.head_nurse.pk}") == SECRET
    for context in (
        "records.note.body",
        f"records.note:{record.pk}",
        f"records.note.private:{hospital.nurse_wang.pk}",
        f"records.note.private:{hospital.admin.pk}",
    ):
        with pytest.raises(DecryptionError):
            decrypt(stored, context=context)


def test_promoting_reseals_the_note_for_its_new_readers(hospital, record):
    zhou = hospital.head_nurse.user
    note = add_note(record, actor=zhou, body="下次谈排班")

    promote_note(note, actor=zhou, to_tier=NoteTier.SHARED)

    stored = raw_body(note)
    assert decrypt(stored, context=f"records.note:{record.pk}") == "下次谈排班"
    with pytest.raises(DecryptionError):
        decrypt(stored, context=f"records.note.private:{hospital.head_nurse.pk}")
    assert texts(hospital.nurse_wang.user, record) == ["下次谈排班"]
    event = AuditEvent.objects.get(action="records.note.promoted")
    assert event.data == {"from": "private", "to": "shared"}
    assert event.subject_id == hospital.nurse_wang.pk


def test_a_note_is_promoted_private_shared_formal_and_never_back(hospital, record):
    zhou = hospital.head_nurse.user
    note = add_note(record, actor=zhou, body="跟进带教")
    promote_note(note, actor=zhou, to_tier=NoteTier.SHARED)
    promote_note(note, actor=zhou, to_tier=NoteTier.FORMAL)

    for lower in (NoteTier.PRIVATE, NoteTier.SHARED, NoteTier.FORMAL):
        with pytest.raises(ConflictError):
            promote_note(note, actor=zhou, to_tier=lower)
    note.refresh_from_db()
    assert note.tier == NoteTier.FORMAL
    assert note.promoted_at is not None
    assert note_text(note) == "跟进带教"


def test_a_private_note_can_go_straight_to_the_formal_record(hospital, record):
    wang = hospital.nurse_wang.user
    note = add_note(record, actor=wang, body="我同意下季度目标")

    promote_note(note, actor=wang, to_tier=NoteTier.FORMAL)

    assert texts(hospital.hr_partner.user, record) == ["我同意下季度目标"]


# --- who writes -----------------------------------------------------------------------------


def test_only_the_author_changes_promotes_or_deletes_a_note(hospital, record):
    note = add_note(record, actor=hospital.nurse_wang.user, body="共享的", tier=NoteTier.SHARED)
    zhou = hospital.head_nurse.user

    with pytest.raises(PermissionDenied):
        edit_note(note, actor=zhou, body="改掉")
    with pytest.raises(PermissionDenied):
        promote_note(note, actor=zhou, to_tier=NoteTier.FORMAL)
    with pytest.raises(PermissionDenied):
        delete_note(note, actor=zhou)
    note.refresh_from_db()
    assert (note.tier, note_text(note)) == (NoteTier.SHARED, "共享的")


@pytest.mark.parametrize("writer", ["hr_partner", "admin", "zhao", "doctor_li"])
def test_only_the_two_people_write_notes(hospital, record, writer):
    with pytest.raises(PermissionDenied):
        add_note(record, actor=getattr(hospital, writer).user, body="旁观者的笔记")

    assert not Note.objects.exists()
    assert AuditEvent.objects.filter(action="records.note.added", outcome="denied").exists()


def test_the_author_edits_and_deletes_a_note(hospital, record):
    wang = hospital.nurse_wang.user
    note = add_note(record, actor=wang, body="初稿")

    edit_note(note, actor=wang, body="改过的")
    assert texts(wang, record) == ["改过的"]

    delete_note(note, actor=wang)
    assert texts(wang, record) == []
    actions = list(
        AuditEvent.objects.filter(action__startswith="records.note.")
        .exclude(action="records.note.viewed")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["records.note.added", "records.note.edited", "records.note.deleted"]


@pytest.mark.parametrize("body", ["", "   ", "长" * 5001])
def test_an_empty_or_too_long_note_is_refused(hospital, record, body):
    with pytest.raises(InvalidNote):
        add_note(record, actor=hospital.nurse_wang.user, body=body)
    assert not Note.objects.exists()


def test_an_unknown_tier_is_refused(hospital, record):
    with pytest.raises(InvalidNote):
        add_note(record, actor=hospital.nurse_wang.user, body="x", tier="secret")


def test_notes_can_be_written_while_the_record_is_prepared(hospital):
    record = started_record(hospital)
    Record.objects.filter(pk=record.pk).update(state=RecordState.PREPARING)
    record.refresh_from_db()

    add_note(record, actor=hospital.nurse_wang.user, body="谈话前想好的问题")

    assert texts(hospital.nurse_wang.user, record) == ["谈话前想好的问题"]


def test_notes_no_longer_change_once_the_record_is_confirmed(hospital, record):
    zhou = hospital.head_nurse.user
    note = add_note(record, actor=zhou, body="约定", tier=NoteTier.FORMAL)
    Record.objects.filter(pk=record.pk).update(state=RecordState.CONFIRMED)
    record.refresh_from_db()
    note = Note.objects.get(pk=note.pk)

    with pytest.raises(ConflictError):
        add_note(record, actor=zhou, body="再加一条")
    with pytest.raises(ConflictError):
        edit_note(note, actor=zhou, body="改约定")
    with pytest.raises(ConflictError):
        delete_note(note, actor=zhou)
    assert note_text(Note.objects.get(pk=note.pk)) == "约定"
    # The formal note is still read; nobody may change it any more.
    (view,) = notes_for(zhou, record)
    assert view.text == "约定" and not view.editable and view.promotable_to == ()


def test_a_change_to_a_formal_note_withdraws_a_confirmation(hospital, record):
    Record.objects.filter(pk=record.pk).update(
        employee_confirmed_version=record.version, employee_confirmed_at=TALK_AT
    )
    record.refresh_from_db()
    assert record.confirmed_by(Side.EMPLOYEE)
    before = record.version

    add_note(record, actor=hospital.head_nurse.user, body="补充约定", tier=NoteTier.FORMAL)

    record.refresh_from_db()
    assert record.version == before + 1
    assert not record.confirmed_by(Side.EMPLOYEE)
    assert AuditEvent.objects.filter(action="records.record.withdrawn").exists()


def test_a_private_note_changes_nothing_that_is_confirmed(hospital, record):
    Record.objects.filter(pk=record.pk).update(
        employee_confirmed_version=record.version, employee_confirmed_at=TALK_AT
    )
    record.refresh_from_db()

    add_note(record, actor=hospital.head_nurse.user, body="只给自己")

    record.refresh_from_db()
    assert record.confirmed_by(Side.EMPLOYEE)


# --- the view of a note ---------------------------------------------------------------------


def test_the_reader_is_told_what_they_may_do_with_each_note(hospital, record):
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    add_note(record, actor=wang, body="私", tier=NoteTier.PRIVATE)
    add_note(record, actor=zhou, body="共", tier=NoteTier.SHARED)

    mine, theirs = notes_for(wang, record)

    assert (mine.mine, mine.editable, mine.promotable_to) == (True, True, ("shared", "formal"))
    assert (theirs.mine, theirs.editable, theirs.promotable_to) == (False, False, ())
    assert str(mine.tier_label) and mine.tier == "private"


# --- nothing leaks --------------------------------------------------------------------------


def test_reading_and_writing_notes_is_audited_without_their_text(hospital, record):
    note = add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    promote_note(note, actor=hospital.head_nurse.user, to_tier=NoteTier.SHARED)
    notes_for(hospital.nurse_wang.user, record)

    viewed = AuditEvent.objects.get(
        action="records.note.viewed", actor_id=hospital.nurse_wang.user.pk
    )
    assert viewed.subject_id == hospital.nurse_wang.pk
    assert viewed.data == {"notes": 1}
    for event in AuditEvent.objects.all():
        assert "MARKER-7f3a" not in str(event.data)


def test_an_export_of_the_records_holds_no_private_note(hospital, record):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)
    out = io.StringIO()

    call_command("dumpdata", "records.note", stdout=out)

    assert "MARKER-7f3a" not in out.getvalue()
    assert '"tier": "private"' in out.getvalue()


def test_markers_written_beside_a_record_are_nowhere_in_the_database(
    hospital, record, settings, tmp_path
):
    """A private note, a shared one, a comment with a mention, a file (its name and content)
    and the after-talk feedback, each with the marker: no column of any table holds it."""
    from miantan.records.attachments import add_attachment
    from miantan.records.feedback import give_feedback, give_requirements

    settings.MIANTAN_ATTACHMENT_ROOT = tmp_path / "attachments"
    marker = "MARKER-7f3a"
    wang, zhou = hospital.nurse_wang.user, hospital.head_nurse.user
    add_note(record, actor=zhou, body=SECRET)
    add_note(record, actor=wang, body=f"共享 {marker}", tier=NoteTier.SHARED)
    services.add_comment(record, actor=zhou, section="went_well", body=f"@赵强 {marker}")
    add_attachment(record, actor=wang, name=f"{marker}.txt", data=f"内容 {marker}".encode())
    give_feedback(record, actor=wang, takeaways=f"收获 {marker}", satisfaction=4)
    give_requirements(record, actor=zhou, requirements=f"要求 {marker}")

    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                found += [table for value in row if marker in str(value)]
    assert found == []
    files = [p.read_bytes() for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    assert files and not any(marker.encode() in content for content in files)


def test_reading_ones_own_private_notes_leaves_no_trace_in_the_employees_access_log(
    hospital, record
):
    add_note(record, actor=hospital.head_nurse.user, body=SECRET)

    assert texts(hospital.head_nurse.user, record) == [SECRET]
    assert not AuditEvent.objects.filter(action="records.note.viewed").exists()
