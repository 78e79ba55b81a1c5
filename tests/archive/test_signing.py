"""Signing a confirmed record (PRODUCT.md D1–D3): nurse 王芳 and head nurse 周敏 sign the
record of their talk after re-entering their passwords; the record is archived, chained and
locked. 王芳 may sign with a disagreement, which opens an appeal for HR partner 孙丽 to resolve."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction

from miantan.archive import services
from miantan.archive.models import Appeal, AppealOutcome, ArchiveEntry, ArchiveHead, Signature
from miantan.archive.snapshots import digest, evidence_bytes
from miantan.core import signing
from miantan.core.chain import GENESIS
from miantan.core.errors import ConflictError, DomainError
from miantan.interviews.enums import TalkState
from miantan.records import services as records
from miantan.records.enums import RecordState
from miantan.records.models import Block, Record
from tests.factories import PASSWORD
from tests.records.builders import TALK_AT, block_of
from tests.records.test_record_services import filled_record

pytestmark = pytest.mark.django_db

# A 1×1 PNG: a drawn signature as the page sends it.
DOT = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def confirmed_record(hospital) -> Record:
    record = filled_record(hospital)
    for person in (hospital.nurse_wang, hospital.head_nurse):
        record.refresh_from_db()
        records.confirm_record(record, actor=person.user, version=record.version)
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED
    return record


def sign(record: Record, person, **options) -> Signature:
    options.setdefault("password", PASSWORD)
    return services.sign_record(
        record, actor=person.user, ip="10.1.2.3", user_agent="phone", **options
    )


def test_both_sign_and_the_record_is_archived_chained_and_locked(hospital):
    record = confirmed_record(hospital)
    first = sign(record, hospital.nurse_wang, handwriting=DOT)
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED  # one signature is not enough
    second = sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    assert record.talk.state == TalkState.ARCHIVED
    # The evidence: one snapshot hash for both, signed by the deployment's key.
    assert first.snapshot_sha256 == second.snapshot_sha256
    snapshot = record.snapshots.get(version=record.version)
    assert digest(snapshot.content) == snapshot.sha256 == first.snapshot_sha256
    assert "王芳" in snapshot.content
    ring = signing.ring()
    for signature in (first, second):
        assert ring.verifies(
            signature.key_id, evidence_bytes(signature), signature.server_signature
        )
        assert signature.ip == "10.1.2.3" and signature.method == "password"
    assert first.handwriting_sha256 and base64.b64decode(first.handwriting).startswith(b"\x89PNG")
    entry = ArchiveEntry.objects.get(record=record)
    assert entry.seq == 1 and entry.prev_hash == GENESIS
    assert entry.signatures == {
        "employee": first.server_signature,
        "manager": second.server_signature,
    }
    head = ArchiveHead.objects.get(organisation_id=record.organisation_id)
    assert (head.seq, head.hash) == (1, entry.hash)
    # No way back through the services.
    block = block_of(record, "agreement")
    with pytest.raises(DomainError):
        records.save_block(
            record,
            block.pk,
            actor=hospital.head_nurse.user,
            values={"agreements": "改一下"},
            base_version=block.version,
        )
    with pytest.raises(ConflictError):
        sign(record, hospital.nurse_wang)


def test_signing_needs_the_password_at_that_moment(hospital):
    record = confirmed_record(hospital)
    with pytest.raises(services.ReauthenticationFailed):
        sign(record, hospital.nurse_wang, password="")
    with pytest.raises(services.ReauthenticationFailed):
        sign(record, hospital.nurse_wang, password="not-the-password")
    assert not Signature.objects.exists()


def test_only_the_two_people_sign_and_only_a_confirmed_record(hospital):
    record = confirmed_record(hospital)
    for outsider in (hospital.hr_partner, hospital.zhao):
        with pytest.raises(PermissionDenied):
            sign(record, outsider)
    sign(record, hospital.nurse_wang)
    with pytest.raises(ConflictError):
        sign(record, hospital.nurse_wang)  # twice
    assert Signature.objects.filter(side="employee").count() == 1


def test_the_drawn_signature_must_be_a_png(hospital):
    record = confirmed_record(hospital)
    with pytest.raises(DomainError):
        sign(record, hospital.nurse_wang, handwriting="data:image/svg+xml;base64,PHN2Zz4=")
    with pytest.raises(DomainError):
        sign(record, hospital.nurse_wang, handwriting="not base64 at all!")
    assert not Signature.objects.exists()


def test_disagreeing_opens_an_appeal_and_amending_sends_it_back_to_both(hospital):
    record = confirmed_record(hospital)
    with pytest.raises(DomainError):
        sign(record, hospital.nurse_wang, dissent=True, reason="")
    sign(record, hospital.nurse_wang, dissent=True, reason="第三项不是我的责任")
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.CONFIRMED  # an open appeal holds the archive back
    appeal = Appeal.objects.get(record=record)
    with pytest.raises(PermissionDenied):
        services.resolve_appeal(
            appeal, actor=hospital.head_nurse.user, outcome="upheld", resolution="维持"
        )
    services.resolve_appeal(
        appeal,
        actor=hospital.hr_partner.user,
        outcome=AppealOutcome.AMENDED,
        resolution="第三项由护士长修改后双方重新签署",
    )
    record.refresh_from_db()
    assert record.state == RecordState.IN_PROGRESS
    assert record.talk.state == TalkState.IN_PROGRESS
    block = block_of(record, "agreement")
    records.save_block(
        record,
        block.pk,
        actor=hospital.head_nurse.user,
        values={"agreements": "第三项已删除"},
        base_version=block.version,
    )
    for person in (hospital.nurse_wang, hospital.head_nurse):
        record.refresh_from_db()
        records.confirm_record(record, actor=person.user, version=record.version)
    record.refresh_from_db()
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    # The whole thread stays: both versions' signatures, the appeal and its decision.
    assert Signature.objects.filter(record=record).count() == 4
    appeal.refresh_from_db()
    assert appeal.outcome == AppealOutcome.AMENDED and appeal.resolved_by == hospital.hr_partner


def test_an_upheld_appeal_archives_the_record_as_signed(hospital):
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang, dissent=True, reason="评分偏低")
    sign(record, hospital.head_nurse)
    appeal = Appeal.objects.get(record=record)
    services.resolve_appeal(
        appeal,
        actor=hospital.hr_partner.user,
        outcome=AppealOutcome.UPHELD,
        resolution="维持原评分",
    )
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    with pytest.raises(ConflictError):
        services.resolve_appeal(
            appeal, actor=hospital.hr_partner.user, outcome="withdrawn", resolution="再次"
        )


def test_the_database_refuses_to_change_an_archived_record(hospital):
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    block = block_of(record, "agreement")
    with pytest.raises(DatabaseError), transaction.atomic():
        Record.objects.filter(pk=record.pk).update(version=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        Block.objects.filter(pk=block.pk).update(version=99)
    with pytest.raises(DatabaseError), transaction.atomic():
        Signature.objects.filter(record=record).update(ip="10.9.9.9")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE records_record SET version = 7 WHERE id = %s", [record.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM archive_archiveentry WHERE record_id = %s", [record.pk])


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the test database of SQLite is in memory, shared with table locks: no real race",
)
@pytest.mark.django_db(transaction=True)
def test_two_signing_requests_at_once_leave_one_signature(hospital):
    record = confirmed_record(hospital)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            sign(Record.objects.get(pk=record.pk), hospital.nurse_wang)
            outcomes.append("signed")
        except ConflictError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "signed"]
    assert Signature.objects.filter(record=record, side="employee").count() == 1
