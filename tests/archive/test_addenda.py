"""Addenda (PRODUCT.md D3): an archived record never changes; a later change is an addendum,
written and signed by one of the talk's two people, signed by the other, and archived in the
chain as an entry of its own, linked to the original by the archived snapshot's hash."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction

from miantan.archive import exports, pdf, services, verification
from miantan.archive.models import Addendum, AddendumState, ArchiveEntry, ArchiveHead, Signature
from miantan.archive.snapshots import decode_addendum, digest
from miantan.archive.verification import verify_all
from miantan.core import rowlocks
from miantan.core.errors import ConflictError, DomainError
from miantan.notifications.models import Notification
from miantan.records.enums import RecordState
from miantan.records.models import Record
from tests.archive.test_signing import DOT, confirmed_record, sign
from tests.factories import PASSWORD
from tests.records.builders import TALK_AT

pytestmark = pytest.mark.django_db

TEXT = "补充：培训时间改为四月第二周，由护士长安排。"


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


@pytest.fixture
def archived(hospital) -> Record:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    return record


def add(record: Record, person, text: str = TEXT, **options) -> Addendum:
    options.setdefault("password", PASSWORD)
    return services.add_addendum(
        record, actor=person.user, text=text, ip="10.1.2.3", user_agent="phone", **options
    )


def countersign(addendum: Addendum, person, **options) -> Signature:
    options.setdefault("password", PASSWORD)
    return services.sign_addendum(
        addendum, actor=person.user, ip="10.1.2.4", user_agent="tablet", **options
    )


def test_an_addendum_signed_by_both_is_chained_after_its_record(hospital, archived):
    record_entry = ArchiveEntry.objects.get(record=archived, addendum__isnull=True)

    addendum = add(archived, hospital.head_nurse, handwriting=DOT)
    assert addendum.state == AddendumState.AWAITING
    assert [s.side for s in addendum.signatures.all()] == ["manager"]
    other = Notification.objects.filter(recipient=hospital.nurse_wang, kind="archive.addendum")
    assert other.exists()

    countersign(addendum, hospital.nurse_wang)
    addendum.refresh_from_db()
    assert addendum.state == AddendumState.ARCHIVED
    entry = ArchiveEntry.objects.get(addendum=addendum)
    assert entry.seq == record_entry.seq + 1 and entry.prev_hash == record_entry.hash
    assert entry.snapshot_sha256 == addendum.sha256 == digest(addendum.content)
    assert ArchiveHead.objects.get(organisation=archived.organisation).hash == entry.hash
    # The link to the original is inside what both signed.
    signed = decode_addendum(addendum.content)
    assert signed["amends"]["snapshot_sha256"] == record_entry.snapshot_sha256
    assert signed["text"] == TEXT
    # The record itself did not change, and the archive verifies.
    archived.refresh_from_db()
    assert (
        archived.state == RecordState.ARCHIVED and archived.version == record_entry.record_version
    )
    assert list(verify_all()) == []


def test_an_addendum_needs_the_password_and_text(hospital, archived):
    with pytest.raises(services.ReauthenticationFailed):
        add(archived, hospital.nurse_wang, password="wrong password")
    with pytest.raises(DomainError):
        add(archived, hospital.nurse_wang, text="   ")
    assert not Addendum.objects.exists()


def test_only_the_two_people_add_and_sign_and_each_once(hospital, archived):
    with pytest.raises(PermissionDenied):
        add(archived, hospital.hr_partner)
    addendum = add(archived, hospital.nurse_wang)
    with pytest.raises(ConflictError):
        countersign(addendum, hospital.nurse_wang)  # its author signed it already
    with pytest.raises(PermissionDenied):
        countersign(addendum, hospital.hr_partner)
    with pytest.raises(ConflictError):
        add(archived, hospital.head_nurse)  # one waits for its second signature
    countersign(addendum, hospital.head_nurse)
    with pytest.raises(ConflictError):
        countersign(addendum, hospital.head_nurse)
    assert Signature.objects.filter(addendum=addendum).count() == 2


def test_a_record_not_yet_archived_takes_no_addendum(hospital):
    record = confirmed_record(hospital)

    with pytest.raises(ConflictError):
        add(record, hospital.nurse_wang)
    assert not Addendum.objects.exists()


def test_addenda_are_numbered_and_the_record_keeps_its_own_signatures(hospital, archived):
    first = add(archived, hospital.nurse_wang)
    countersign(first, hospital.head_nurse)
    second = add(archived, hospital.head_nurse, text="再补充一条。")
    countersign(second, hospital.nurse_wang)

    assert [first.number, second.number] == [1, 2]
    record_signatures = Signature.objects.filter(record=archived, addendum__isnull=True)
    assert record_signatures.count() == 2
    assert ArchiveEntry.objects.filter(record=archived).count() == 3
    assert list(verify_all()) == []


# --- tampering with an addendum is found -------------------------------------------------------


def signed_addendum(hospital, record: Record) -> Addendum:
    addendum = add(record, hospital.nurse_wang)
    countersign(addendum, hospital.head_nurse)
    addendum.refresh_from_db()
    return addendum


def kinds(record: Record) -> set[str]:
    return {f.kind for f in verify_all() if f.record_id == record.pk and "addendum" in f.detail}


def test_an_edited_addendum_is_found(hospital, archived):
    addendum = signed_addendum(hospital, archived)
    with transaction.atomic(), rowlocks.lifted():
        Addendum.objects.filter(pk=addendum.pk).update(text="改过的补充")

    assert kinds(archived) == {"altered"}


def test_an_addendum_replaced_with_its_hash_is_found(hospital, archived):
    addendum = signed_addendum(hospital, archived)
    forged = addendum.content.replace("第二周", "第四周")
    with transaction.atomic(), rowlocks.lifted():
        Addendum.objects.filter(pk=addendum.pk).update(
            content=forged, sha256=digest(forged), text=addendum.text.replace("第二周", "第四周")
        )

    assert "replaced" in kinds(archived)


def test_an_archived_addendum_cannot_be_updated_directly(hospital, archived):
    addendum = signed_addendum(hospital, archived)

    with pytest.raises(DatabaseError), transaction.atomic():
        Addendum.objects.filter(pk=addendum.pk).update(text="直接改")


# --- exports ---------------------------------------------------------------------------------


def test_the_json_export_carries_the_addendum_and_verifies_without_the_database(hospital, archived):
    signed_addendum(hospital, archived)
    data = exports.json_export(archived)

    assert len(data["addenda"]) == 1
    assert verification.verify_export(json.loads(json.dumps(data))) == []
    text = json.dumps(data, ensure_ascii=False)
    assert "第二周" in text
    changed = json.loads(text.replace("第二周", "第三周"))
    assert {f.kind for f in verification.verify_export(changed)} >= {"altered"}


def test_the_pdf_shows_the_addendum(hospital, archived, tmp_path):
    signed_addendum(hospital, archived)
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf.render_pdf(exports.document_of(archived, "zh-hans")))

    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "补充" in text and "第二周" in text
