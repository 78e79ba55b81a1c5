"""Signed checkpoints of the audit chain's head, the key ring's checks, and keying old chains."""

from __future__ import annotations

import hashlib
import importlib
import json
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import QuerySet

from miantan.audit import keys
from miantan.audit.checks import audit_key_is_configured, audit_key_ring_is_valid
from miantan.audit.hashing import GLOBAL_CHAIN, event_fields
from miantan.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from miantan.audit.services import (
    as_signed,
    batched,
    export_checkpoint_line,
    record,
    write_checkpoint,
)
from miantan.audit.verification import verify_chain
from miantan.core.chain import GENESIS, Checkpoint, canonical

KEY = "k1:" + "c" * 43 + "="


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed():` runs what waits for the commit, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_checkpoint_is_written_every_n_events(db, settings, tmp_path, committed):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 3
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")

    for number in range(7):
        with committed():
            record(f"tests.event{number}", actor=None)

    assert list(AuditCheckpoint.objects.values_list("seq", flat=True)) == [3, 6]
    written = lines(tmp_path / "checkpoints.jsonl")
    assert [line["seq"] for line in written] == [3, 6]
    assert written[1]["hash"] == AuditEvent.objects.get(seq=6).hash
    assert written[1]["first"] == AuditEvent.objects.get(seq=1).hash


def test_written_checkpoints_verify_with_the_key(db, settings, tmp_path, committed):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 2
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    for number in range(4):
        with committed():
            record(f"tests.event{number}", actor=None)

    stored = [as_signed(row, source="the database") for row in AuditCheckpoint.objects.all()]
    kept = [Checkpoint.from_json(line) for line in (tmp_path / "checkpoints.jsonl").open()]

    assert stored == kept
    assert all(checkpoint.verifies(keys.ring()) for checkpoint in kept)


def test_no_checkpoint_is_written_when_checkpoints_are_off(db, settings, tmp_path):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 0
    for number in range(5):
        record(f"tests.event{number}", actor=None)

    assert not AuditCheckpoint.objects.exists()


def test_a_batch_writes_its_checkpoint_for_the_head_after_the_batch(db, settings):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 3
    record("tests.before", actor=None)

    with batched():
        for number in range(4):
            record(f"tests.batch{number}", actor=None)

    assert list(AuditCheckpoint.objects.values_list("seq", "hash")) == [
        (5, AuditEvent.objects.get(seq=5).hash)
    ]
    assert list(verify_chain()) == []


def test_a_batch_within_one_interval_writes_no_checkpoint(db, settings):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 10

    with batched():
        for number in range(9):
            record(f"tests.batch{number}", actor=None)

    assert not AuditCheckpoint.objects.exists()


def test_a_rolled_back_checkpoint_is_not_written_to_the_file(db, settings, tmp_path, committed):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 1
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")

    with committed(), pytest.raises(RuntimeError), transaction.atomic():
        record("tests.rolled_back", actor=None)
        raise RuntimeError

    assert not (tmp_path / "checkpoints.jsonl").exists()
    assert not AuditCheckpoint.objects.exists()


def test_a_checkpoint_file_that_cannot_be_written_does_not_fail_the_event(
    db, settings, tmp_path, caplog, committed
):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 1
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(blocked / "checkpoints.jsonl")

    with committed():
        record("tests.event", actor=None)

    assert AuditCheckpoint.objects.count() == 1
    assert "audit checkpoint not written" in caplog.text


def test_audit_checkpoint_prints_the_signed_head_and_appends_it_to_the_file(
    db, settings, tmp_path, committed
):
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    for number in range(3):
        record(f"tests.event{number}", actor=None)
    out = StringIO()

    with committed():
        call_command("audit_checkpoint", stdout=out, stderr=StringIO())

    printed = json.loads(out.getvalue())
    assert printed["chain"] == "audit"
    assert printed["seq"] == 3
    assert printed["hash"] == AuditChainHead.objects.get().hash
    assert printed["key"] == keys.DERIVED_ID
    assert lines(tmp_path / "checkpoints.jsonl") == [printed]


def test_audit_checkpoint_twice_at_the_same_head_writes_one_checkpoint(db):
    record("tests.event", actor=None)
    first, second, err = StringIO(), StringIO(), StringIO()

    call_command("audit_checkpoint", stdout=first, stderr=StringIO())
    call_command("audit_checkpoint", stdout=second, stderr=err)

    assert AuditCheckpoint.objects.count() == 1
    assert first.getvalue() == second.getvalue()
    assert "already checkpointed" in err.getvalue()


def test_audit_checkpoint_on_an_empty_trail_writes_nothing(db):
    err = StringIO()

    call_command("audit_checkpoint", stdout=StringIO(), stderr=err)

    assert write_checkpoint() is None
    assert "empty" in err.getvalue()
    assert not AuditCheckpoint.objects.exists()


def test_audit_checkpoint_exports_every_stored_checkpoint(db, settings, tmp_path):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 2
    for number in range(5):
        record(f"tests.event{number}", actor=None)

    call_command("audit_checkpoint", "--export", str(tmp_path / "offsite.jsonl"), stderr=StringIO())

    assert [line["seq"] for line in lines(tmp_path / "offsite.jsonl")] == [2, 4]


def test_audit_checkpoint_export_refuses_a_file_it_cannot_write(db, tmp_path):
    record("tests.event", actor=None)
    write_checkpoint()
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")

    with pytest.raises(CommandError, match="cannot write"):
        call_command("audit_checkpoint", "--export", str(blocked / "x.jsonl"), stderr=StringIO())


def test_no_checkpoint_line_is_written_without_a_checkpoint_file(db, settings, tmp_path):
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = ""

    assert export_checkpoint_line("{}") is False
    assert export_checkpoint_line("{}", tmp_path / "given.jsonl") is True
    assert (tmp_path / "given.jsonl").read_text() == "{}\n"


def test_checkpoint_rows_are_append_only(db):
    record("tests.event", actor=None)
    checkpoint = write_checkpoint()

    with pytest.raises(Exception, match="cannot be deleted"):
        checkpoint.delete()
    with pytest.raises(Exception, match="cannot be updated"):
        AuditCheckpoint.objects.update(seq=9)


# --- the key ring's system checks ---------------------------------------------------------------


def test_deploy_check_refuses_a_missing_audit_key(settings):
    settings.MIANTAN_AUDIT_KEYS = ""

    assert [message.id for message in audit_key_is_configured()] == ["audit.E001"]


def test_deploy_check_accepts_a_configured_audit_key(settings):
    settings.MIANTAN_AUDIT_KEYS = KEY

    assert audit_key_is_configured() == []
    assert audit_key_ring_is_valid() == []


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("k1", "expected id:base64-key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + "c" * 21, "not valid base64"),
        ("k1:c2hvcnQ=", "5 bytes, at least 32"),
        (f"{KEY},{KEY}", "used twice"),
        ("a very long key id:" + "c" * 43 + "=", "expected id:base64-key"),
    ],
)
def test_system_check_names_a_malformed_key_ring(settings, spec, says):
    settings.MIANTAN_AUDIT_KEYS = spec

    messages = audit_key_ring_is_valid()

    assert [message.id for message in messages] == ["audit.E002"]
    assert says in messages[0].msg
    assert audit_key_is_configured() == []
    with pytest.raises(ImproperlyConfigured, match=says):
        keys.ring()


def test_system_check_names_an_unreadable_key_file(settings, tmp_path):
    settings.MIANTAN_AUDIT_KEYS_FILE = str(tmp_path / "missing")

    messages = audit_key_ring_is_valid()

    assert [message.id for message in messages] == ["audit.E002"]
    assert "MIANTAN_AUDIT_KEYS_FILE" in messages[0].msg


# --- keying a chain written before keys -------------------------------------------------------


KEYING = ("audit", "0002_keyed_chain_and_checkpoints")


def sign_existing_chain() -> None:
    """The keying migration's data step, on the models as they are at that migration."""
    migration = importlib.import_module(f"miantan.audit.migrations.{KEYING[1]}")
    state = MigrationExecutor(connection).loader.project_state(KEYING)
    migration.sign_existing_chain(state.apps, None)


def unkeyed_chain(count: int) -> None:
    """Events as the unkeyed SHA-256 chain wrote them before the key came."""
    for number in range(count):
        record(f"tests.old{number}", actor=None)
    previous = GENESIS
    for row in AuditEvent.objects.order_by("seq"):
        row.prev_hash, row.key_id = previous, ""
        row.hash = hashlib.sha256(previous.encode() + b"\n" + canonical(event_fields(row)))
        row.hash = row.hash.hexdigest()
        QuerySet(AuditEvent).filter(pk=row.pk).update(
            prev_hash=row.prev_hash, key_id="", hash=row.hash
        )
        previous = row.hash
    QuerySet(AuditChainHead).filter(chain=GLOBAL_CHAIN).update(hash=previous)


def test_keying_signs_an_intact_unkeyed_chain(db):
    unkeyed_chain(4)

    sign_existing_chain()

    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {keys.DERIVED_ID}
    assert list(verify_chain()) == []
    assert record("tests.after", actor=None).seq == 5
    assert list(verify_chain()) == []


def test_keying_leaves_a_damaged_unkeyed_chain_to_be_named(db):
    unkeyed_chain(4)
    QuerySet(AuditEvent).filter(seq=3).update(action="tests.forged")

    sign_existing_chain()

    problems = [str(problem) for problem in verify_chain()]
    assert list(AuditEvent.objects.order_by("seq").values_list("key_id", flat=True)) == [
        keys.DERIVED_ID,
        keys.DERIVED_ID,
        "",
        "",
    ]
    assert "[audit] event #3: unlinked (does not link to the event before it)" in problems
    assert any(problem.startswith("[audit] event #4: forged") for problem in problems)
