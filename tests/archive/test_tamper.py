"""The tamper suite (PRODUCT.md D4): three archived records of the hospital, then one kind of
direct database tampering per test, done as someone with full access to the database would
(the lock triggers dropped for the transaction, `rowlocks.lifted`). `verify_archive` names the
record and what was done to it; an untouched archive verifies with 0 findings. The same for an
export file checked without the database."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction

from miantan.archive import exports, verification
from miantan.archive.models import ArchiveEntry, ArchiveHead, Signature, Snapshot
from miantan.archive.snapshots import digest
from miantan.core import rowlocks
from miantan.records import services as records
from miantan.records.enums import RecordState
from miantan.records.models import Block, BlockRevision, Record
from tests.archive.test_signing import confirmed_record, sign
from tests.records.builders import TALK_AT, block_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _after_the_talk():
    with time_machine.travel(TALK_AT + timedelta(minutes=40), tick=False):
        yield


def archived(hospital) -> Record:
    record = confirmed_record(hospital)
    sign(record, hospital.nurse_wang)
    sign(record, hospital.head_nurse)
    record.refresh_from_db()
    assert record.state == RecordState.ARCHIVED
    return record


@pytest.fixture
def archive(hospital) -> list[Record]:
    return [archived(hospital) for _ in range(3)]


def verify() -> tuple[int, list[dict]]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_archive", "--json", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def kinds_for(findings: list[dict], record: Record) -> set[str]:
    return {f["kind"] for f in findings if f["record"] == record.pk}


def tamper(sql: str, params: list) -> None:
    with transaction.atomic(), rowlocks.lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_untouched_archive_verifies_with_no_findings(archive):
    code, findings = verify()
    assert (code, findings) == (0, [])
    assert [e.seq for e in ArchiveEntry.objects.order_by("seq")] == [1, 2, 3]


def test_an_edited_field_is_found(archive):
    target = archive[1]
    block = block_of(target, "agreement")
    with transaction.atomic(), rowlocks.lifted():
        Block.objects.filter(pk=block.pk).update(values={"agreements": "改过的约定"})
    code, findings = verify()
    assert code == 1
    assert kinds_for(findings, target) == {"altered"}
    assert {f["record"] for f in findings} == {target.pk}
    assert findings[0]["talk"] == target.talk_id


def test_an_edited_signature_is_found(archive):
    target = archive[0]
    signature = Signature.objects.get(record=target, side="manager")
    tamper("UPDATE archive_signature SET ip = %s WHERE id = %s", ["10.66.66.66", signature.pk])
    code, findings = verify()
    assert code == 1
    assert kinds_for(findings, target) == {"altered"}
    assert "manager's signature" in findings[0]["detail"]


def test_a_deleted_record_is_found(archive):
    target = archive[1]
    entry = ArchiveEntry.objects.get(record=target)
    tamper("DELETE FROM archive_archiveentry WHERE id = %s", [entry.pk])
    code, findings = verify()
    assert code == 1
    assert any(f["kind"] == "removed" and "#2" in f["detail"] for f in findings)
    assert "removed" in kinds_for(findings, target)


def test_an_inserted_forged_record_is_found(archive, hospital):
    forged = confirmed_record(hospital)  # confirmed, never signed
    head = ArchiveHead.objects.get(organisation_id=forged.organisation_id)
    with transaction.atomic(), rowlocks.lifted():
        Record.objects.filter(pk=forged.pk).update(state=RecordState.ARCHIVED)
        entry = ArchiveEntry.objects.create(
            organisation_id=forged.organisation_id,
            seq=head.seq + 1,
            record=forged,
            record_version=forged.version,
            snapshot_sha256="0" * 64,
            signatures={"employee": "00", "manager": "00"},
            archived_at=ArchiveEntry.objects.get(seq=head.seq).archived_at,
            prev_hash=head.hash,
            hash="ab" * 64,
            key_id=head_key(),
        )
        ArchiveHead.objects.filter(pk=head.pk).update(seq=entry.seq, hash=entry.hash)
    code, findings = verify()
    assert code == 1
    assert "inserted" in kinds_for(findings, forged)
    assert {f["record"] for f in findings} == {forged.pk}


def head_key() -> str:
    return ArchiveEntry.objects.order_by("seq").first().key_id  # type: ignore[union-attr]


def test_reordered_records_are_found(archive):
    first, second = (ArchiveEntry.objects.get(record=r) for r in archive[:2])
    tamper("UPDATE archive_archiveentry SET seq = %s WHERE id = %s", [99, first.pk])
    tamper("UPDATE archive_archiveentry SET seq = %s WHERE id = %s", [1, second.pk])
    tamper("UPDATE archive_archiveentry SET seq = %s WHERE id = %s", [2, first.pk])
    code, findings = verify()
    assert code == 1
    reordered = {f["record"] for f in findings if f["kind"] == "reordered"}
    assert reordered & {archive[0].pk, archive[1].pk}
    assert archive[2].pk not in {f["record"] for f in findings}


def test_a_snapshot_replaced_with_its_hash_is_found(archive):
    target = archive[2]
    snapshot = Snapshot.objects.get(record=target, version=target.version)
    forged = snapshot.content.replace("王芳", "王芳芳")
    assert forged != snapshot.content
    with transaction.atomic(), rowlocks.lifted():
        Snapshot.objects.filter(pk=snapshot.pk).update(content=forged, sha256=digest(forged))
    code, findings = verify()
    assert code == 1
    assert "replaced" in kinds_for(findings, target)
    assert {f["record"] for f in findings} == {target.pk}


def test_a_record_rolled_back_to_an_earlier_version_is_found(archive):
    target = archive[0]
    block = block_of(target, "agreement")
    earlier = BlockRevision.objects.filter(block=block).order_by("version").first()
    with transaction.atomic(), rowlocks.lifted():
        Block.objects.filter(pk=block.pk).update(
            values=earlier.values if earlier else {}, version=0
        )
        Record.objects.filter(pk=target.pk).update(version=target.version - 1)
    code, findings = verify()
    assert code == 1
    assert "rolled back" in kinds_for(findings, target)
    assert {f["record"] for f in findings} == {target.pk}


def test_the_chain_heads_can_be_kept_elsewhere_and_checked_later(archive, tmp_path):
    out = StringIO()
    call_command("verify_archive", "--heads", stdout=out)
    heads = tmp_path / "heads.jsonl"
    heads.write_text(out.getvalue())
    assert json.loads(out.getvalue().splitlines()[0])["seq"] == 3
    last = ArchiveEntry.objects.get(seq=3)
    tamper("DELETE FROM archive_archiveentry WHERE id = %s", [last.pk])
    tamper(
        "UPDATE archive_archivehead SET seq = 2, hash = %s",
        [ArchiveEntry.objects.get(seq=2).hash],
    )
    errors = StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_archive", "--expect-heads", str(heads), stdout=errors, stderr=errors)
    assert "no longer reaches #3" in errors.getvalue()


def test_an_export_verifies_without_the_database_and_a_changed_byte_is_found(archive, tmp_path):
    target = archive[0]
    data = exports.json_export(target)
    assert verification.verify_export(data) == []
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    out = StringIO()
    call_command("verify_archive", "--file", str(path), stdout=out)
    assert "0 findings" in out.getvalue()
    # One character of the signed snapshot changed.
    changed = dict(data, snapshot=data["snapshot"].replace("王芳", "王方", 1))
    assert {f.kind for f in verification.verify_export(changed)} >= {"altered"}
    # A forged signature in the file, with the deployment's key pinned.
    forged = json.loads(json.dumps(data))
    forged["signatures"][0]["evidence"]["ip"] = "10.0.0.99"
    pinned = data["public_keys"]
    kinds = {f.kind for f in verification.verify_export(forged, pinned=pinned)}
    assert "altered" in kinds
    forged_path = tmp_path / "forged.json"
    forged_path.write_text(json.dumps(forged))
    with pytest.raises(SystemExit):
        call_command("verify_archive", "--file", str(forged_path), stdout=StringIO())


def test_records_confirm_and_sign_again_after_a_verify(archive, hospital):
    """Verification reads only: a new record signed afterwards joins the chain at #4."""
    assert verify()[0] == 0
    fourth = archived(hospital)
    assert ArchiveEntry.objects.get(record=fourth).seq == 4
    assert verify() == (0, [])
    assert records  # the records services stay importable beside the archive
