"""One audit chain per organisation (and a global one): appends, batches, checkpoints and
verification per chain, concurrent writers, and the migration from the single chain."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from miantan.audit import keys
from miantan.audit.hashing import (
    GLOBAL_CHAIN,
    HASHED_FIELDS,
    chain_name,
    event_fields,
    event_hash,
    parse_chain_name,
)
from miantan.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from miantan.audit.queries import views_of_my_records
from miantan.audit.services import as_signed, batched, record, write_checkpoint
from miantan.audit.verification import verify_chain
from miantan.core.chain import GENESIS, Checkpoint, link_hash

A, B = 1, 2


def chain(number: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=number).order_by("seq"))


def append(organisation_id: int | None, count: int, label: str = "tests.event") -> None:
    for number in range(count):
        record(f"{label}{number}", actor=None, organisation_id=organisation_id, data={"n": number})


def problems() -> list[str]:
    return [str(problem) for problem in verify_chain()]


def verify_failing(*args: str) -> str:
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def behind_the_back(model: type[Any] = AuditEvent) -> QuerySet[Any]:
    """A plain queryset: what someone with database access can do that the app refuses."""
    return QuerySet(model=model)


def assert_whole(number: int, count: int) -> None:
    """The chain runs #1..#count, each event linked to the one before and stored after it,
    and its head is the last event."""
    events = chain(number)
    assert [event.seq for event in events] == list(range(1, count + 1))
    previous = GENESIS
    for event in events:
        assert event.prev_hash == previous
        previous = event.hash
    assert [event.pk for event in events] == sorted(event.pk for event in events)
    head = AuditChainHead.objects.get(chain=number)
    assert (head.seq, head.hash) == (count, previous)


# --- appending -----------------------------------------------------------------------------------


def test_each_organisation_appends_to_a_chain_of_its_own(db):
    record("tests.a1", actor=None, organisation_id=A)
    record("tests.global1", actor=None)
    record("tests.b1", actor=None, organisation_id=B)
    record("tests.a2", actor=None, organisation_id=A)
    record("tests.global2", actor=None)

    assert [(e.chain, e.seq, e.action) for e in AuditEvent.objects.order_by("pk")] == [
        (A, 1, "tests.a1"),
        (GLOBAL_CHAIN, 1, "tests.global1"),
        (B, 1, "tests.b1"),
        (A, 2, "tests.a2"),
        (GLOBAL_CHAIN, 2, "tests.global2"),
    ]
    assert_whole(A, 2)
    assert_whole(B, 1)
    assert_whole(GLOBAL_CHAIN, 2)
    assert list(AuditChainHead.objects.values_list("chain", flat=True)) == [GLOBAL_CHAIN, A, B]
    assert problems() == []


def test_an_organisations_events_sign_their_chain_and_global_ones_sign_what_they_always_did(db):
    ours = record("tests.ours", actor=None, organisation_id=A)
    everyone = record("tests.everyone", actor=None)

    assert event_fields(ours) == {
        **{name: getattr(ours, name) for name in HASHED_FIELDS},
        "chain": A,
    }
    assert event_fields(everyone) == {name: getattr(everyone, name) for name in HASHED_FIELDS}
    assert ours.hash == link_hash(keys.ring(), ours.key_id, GENESIS, event_fields(ours))


def test_chain_names_say_which_chain(db):
    assert [chain_name(GLOBAL_CHAIN), chain_name(7)] == ["audit", "audit:org:7"]
    assert [parse_chain_name(name) for name in ("audit", "audit:org:7")] == [GLOBAL_CHAIN, 7]
    for foreign in ("tests", "audit:org:", "audit:org:0", "audit:org:07", "audit:org:x", "xaudit"):
        assert parse_chain_name(foreign) is None


def test_an_event_moved_to_another_chain_is_named_in_both(db):
    append(A, 3)
    append(B, 2)
    moved = chain(A)[2]
    behind_the_back().filter(pk=moved.pk).update(chain=B)

    found = problems()

    assert "[audit:org:1] event #3: removed (the chain ends at #2, the chain head says #3)" in found
    assert "[audit:org:2] event #3: forged (written after the chain head #2)" in found
    assert "[audit:org:2] event #3: unlinked (does not link to the event before it)" in found
    assert "[audit:org:2] event #3: forged (its signature does not match its contents)" in found


def test_an_event_resigned_into_another_chain_still_breaks_both(db):
    """Even with the key, moving an event breaks the links of the chain it left and the one it
    joined: sequence numbers and predecessors belong to one chain."""
    append(A, 2)
    append(B, 2)
    moved = chain(A)[1]
    moved.chain, moved.seq, moved.prev_hash = B, 3, chain(B)[1].hash
    moved.hash = event_hash(keys.ring(), moved)
    behind_the_back().filter(pk=moved.pk).update(
        chain=B, seq=3, prev_hash=moved.prev_hash, hash=moved.hash
    )

    found = problems()

    assert "[audit:org:1] event #2: removed (the chain ends at #1, the chain head says #2)" in found
    assert "[audit:org:2] event #3: forged (written after the chain head #2)" in found


def test_the_first_event_of_a_new_chain_creates_its_head(db):
    assert not AuditChainHead.objects.exists()

    record("tests.first", actor=None, organisation_id=A)

    assert AuditChainHead.objects.get(chain=A).seq == 1


# --- batches -------------------------------------------------------------------------------------


def test_a_batch_spanning_chains_continues_each_of_them(db, settings):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 4
    append(A, 2)
    append(None, 1)

    with batched():
        for number in range(3):
            record(f"tests.batch.b{number}", actor=None, organisation_id=B)
            record(f"tests.batch.a{number}", actor=None, organisation_id=A)
        record("tests.batch.global", actor=None)

    assert_whole(A, 5)
    assert_whole(B, 3)
    assert_whole(GLOBAL_CHAIN, 2)
    # The order of recording is kept within each chain.
    assert [e.action for e in chain(A)][2:] == [f"tests.batch.a{n}" for n in range(3)]
    # Only chain A passed a multiple of 4.
    assert list(AuditCheckpoint.objects.values_list("chain", "seq")) == [(A, 5)]
    assert problems() == []


def test_a_batch_locks_the_heads_of_its_chains_in_chain_order(db):
    append(B, 1)
    append(A, 1)

    with CaptureQueriesContext(connection) as captured, batched():
        record("tests.b", actor=None, organisation_id=B)
        record("tests.global", actor=None)
        record("tests.new", actor=None, organisation_id=5)
        record("tests.a", actor=None, organisation_id=A)

    head_reads = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith("SELECT") and '"audit_auditchainhead"' in query["sql"]
    ]
    chains = [int(sql.split('"chain" = ')[1].split()[0]) for sql in head_reads]
    # The new chain 5 is read, created and read again: still after 1 and 2.
    assert chains == [GLOBAL_CHAIN, GLOBAL_CHAIN, A, B, 5, 5]
    assert [chain(number)[-1].seq for number in (GLOBAL_CHAIN, A, B, 5)] == [1, 2, 2, 1]


def test_an_empty_batch_writes_nothing(db):
    with batched():
        pass

    assert not AuditChainHead.objects.exists()
    assert not AuditEvent.objects.exists()


# --- checkpoints per chain -----------------------------------------------------------------------


def test_checkpoints_are_per_chain_and_name_it(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 2
    settings.MIANTAN_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    with django_capture_on_commit_callbacks(execute=True):
        append(A, 2)
        append(B, 3)
        append(None, 1)

    lines = [json.loads(line) for line in (tmp_path / "checkpoints.jsonl").read_text().splitlines()]
    assert [(line["chain"], line["seq"]) for line in lines] == [
        ("audit:org:1", 2),
        ("audit:org:2", 2),
    ]
    assert lines[1]["first"] == chain(B)[0].hash
    assert lines[1]["hash"] == chain(B)[1].hash
    assert list(AuditCheckpoint.objects.values_list("chain", "seq")) == [(A, 2), (B, 2)]


def test_write_checkpoint_signs_the_head_of_the_chain_it_is_given(db):
    append(A, 2)
    append(None, 1)

    checkpoint = write_checkpoint(A)

    assert (checkpoint.chain, checkpoint.seq, checkpoint.hash) == (A, 2, chain(A)[1].hash)
    signed = as_signed(checkpoint, source="the database")
    assert (signed.chain, signed.first) == ("audit:org:1", chain(A)[0].hash)
    assert signed.verifies(keys.ring())
    assert write_checkpoint(A) is None
    assert write_checkpoint(B) is None
    assert write_checkpoint().chain == GLOBAL_CHAIN


def test_audit_checkpoint_signs_every_chain_and_prints_a_line_for_each(db):
    append(B, 1)
    append(None, 2)
    append(A, 3)
    out, err = StringIO(), StringIO()

    call_command("audit_checkpoint", stdout=out, stderr=err)

    printed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["chain"], line["seq"]) for line in printed] == [
        ("audit", 2),
        ("audit:org:1", 3),
        ("audit:org:2", 1),
    ]
    assert "audit:org:1: checkpoint of #3 written" in err.getvalue()

    record("tests.later", actor=None, organisation_id=A)
    again, err = StringIO(), StringIO()
    call_command("audit_checkpoint", stdout=again, stderr=err)

    assert "audit: the head #2 is already checkpointed" in err.getvalue()
    assert "audit:org:1: checkpoint of #4 written" in err.getvalue()
    assert [json.loads(line)["seq"] for line in again.getvalue().splitlines()] == [2, 4, 1]
    assert AuditCheckpoint.objects.count() == 4


# --- verification names the chain and the sequence number ----------------------------------------


@pytest.fixture
def three_chains(db) -> None:
    append(A, 4, "tests.a")
    append(B, 3, "tests.b")
    append(None, 2, "tests.global")


def kept_checkpoints(tmp_path: Path) -> Path:
    """`audit_checkpoint` run now, its printed lines kept in a file outside the database."""
    out = StringIO()
    call_command("audit_checkpoint", stdout=out, stderr=StringIO())
    path = tmp_path / "kept-elsewhere.jsonl"
    path.write_text(out.getvalue())
    return path


def forge_after(number: int) -> None:
    """Append an event to a chain without the key, the head moved along."""
    previous = chain(number)[-1]
    forged = AuditEvent(
        chain=number,
        seq=previous.seq + 1,
        at=previous.at,
        organisation_id=number,
        action="people.employee.viewed",
        outcome="ok",
        prev_hash=previous.hash,
        key_id=keys.DERIVED_ID,
        hash="f" * 64,
    )
    behind_the_back().bulk_create([forged])


def rechain_from(number: int, seq: int, **changes: Any) -> None:
    """Rewrite event `seq` of a chain and re-sign the rest of it, as a holder of the key."""
    events = chain(number)
    previous = events[seq - 2].hash if seq > 1 else GENESIS
    for row in events[seq - 1 :]:
        for name, value in (changes if row.seq == seq else {}).items():
            setattr(row, name, value)
        row.prev_hash = previous
        row.hash = event_hash(keys.ring(), row)
        behind_the_back().filter(pk=row.pk).update(
            **{name: getattr(row, name) for name in (*changes, "prev_hash", "hash")}
        )
        previous = row.hash
    behind_the_back(AuditChainHead).filter(chain=number).update(hash=previous)


def test_verify_audit_reports_every_chain_it_verified(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    out = StringIO()

    call_command("verify_audit", "--checkpoints", str(kept), stdout=out, stderr=StringIO())

    assert "intact: 9 events verified in 3 chain(s), 3 checkpoint(s) match" in out.getvalue()
    assert "  audit: 2 events, the latest checkpoint at #2" in out.getvalue()
    assert "  audit:org:1: 4 events, the latest checkpoint at #4" in out.getvalue()
    assert "  audit:org:2: 3 events, the latest checkpoint at #3" in out.getvalue()


def test_verify_audit_says_when_a_chain_has_no_checkpoint(three_chains):
    write_checkpoint(A)
    out = StringIO()

    call_command("verify_audit", stdout=out, stderr=StringIO())

    assert "  audit:org:1: 4 events, the latest checkpoint at #4" in out.getvalue()
    assert "  audit:org:2: 3 events, no checkpoint to compare with" in out.getvalue()


def test_verify_audit_names_a_forged_event_appended_to_one_chain(three_chains):
    forge_after(B)

    err = verify_failing()

    assert "[audit:org:2] event #4: forged (written after the chain head #3)" in err
    assert "[audit:org:2] event #4: forged (its signature does not match its contents)" in err
    assert "audit:org:1" not in err
    assert "[audit]" not in err


def test_verify_audit_names_an_edited_event_by_chain_and_sequence(three_chains):
    behind_the_back().filter(chain=A, seq=2).update(action="tests.forged")

    err = verify_failing()

    assert (
        err.strip() == "[audit:org:1] event #2: altered (its signature does not match its contents)"
    )


def test_verify_audit_names_a_tail_of_one_chain_rechained_with_the_key(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    rechain_from(A, 3, action="tests.forged")
    behind_the_back(AuditCheckpoint).filter(chain=A).delete()

    err = verify_failing("--checkpoints", str(kept))

    assert "[audit:org:1] event #4: rechained (differs from the checkpoint of" in err
    assert "audit:org:2" not in err
    assert "altered" not in err


def test_verify_audit_names_a_deleted_tail_of_one_chain(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    behind_the_back().filter(chain=B, seq__gte=2).delete()
    behind_the_back(AuditCheckpoint).filter(chain=B).delete()
    first = chain(B)[0]
    behind_the_back(AuditChainHead).filter(chain=B).update(seq=1, hash=first.hash)

    err = verify_failing("--checkpoints", str(kept))

    assert "[audit:org:2] event #2: deleted tail (events #2–#3 are gone: the checkpoint of" in err
    assert "audit:org:1" not in err


def test_verify_audit_names_a_whole_chain_deleted_with_its_head(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    behind_the_back().filter(chain=B).delete()
    behind_the_back(AuditChainHead).filter(chain=B).delete()
    behind_the_back(AuditCheckpoint).filter(chain=B).delete()

    err = verify_failing("--checkpoints", str(kept))

    assert "[audit:org:2] event #1: deleted tail (events #1–#3 are gone" in err


def test_verify_audit_names_the_missing_head_of_one_chain(three_chains):
    behind_the_back(AuditChainHead).filter(chain=A).delete()

    err = verify_failing()

    assert "[audit:org:1] chain head #0: removed (the chain head row is missing)" in err
    assert "audit:org:2" not in err


def test_a_checkpoint_relabelled_as_another_chain_is_forged(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    lines = [json.loads(line) for line in kept.read_text().splitlines()]
    relabelled = {**lines[1], "chain": "audit:org:2"}
    kept.write_text(json.dumps(relabelled) + "\n")

    err = verify_failing("--checkpoints", str(kept))

    assert "[audit:org:2] checkpoint #4: forged" in err


def test_checkpoint_lines_of_other_chains_are_left_out(three_chains, tmp_path):
    kept = kept_checkpoints(tmp_path)
    other = Checkpoint.sign(
        keys.ring(), chain="records", seq=9, hash="a" * 64, first="b" * 64, at=datetime.now(UTC)
    )
    kept.write_text(kept.read_text() + other.to_json() + "\n")
    out = StringIO()

    call_command("verify_audit", "--checkpoints", str(kept), stdout=out, stderr=StringIO())

    assert "3 checkpoint(s) match" in out.getvalue()


# --- reads across chains -------------------------------------------------------------------------


def test_who_viewed_my_records_lists_the_newest_first_across_chains(hospital):
    zhao, head = hospital.zhao, hospital.head
    for number in range(3):
        record(
            "people.employee.viewed",
            actor=head.user,
            subject_id=zhao.pk,
            data={"n": number, "where": "global"},
        )
    record(
        "people.employee.viewed",
        actor=head.user,
        subject_id=zhao.pk,
        organisation_id=hospital.organisation.pk,
        data={"where": "organisation"},
    )

    views = list(views_of_my_records(zhao.user))

    assert [view.data.get("where") for view in views] == [
        "organisation",
        "global",
        "global",
        "global",
    ]


# --- concurrent writers (PostgreSQL) -------------------------------------------------------------

WRITERS = 8
STEPS = 40
ORGANISATIONS = (11, 12, 13)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_several_organisations_keep_every_chain_whole(settings):
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: SQLite has one write lock for the whole database, so writers"
            " never interleave"
        )
    settings.MIANTAN_AUDIT_CHECKPOINT_EVERY = 25
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []
    expected: Counter[int] = Counter()

    def plan(number: int) -> list[list[int | None]]:
        """Each step is one transaction: one event, or every tenth step a batch touching every
        chain in an order of the writer's own."""
        steps: list[list[int | None]] = []
        for step in range(STEPS):
            if step % 10 == 9:
                everyone: list[int | None] = [*ORGANISATIONS, None]
                shift = number % len(everyone)
                steps.append(everyone[shift:] + everyone[:shift])
            else:
                steps.append([ORGANISATIONS[(number + step) % len(ORGANISATIONS)]])
        return steps

    def write(number: int) -> None:
        try:
            start.wait()
            for step, organisations in enumerate(plan(number)):
                with batched():
                    for organisation in organisations:
                        record(
                            f"tests.writer{number}.step{step}",
                            actor=None,
                            organisation_id=organisation,
                            data={"writer": number, "step": step},
                        )
        except BaseException as error:  # reported by the assertions below
            errors.append(error)
        finally:
            connections.close_all()

    for number in range(WRITERS):
        for organisations in plan(number):
            expected.update(GLOBAL_CHAIN if o is None else o for o in organisations)
    threads = [threading.Thread(target=write, args=(number,)) for number in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(expected.values()) == AuditEvent.objects.count() == 416
    for number, count in expected.items():
        assert_whole(number, count)
        seqs = AuditCheckpoint.objects.filter(chain=number).values_list("seq", flat=True)
        assert list(seqs) == list(range(25, count + 1, 25))
    written = Counter(AuditEvent.objects.values_list("action", flat=True))
    assert all(
        written[f"tests.writer{n}.step{s}"] >= 1 for n in range(WRITERS) for s in range(STEPS)
    )
    out = StringIO()
    call_command("verify_audit", stdout=out, stderr=StringIO())
    assert "intact: 416 events verified in 4 chain(s)" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_two_first_events_of_a_new_chain_at_once_share_one_head():
    if connection.vendor != "postgresql":
        pytest.skip(
            "PostgreSQL only: SQLite lets one writer in at a time, so two first events of a"
            " chain never meet"
        )
    organisation = 21
    first_in, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                record("tests.first", actor=None, organisation_id=organisation)
                first_in.set()
                release.wait(10)
        except BaseException as error:  # reported by the assertions below
            errors.append(error)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            first_in.wait(10)
            record("tests.second", actor=None, organisation_id=organisation)
        except BaseException as error:  # reported by the assertions below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_in.wait(10)
    # The second writer found no head and waits to insert one: the first's is not committed.
    waiting = 0
    for _attempt in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            waiting = cursor.fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join()

    assert waiting == 1
    assert errors == []
    assert [event.action for event in chain(organisation)] == ["tests.first", "tests.second"]
    assert_whole(organisation, 2)


# --- the migration from the single chain ---------------------------------------------------------

BEFORE = ("audit", "0002_keyed_chain_and_checkpoints")
SPLIT = ("audit", "0003_chain_per_organisation")


def single_chain_at(state_apps: Any, organisations: list[int | None]) -> Checkpoint:
    """Events of several organisations in the one chain, as the trail wrote them before it had
    a chain per organisation, with its head and a checkpoint of it (returned, as kept
    elsewhere)."""
    event_model = state_apps.get_model("audit", "AuditEvent")
    ring = keys.ring()
    previous = GENESIS
    first = ""
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    for seq, organisation in enumerate(organisations, start=1):
        fields = {name: None for name in HASHED_FIELDS}
        fields.update(
            seq=seq,
            at=at,
            organisation_id=organisation,
            actor_label="",
            action=f"tests.old{seq}",
            outcome="ok",
            object_type="",
            object_id="",
            request_id="",
            channel="system",
            data={"n": seq},
        )
        digest = link_hash(ring, ring.current_id, previous, fields)
        event_model.objects.create(
            **fields, prev_hash=previous, hash=digest, key_id=ring.current_id
        )
        first = first or digest
        previous = digest
    head_model = state_apps.get_model("audit", "AuditChainHead")
    head_model.objects.create(pk=1, seq=len(organisations), hash=previous)
    signed = Checkpoint.sign(
        ring, chain="audit", seq=len(organisations), hash=previous, first=first, at=at
    )
    state_apps.get_model("audit", "AuditCheckpoint").objects.create(
        seq=signed.seq,
        hash=signed.hash,
        first_hash=signed.first,
        at=at,
        key_id=signed.key_id,
        signature=signed.signature,
    )
    return signed


@pytest.mark.django_db(transaction=True)
def test_the_single_chain_becomes_the_global_chain_and_still_verifies():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        state = MigrationExecutor(connection).loader.project_state(BEFORE)
        kept = single_chain_at(state.apps, [A, B, None, A])
        executor = MigrationExecutor(connection)
        executor.migrate([SPLIT])
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert list(AuditEvent.objects.order_by("pk").values_list("chain", "seq")) == [
        (GLOBAL_CHAIN, seq) for seq in range(1, 5)
    ]
    assert list(AuditChainHead.objects.values_list("chain", "seq")) == [(GLOBAL_CHAIN, 4)]
    assert list(AuditCheckpoint.objects.values_list("chain", "seq")) == [(GLOBAL_CHAIN, 4)]
    assert list(verify_chain([kept])) == []
    assert list(verify_chain()) == []

    record("tests.new", actor=None, organisation_id=A)
    record("tests.new_global", actor=None)

    assert [(e.chain, e.seq) for e in AuditEvent.objects.order_by("-pk")[:2]] == [
        (GLOBAL_CHAIN, 5),
        (A, 1),
    ]
    assert list(verify_chain([kept])) == []
    assert_whole(GLOBAL_CHAIN, 5)
