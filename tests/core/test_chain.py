"""The keyed hash chain on its own: links, key rings, checkpoints and what verification names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from miantan.core.chain import (
    GENESIS,
    Checkpoint,
    KeyRing,
    KeyRingError,
    Link,
    Problem,
    UnknownKey,
    canonical,
    link_hash,
    read_checkpoints,
    verify_links,
)

RING = KeyRing.parse("k1:" + base64.b64encode(b"k" * 32).decode())
OTHER = KeyRing.parse("k1:" + base64.b64encode(b"o" * 32).decode())
AT = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def chain(count: int, ring: KeyRing = RING) -> list[Link]:
    links, previous = [], GENESIS
    for seq in range(1, count + 1):
        fields = {"seq": seq, "what": f"event {seq}"}
        digest = link_hash(ring, ring.current_id, previous, fields)
        links.append(Link(seq, previous, digest, ring.current_id, fields, position=seq))
        previous = digest
    return links


def problems(links: list[Link], **kwargs) -> list[str]:
    return [str(problem) for problem in verify_links(links, RING, **kwargs)]


def checkpoint(links: list[Link], seq: int, ring: KeyRing = RING) -> Checkpoint:
    return Checkpoint.sign(
        ring, chain="tests", seq=seq, hash=links[seq - 1].hash, first=links[0].hash, at=AT
    )


def test_an_intact_chain_has_no_problems():
    links = chain(4)

    assert problems(links, head=(4, links[-1].hash), positions=iter(range(1, 5))) == []


def test_the_link_format_is_hmac_sha256_of_key_id_previous_hash_and_sorted_json():
    # The stored chain must keep verifying across versions: the signed bytes are fixed.
    message = b"k1\n" + GENESIS.encode() + b'\n{"seq":1,"what":"event 1"}'

    expected = hmac.new(b"k" * 32, message, hashlib.sha256).hexdigest()

    assert link_hash(RING, "k1", GENESIS, {"what": "event 1", "seq": 1}) == expected


def test_the_checkpoint_format_is_fixed_too():
    signed = Checkpoint.sign(RING, chain="audit", seq=2, hash="a" * 64, first="b" * 64, at=AT)
    at = "2026-05-04T09:30:00.000000+00:00"
    message = json.dumps(
        {"at": at, "chain": "audit", "first": "b" * 64, "hash": "a" * 64, "key": "k1", "seq": 2},
        separators=(",", ":"),
    ).encode()

    assert signed.signature == hmac.new(b"k" * 32, message, hashlib.sha256).hexdigest()
    assert signed.to_json() == (
        f'{{"at":"{at}","chain":"audit","first":"{"b" * 64}","hash":"{"a" * 64}","key":"k1",'
        f'"seq":2,"signature":"{signed.signature}"}}'
    )


def test_the_hash_depends_on_the_key_the_key_id_the_predecessor_and_every_field():
    fields = {"seq": 1, "what": "x"}
    base = link_hash(RING, "k1", GENESIS, fields)

    assert link_hash(OTHER, "k1", GENESIS, fields) != base
    assert link_hash(KeyRing({"k2": b"k" * 32}, "k2"), "k2", GENESIS, fields) != base
    assert link_hash(RING, "k1", "1" * 64, fields) != base
    assert link_hash(RING, "k1", GENESIS, {**fields, "what": "y"}) != base
    assert link_hash(RING, "k1", GENESIS, {**fields, "extra": None}) != base
    assert len(base) == 64


def test_canonical_form_is_independent_of_key_order_and_keeps_microseconds():
    moment = datetime(2026, 5, 4, 9, 30, 0, 5, tzinfo=UTC)

    assert canonical({"b": 1, "a": moment}) == canonical({"a": moment, "b": 1})
    assert canonical({"a": moment}) == b'{"a":"2026-05-04T09:30:00.000005+00:00"}'
    assert canonical({"a": "面谈"}) == '{"a":"面谈"}'.encode()


def test_a_duplicated_sequence_number_is_named_and_the_first_one_kept():
    links = chain(3)
    fields = {"seq": 2, "what": "a second event 2"}
    second = link_hash(RING, "k1", links[0].hash, fields)
    links.insert(2, Link(2, links[0].hash, second, "k1", fields))

    assert problems(links) == ["event #2: duplicated (another event has the same sequence number)"]


def test_a_chain_that_does_not_start_at_one_is_named():
    assert problems(chain(3)[1:]) == ["event #2: removed (missing before it: #1)"]


def test_a_link_to_the_wrong_predecessor_is_named():
    links = chain(3)
    third = links[2]
    links[2] = Link(3, links[0].hash, third.hash, "k1", third.fields, 3)

    found = problems(links)

    assert "event #3: unlinked (does not link to the event before it)" in found
    assert "event #3: altered (its signature does not match its contents)" in found


def test_links_beyond_the_head_are_named_as_forged():
    links = chain(4)

    assert problems(links, head=(3, links[2].hash)) == [
        "event #4: forged (written after the chain head #3)"
    ]


def test_a_head_beyond_the_last_link_is_named():
    links = chain(3)

    assert problems(links, head=(5, "f" * 64)) == [
        "event #4: removed (the chain ends at #3, the chain head says #5)"
    ]


def test_a_head_on_the_last_link_with_another_hash_is_named():
    assert problems(chain(3), head=(3, "f" * 64)) == [
        "event #3: altered (the last event does not match the chain head)"
    ]


def test_an_empty_chain_with_an_empty_head_has_no_problems():
    assert problems([], head=(0, GENESIS)) == []


def test_storage_out_of_sequence_order_is_named():
    assert problems(chain(3), positions=iter([1, 3, 2])) == [
        "event #2: reordered (not stored in sequence order)",
        "event #3: reordered (not stored in sequence order)",
    ]


def test_a_checkpoint_at_a_rewritten_link_is_named():
    links = chain(3)
    kept = checkpoint(links, 2)
    rewritten = [links[0], *chain(3, OTHER)[1:]]

    assert (
        "event #2: rechained (differs from the checkpoint of 2026-05-04T09:30:00.000000+00:00:"
        " the chain was rewritten from here or before)"
    ) in problems(rewritten, checkpoints=[kept])


def test_checkpoints_beyond_the_last_link_name_the_deleted_tail_up_to_the_latest():
    links = chain(6)
    kept = [checkpoint(links, 5), checkpoint(links, 6), checkpoint(links, 2)]

    assert problems(links[:3], checkpoints=kept) == [
        "event #4: deleted tail (events #4–#6 are gone: the checkpoint of"
        " 2026-05-04T09:30:00.000000+00:00 saw the chain at #6)"
    ]


def test_a_checkpoint_of_a_removed_link_in_the_middle_names_no_deleted_tail():
    links = chain(4)
    kept = checkpoint(links, 2)

    assert problems([links[0], *links[2:]], checkpoints=[kept]) == [
        "event #3: removed (missing before it: #2)"
    ]


def test_a_checkpoint_at_the_last_link_names_no_deleted_tail():
    links = chain(3)

    assert problems(links, checkpoints=[checkpoint(links, 3)]) == []


def test_a_checkpoint_with_a_wrong_signature_is_named_and_not_used():
    links = chain(4)
    forged = checkpoint(links, 4, OTHER)

    assert problems(links[:2], checkpoints=[forged]) == [
        "checkpoint #4: forged (the checkpoint of 2026-05-04T09:30:00.000000+00:00 is not signed"
        " by a key of this installation)"
    ]


def test_a_checkpoint_of_another_chain_is_named_as_foreign():
    ours, theirs = chain(3), chain(3, OTHER)
    foreign = Checkpoint.sign(
        RING, chain="tests", seq=3, hash=ours[2].hash, first=theirs[0].hash, at=AT
    )

    assert problems(ours, checkpoints=[foreign]) == [
        "checkpoint #3: foreign (the checkpoint of 2026-05-04T09:30:00.000000+00:00 belongs to"
        " another chain, or this one was rewritten from its first event)"
    ]


def test_a_checkpoint_survives_its_json_form():
    kept = checkpoint(chain(2), 2)

    again = Checkpoint.from_json(kept.to_json(), source="file")

    assert again == kept
    assert again.verifies(RING)
    assert again.describe() == "the checkpoint of 2026-05-04T09:30:00.000000+00:00 in file"
    unnamed = Checkpoint.from_json(kept.to_json())
    assert unnamed.describe() == "the checkpoint of 2026-05-04T09:30:00.000000+00:00"


def test_changing_any_part_of_a_checkpoint_breaks_its_signature():
    kept = checkpoint(chain(2), 2)

    for change in ("chain", "hash", "first", "at"):
        assert not Checkpoint(**{**kept.__dict__, change: "x"}).verifies(RING)
    assert not Checkpoint(**{**kept.__dict__, "seq": 3}).verifies(RING)
    assert not Checkpoint(**{**kept.__dict__, "key_id": "k2"}).verifies(RING)


def test_read_checkpoints_names_bad_lines_and_skips_blank_ones():
    kept = checkpoint(chain(2), 2)

    items = list(read_checkpoints([kept.to_json(), "", "{}", "[1]"], source="f"))

    assert items[0] == kept
    assert [str(item) for item in items[1:]] == [
        "checkpoint line #3: unreadable (f: not a checkpoint: 'chain')",
        "checkpoint line #4: unreadable (f: not a checkpoint: list indices must be integers or"
        " slices, not str)",
    ]


def test_a_key_ring_uses_its_first_key_and_verifies_with_the_others():
    first = base64.b64encode(b"1" * 32).decode()
    second = base64.b64encode(b"2" * 48).decode()

    ring = KeyRing.parse(f" new:{first},\nold:{second}\n")

    assert ring.current_id == "new"
    assert set(ring.keys) == {"new", "old"}
    mac = ring.mac("old", b"message")
    assert ring.verifies("old", b"message", mac)
    assert not ring.verifies("new", b"message", mac)
    assert not ring.verifies("gone", b"message", mac)
    with pytest.raises(UnknownKey):
        ring.mac("gone", b"message")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "^no key given$"),
        (" , ", "^no key given$"),
        ("k1:", "0 bytes"),
        (":abc", "expected id:base64-key"),
        ("k!:" + "a" * 44, "key 1: expected id:base64-key"),
        ("k1:" + "a" * 44 + ",k2", "key 2: expected id:base64-key"),
        ("k1:" + "!" * 44, "not valid base64"),
    ],
)
def test_a_malformed_key_ring_is_refused(spec, says):
    with pytest.raises(KeyRingError, match=says):
        KeyRing.parse(spec)


def test_a_key_of_exactly_32_bytes_is_enough_and_31_are_not():
    assert KeyRing.parse("k:" + base64.b64encode(b"x" * 32).decode()).keys["k"] == b"x" * 32
    with pytest.raises(KeyRingError, match="31 bytes"):
        KeyRing.parse("k:" + base64.b64encode(b"x" * 31).decode())


def test_a_derived_ring_is_stable_and_depends_on_secret_and_purpose():
    ring = KeyRing.derived("secret", "audit")

    assert ring.current_id == "derived"
    assert ring == KeyRing.derived("secret", "audit")
    assert ring.keys != KeyRing.derived("secret", "archive").keys
    assert ring.keys != KeyRing.derived("other", "audit").keys
    assert len(ring.keys["derived"]) == 32


def test_problem_reads_as_subject_number_kind_and_detail():
    assert str(Problem(3, "altered", "why")) == "event #3: altered (why)"
    assert str(Problem(2, "forged", "why", subject="checkpoint")) == "checkpoint #2: forged (why)"
