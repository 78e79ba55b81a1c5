"""`manage.py verify_audit` finds every change made to the audit table behind the ORM's back."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import QuerySet

from miantan.audit import keys
from miantan.audit.hashing import HASHED_FIELDS, event_fields, event_hash
from miantan.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from miantan.audit.services import record
from miantan.core.chain import GENESIS, KeyRing, canonical

COLUMNS = (
    "seq, at, organisation_id, actor_id, actor_label, action, outcome, object_type, object_id,"
    " subject_id, ip, request_id, channel, data, prev_hash, hash"
)


# The five events are the chain of organisation 1.
ORGANISATION = 1


@pytest.fixture
def five_events(db) -> None:
    for number in range(1, 6):
        record(
            f"tests.event{number}",
            actor=None,
            subject_id=number,
            organisation_id=ORGANISATION,
            object_type="tests.thing",
            object_id=number,
            data={"n": number},
        )


def verify(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def verify_failing(*args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def sql(statement: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def behind_the_back(model: type[Any] = AuditEvent) -> QuerySet[Any]:
    """A plain queryset: what someone with database access can do that the app refuses."""
    return QuerySet(model=model)


def head() -> QuerySet[Any]:
    """The chain head row of the five events, as someone with database access reaches it."""
    return behind_the_back(AuditChainHead).filter(chain=ORGANISATION)


def event(seq: int) -> AuditEvent:
    return AuditEvent.objects.get(seq=seq)


def checkpoint_file(tmp_path: Path) -> Path:
    """`audit_checkpoint` run now, its printed line kept in a file outside the database."""
    out = StringIO()
    call_command("audit_checkpoint", stdout=out, stderr=StringIO())
    path = tmp_path / "kept-elsewhere.jsonl"
    path.write_text(out.getvalue())
    return path


def rechain_from(seq: int, ring: KeyRing, **changes: Any) -> None:
    """Rewrite event `seq` and re-sign it and every event after it, as a holder of `ring`."""
    previous = event(seq - 1).hash if seq > 1 else GENESIS
    for row in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        for name, value in (changes if row.seq == seq else {}).items():
            setattr(row, name, value)
        row.prev_hash, row.key_id = previous, ring.current_id
        row.hash = event_hash(ring, row)
        behind_the_back().filter(pk=row.pk).update(
            **{name: getattr(row, name) for name in (*changes, "prev_hash", "key_id", "hash")}
        )
        previous = row.hash
    head().update(hash=previous)


# --- an intact trail ----------------------------------------------------------------------------


def test_verify_audit_passes_on_an_intact_chain(five_events):
    out, err = verify()

    assert "intact: 5 events" in out
    assert err == ""


def test_verify_audit_passes_on_an_empty_trail(db):
    out, _err = verify()

    assert "intact: 0 events" in out


def test_events_are_signed_with_the_current_key(five_events):
    first = event(1)

    assert first.key_id == keys.ring().current_id == keys.DERIVED_ID
    assert first.hash == event_hash(keys.ring(), first)
    # Without the key the hash cannot be made: the unkeyed SHA-256 of the same contents differs.
    unkeyed = hashlib.sha256(GENESIS.encode() + b"\n" + canonical(event_fields(first)))
    assert first.hash != unkeyed.hexdigest()


def test_verify_audit_passes_against_a_checkpoint_kept_outside(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)

    out, err = verify("--checkpoints", str(kept))

    assert "intact: 5 events verified in 1 chain(s), 1 checkpoint(s) match" in out
    assert "audit:org:1: 5 events, the latest checkpoint at #5" in out
    assert err == ""


# --- edited rows --------------------------------------------------------------------------------

TAMPERED = {
    "seq": 30,
    "at": "shift",
    "organisation_id": 999,
    "actor_id": 999,
    "actor_label": "someone else",
    "action": "tests.forged",
    "outcome": "denied",
    "object_type": "people.employee",
    "object_id": "999",
    "subject_id": 999,
    "ip": "10.0.0.9",
    "request_id": "forged-request",
    "channel": "api",
    "data": {"n": 999},
}


def test_every_signed_field_is_tampered_with_in_these_tests():
    assert set(TAMPERED) == set(HASHED_FIELDS)


@pytest.mark.parametrize("field", sorted(TAMPERED))
def test_verify_audit_names_an_event_whose_field_was_edited(five_events, field):
    value = TAMPERED[field]
    if value == "shift":
        value = event(3).at + timedelta(seconds=1)
    behind_the_back().filter(seq=3).update(**{field: value})
    seq = value if field == "seq" else 3

    # A changed sequence number puts the event after the chain head: forged, not altered.
    kind = "forged" if field == "seq" else "altered"

    err = verify_failing()

    assert f"event #{seq}: {kind} (its signature does not match its contents)" in err
    assert "event #2" not in err


def test_verify_audit_names_two_events_whose_contents_were_swapped(five_events):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {COLUMNS} FROM audit_auditevent WHERE seq IN (2, 4)")  # noqa: S608
        (id_a, *row_a), (id_b, *row_b) = sorted(cursor.fetchall(), key=lambda row: row[1])
    assignments = ", ".join(f"{column.strip()} = %s" for column in COLUMNS.split(","))
    update = f"UPDATE audit_auditevent SET {assignments} WHERE id = %s"  # noqa: S608
    # seq is unique: park one row out of the way while the two trade places.
    sql("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [id_a])
    sql(update, [*row_a, id_b])
    sql(update, [*row_b, id_a])

    err = verify_failing()

    assert "event #2: reordered" in err
    assert "event #4: reordered" in err
    assert "event #3" not in err


def test_verify_audit_names_two_events_whose_details_were_swapped_in_place(five_events):
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, action, data FROM audit_auditevent WHERE seq IN (2, 4)")
        (_, action_a, data_a), (_, action_b, data_b) = sorted(cursor.fetchall())
    update = "UPDATE audit_auditevent SET action = %s, data = %s WHERE seq = %s"
    sql(update, [action_b, data_b, 2])
    sql(update, [action_a, data_a, 4])

    err = verify_failing()

    assert "event #2: altered" in err
    assert "event #4: altered" in err


def test_verify_audit_names_an_event_relinked_to_another_predecessor(five_events):
    behind_the_back().filter(seq=4).update(prev_hash=event(2).hash)

    err = verify_failing()

    assert "event #4: unlinked (does not link to the event before it)" in err


# --- removed rows -------------------------------------------------------------------------------


def test_verify_audit_names_a_deleted_event(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq = %s", [2])

    err = verify_failing()

    assert "event #3: removed (missing before it: #2)" in err


def test_verify_audit_names_several_deleted_events_as_a_range(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq IN (1, 2, 3)")

    assert "event #4: removed (missing before it: #1–#3)" in verify_failing()


def test_verify_audit_names_the_last_event_deleted(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq = %s", [5])

    assert "event #5: removed (the chain ends at #4, the chain head says #5)" in verify_failing()


def test_verify_audit_names_a_last_event_that_is_not_the_chain_head(five_events):
    head().update(hash=event(4).hash)

    err = verify_failing()

    assert "event #5: altered (the last event does not match the chain head)" in err


def test_verify_audit_names_a_missing_chain_head(five_events):
    sql("DELETE FROM audit_auditchainhead")

    assert "chain head #0: removed (the chain head row is missing)" in verify_failing()


# --- forged rows --------------------------------------------------------------------------------


def forge_event(seq: int, *, key: bytes | None = None, key_id: str = "derived") -> None:
    """Append an event the way someone with database access but without the key would: the
    old unkeyed SHA-256 link, or an HMAC with a key of their own."""
    previous = event(seq - 1)
    forged = AuditEvent(
        chain=previous.chain,
        seq=seq,
        at=previous.at + timedelta(seconds=1),
        action="people.employee.viewed",
        outcome="ok",
        subject_id=1,
        prev_hash=previous.hash,
        key_id=key_id,
    )
    if key is None:
        payload = previous.hash.encode() + b"\n" + canonical(event_fields(forged))
        forged.hash = hashlib.sha256(payload).hexdigest()
    else:
        forged.hash = event_hash(KeyRing({key_id: key}, key_id), forged)
    behind_the_back().bulk_create([forged])


def test_verify_audit_names_an_appended_forged_event(five_events):
    forge_event(6)

    err = verify_failing()

    assert "event #6: forged (written after the chain head #5)" in err
    assert "event #6: forged (its signature does not match its contents)" in err
    assert "event #5" not in err


def test_verify_audit_names_a_forged_event_even_when_the_head_was_moved_to_it(five_events):
    forge_event(6, key=b"a key of the attacker's own, 32 bytes long")
    head().update(seq=6, hash=event(6).hash)

    err = verify_failing()

    assert "event #6: altered (its signature does not match its contents)" in err


def test_verify_audit_names_an_event_signed_with_an_unknown_key(five_events):
    forge_event(6, key=b"a key of the attacker's own, 32 bytes long", key_id="k9")
    head().update(seq=6, hash=event(6).hash)

    err = verify_failing()

    assert "event #6: forged (signed with a key this installation does not hold ('k9'))" in err


def test_verify_audit_names_a_tail_rechained_without_the_key(five_events):
    rechain_from(3, KeyRing.derived("a guessed secret", "miantan.audit"), action="tests.forged")

    err = verify_failing()

    for seq in (3, 4, 5):
        assert f"event #{seq}: altered" in err


# --- checkpoints: what a key holder cannot hide ---------------------------------------------------


def test_verify_audit_names_a_tail_rechained_with_the_key(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)
    rechain_from(3, keys.ring(), action="tests.forged")
    sql("DELETE FROM audit_auditcheckpoint")

    err = verify_failing("--checkpoints", str(kept))

    assert "event #5: rechained (differs from the checkpoint of" in err
    assert f"in {kept}" in err
    assert "altered" not in err


def test_verify_audit_names_a_rechained_tail_from_the_checkpoints_in_the_database(five_events):
    call_command("audit_checkpoint", stdout=StringIO(), stderr=StringIO())
    rechain_from(4, keys.ring(), data={"n": 0})

    err = verify_failing()

    assert "event #5: rechained (differs from the checkpoint of" in err
    assert "in the database" in err


def test_verify_audit_names_a_deleted_tail(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)
    sql("DELETE FROM audit_auditevent WHERE seq IN (4, 5)")
    sql("DELETE FROM audit_auditcheckpoint")
    head().update(seq=3, hash=event(3).hash)

    err = verify_failing("--checkpoints", str(kept))

    assert "event #4: deleted tail (events #4–#5 are gone: the checkpoint of" in err
    assert f"in {kept} saw the chain at #5)" in err


def test_verify_audit_does_not_see_a_deleted_tail_without_a_checkpoint_of_it(five_events):
    sql("DELETE FROM audit_auditevent WHERE seq IN (4, 5)")
    head().update(seq=3, hash=event(3).hash)

    # The limit docs/operations.md names: nothing outside the database saw #4 and #5.
    out, _err = verify()

    assert "intact: 3 events" in out


def test_verify_audit_names_a_forged_checkpoint(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)
    line = json.loads(kept.read_text())
    kept.write_text(json.dumps({**line, "seq": 4}) + "\n")

    err = verify_failing("--checkpoints", str(kept))

    assert "checkpoint #4: forged" in err
    assert "is not signed by a key of this installation" in err


def test_verify_audit_names_a_checkpoint_of_another_chain(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)
    rechain_from(1, keys.ring(), actor_label="rewritten from the start")
    sql("DELETE FROM audit_auditcheckpoint")

    err = verify_failing("--checkpoints", str(kept))

    assert "checkpoint #5: foreign" in err


def test_verify_audit_names_an_unreadable_checkpoint_line(five_events, tmp_path):
    kept = checkpoint_file(tmp_path)
    kept.write_text(kept.read_text() + "not json\n")

    assert "checkpoint line #2: unreadable" in verify_failing("--checkpoints", str(kept))


def test_verify_audit_refuses_a_checkpoint_file_it_cannot_read(five_events, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        verify("--checkpoints", str(tmp_path / "missing.jsonl"))


def test_verify_audit_reads_the_configured_checkpoint_file(
    five_events, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("audit_checkpoint", stdout=StringIO(), stderr=StringIO())
    sql("DELETE FROM audit_auditcheckpoint")
    sql("DELETE FROM audit_auditevent WHERE seq = 5")
    head().update(seq=4, hash=event(4).hash)

    assert "event #5: deleted tail (events #5 are gone" in verify_failing()


# --- key rotation -------------------------------------------------------------------------------

OLD_KEY = "k1:" + "a" * 43 + "="
NEW_KEY = "k2:" + "b" * 43 + "="


def test_events_signed_with_an_older_key_verify_after_a_rotation(db, settings):
    settings.MIANTAN_AUDIT_KEYS = OLD_KEY
    record("tests.before", actor=None)
    settings.MIANTAN_AUDIT_KEYS = f"{NEW_KEY},{OLD_KEY}"
    record("tests.after", actor=None)

    out, _err = verify()

    assert [event(1).key_id, event(2).key_id] == ["k1", "k2"]
    assert "intact: 2 events" in out


def test_events_signed_with_a_key_that_was_dropped_are_named(db, settings):
    settings.MIANTAN_AUDIT_KEYS = OLD_KEY
    record("tests.before", actor=None)
    settings.MIANTAN_AUDIT_KEYS = NEW_KEY

    err = verify_failing()

    assert "event #1: forged (signed with a key this installation does not hold ('k1'))" in err


def test_the_key_ring_can_come_from_a_file(db, settings, tmp_path):
    key_file = tmp_path / "audit-keys"
    key_file.write_text(f"{NEW_KEY}\n{OLD_KEY}\n")
    settings.MIANTAN_AUDIT_KEYS_FILE = str(key_file)

    assert record("tests.event", actor=None).key_id == "k2"
    assert AuditCheckpoint.objects.count() == 0
