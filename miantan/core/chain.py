"""Keyed hash chains: append-only records whose every element signs its predecessor.

Each link stores its sequence number, the previous link's hash and its own hash, an
HMAC-SHA256 over (key id, previous hash, canonical JSON of its fields) with a key held outside
the database. Without the key nobody can write a link that verifies, so an edited, inserted or
appended row is found; re-chaining a tail needs the key too. What a key holder could still do
(rewrite a tail, cut it off) is caught by signed checkpoints of the head kept elsewhere.

The seal is pluggable (`Sealer`): the audit trail seals with HMAC keys (`KeyRing`), which
only their holder can check; the signed archive seals with Ed25519 (`miantan.core.signing`),
which anyone holding the published public key can check, offline. Both use this module;
nothing here knows about Django models.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

GENESIS = "0" * 64
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
MIN_KEY_BYTES = 32


class Sealer(Protocol):
    """Seals links and checks seals: `keys` names the keys it can check with, `current_id`
    the one new links are sealed with."""

    @property
    def keys(self) -> Any: ...

    @property
    def current_id(self) -> str: ...

    def mac(self, key_id: str, message: bytes) -> str: ...

    def verifies(self, key_id: str, message: bytes, mac: str) -> bool: ...


class KeyRingError(ValueError):
    """The key ring's configuration is malformed; the message says where."""


class UnknownKey(KeyError):
    pass


@dataclass(frozen=True)
class KeyRing:
    """Signing keys by id. The first is current (signs new links); the others only verify
    what they signed before a rotation."""

    keys: dict[str, bytes]
    current_id: str

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """ "id:base64key[,id:base64key…]" (commas or new lines), first is current."""
        keys: dict[str, bytes] = {}
        for number, item in enumerate(re.split(r"[,\s]+", spec.strip()), start=1):
            if not item:
                continue
            key_id, colon, encoded = item.partition(":")
            if not colon or not _KEY_ID.match(key_id):
                raise KeyRingError(
                    f"key {number}: expected id:base64-key with an id of 1-16 letters, digits,"
                    " '-' or '_'"
                )
            if key_id in keys:
                raise KeyRingError(f"key {number}: the id '{key_id}' is used twice")
            try:
                secret = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyRingError(f"key '{key_id}': not valid base64") from None
            if len(secret) < MIN_KEY_BYTES:
                raise KeyRingError(
                    f"key '{key_id}': {len(secret)} bytes, at least {MIN_KEY_BYTES} are needed"
                )
            keys[key_id] = secret
        if not keys:
            raise KeyRingError("no key given")
        return cls(keys=keys, current_id=next(iter(keys)))

    @classmethod
    def derived(cls, secret: str, purpose: str, key_id: str = "derived") -> KeyRing:
        """A ring of one key derived from another secret, for development and tests."""
        key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
        return cls(keys={key_id: key}, current_id=key_id)

    def mac(self, key_id: str, message: bytes) -> str:
        try:
            key = self.keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def verifies(self, key_id: str, message: bytes, mac: str) -> bool:
        """False for a wrong MAC and for a key this ring does not hold."""
        if key_id not in self.keys:
            return False
        return hmac.compare_digest(self.mac(key_id, message), mac)


def canonical(fields: dict[str, Any]) -> bytes:
    """One byte string per set of values: sorted keys, no spaces, times to the microsecond."""

    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat(timespec="microseconds")
        return value

    return json.dumps(
        {key: encode(value) for key, value in fields.items()},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    ).encode()


def link_message(key_id: str, prev_hash: str, fields: dict[str, Any]) -> bytes:
    return b"\n".join((key_id.encode(), prev_hash.encode(), canonical(fields)))


def link_hash(ring: Sealer, key_id: str, prev_hash: str, fields: dict[str, Any]) -> str:
    return ring.mac(key_id, link_message(key_id, prev_hash, fields))


def link_verifies(ring: Sealer, link: Link) -> bool:
    return ring.verifies(
        link.key_id, link_message(link.key_id, link.prev_hash, link.fields), link.hash
    )


@dataclass(frozen=True)
class Link:
    """One stored element of a chain, as verification reads it. `position` is its storage
    key (rows are written in sequence order, so positions must rise with the sequence)."""

    seq: int
    prev_hash: str
    hash: str
    key_id: str
    fields: dict[str, Any]
    position: int | None = None


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the chain `chain` had reached #seq with this hash at this time".

    Kept outside the database (a file, a mail), it lets verification notice a tail that was
    deleted or re-chained after it was written. `first` is the hash of link #1, which tells
    checkpoints of another chain (another installation, a rebuilt database) apart."""

    chain: str
    seq: int
    hash: str
    first: str
    at: str
    key_id: str
    signature: str
    source: str = field(default="", compare=False)

    @classmethod
    def sign(
        cls, ring: Sealer, *, chain: str, seq: int, hash: str, first: str, at: datetime
    ) -> Checkpoint:
        moment = at.isoformat(timespec="microseconds")
        message = _checkpoint_message(chain, seq, hash, first, moment, ring.current_id)
        signature = ring.mac(ring.current_id, message)
        return cls(chain, seq, hash, first, moment, ring.current_id, signature)

    def verifies(self, ring: Sealer) -> bool:
        message = _checkpoint_message(
            self.chain, self.seq, self.hash, self.first, self.at, self.key_id
        )
        return ring.verifies(self.key_id, message, self.signature)

    def to_json(self) -> str:
        return json.dumps(
            {
                "chain": self.chain,
                "seq": self.seq,
                "hash": self.hash,
                "first": self.first,
                "at": self.at,
                "key": self.key_id,
                "signature": self.signature,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str, *, source: str = "") -> Checkpoint:
        """Raises ValueError for a line that is not a checkpoint."""
        try:
            data = json.loads(line)
            return cls(
                chain=str(data["chain"]),
                seq=int(data["seq"]),
                hash=str(data["hash"]),
                first=str(data["first"]),
                at=str(data["at"]),
                key_id=str(data["key"]),
                signature=str(data["signature"]),
                source=source,
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a checkpoint: {error}") from None

    def describe(self) -> str:
        where = f" in {self.source}" if self.source else ""
        return f"the checkpoint of {self.at}{where}"


def _checkpoint_message(chain: str, seq: int, hash: str, first: str, at: str, key_id: str) -> bytes:
    fields = {"chain": chain, "seq": seq, "hash": hash, "first": first, "at": at, "key": key_id}
    return canonical(fields)


@dataclass(frozen=True)
class Problem:
    """One finding. `seq` is the link (or, for a checkpoint, the position) it is about;
    `chain` names the chain when a record keeps several."""

    seq: int
    kind: str
    detail: str
    subject: str = "event"
    chain: str = ""

    def __str__(self) -> str:
        where = f"[{self.chain}] " if self.chain else ""
        return f"{where}{self.subject} #{self.seq}: {self.kind} ({self.detail})"


def read_checkpoints(lines: Iterable[str], *, source: str) -> Iterator[Checkpoint | Problem]:
    """Checkpoints from JSON lines; an unreadable line becomes a problem naming it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Checkpoint.from_json(line, source=source)
        except ValueError as error:
            yield Problem(number, "unreadable", f"{source}: {error}", subject="checkpoint line")


def _missing(low: int, high: int) -> str:
    return f"#{low}" if low == high else f"#{low}–#{high}"


@dataclass
class _Walk:
    ring: Sealer
    head: tuple[int, str] | None
    by_seq: dict[int, list[Checkpoint]]
    prev_seq: int = 0
    prev_hash: str = GENESIS
    first_hash: str | None = None

    def step(self, link: Link, stored_at: int | None) -> Iterator[Problem]:
        seq = link.seq
        if seq <= self.prev_seq:
            yield Problem(seq, "duplicated", "another event has the same sequence number")
        elif seq != self.prev_seq + 1:
            missing = _missing(self.prev_seq + 1, seq - 1)
            yield Problem(seq, "removed", f"missing before it: {missing}")
        elif link.prev_hash != self.prev_hash:
            yield Problem(seq, "unlinked", "does not link to the event before it")
        head_seq = self.head[0] if self.head is not None else None
        beyond_head = head_seq is not None and seq > head_seq
        if beyond_head:
            yield Problem(seq, "forged", f"written after the chain head #{head_seq}")
        if link.key_id not in self.ring.keys:
            yield Problem(
                seq,
                "forged",
                f"signed with a key this installation does not hold ('{link.key_id}')",
            )
        elif not link_verifies(self.ring, link):
            kind = "forged" if beyond_head else "altered"
            yield Problem(seq, kind, "its signature does not match its contents")
        if link.position is not None and link.position != stored_at:
            yield Problem(seq, "reordered", "not stored in sequence order")
        for checkpoint in self.by_seq.pop(seq, []):
            if checkpoint.hash != link.hash:
                yield Problem(
                    seq,
                    "rechained",
                    f"differs from {checkpoint.describe()}: the chain was rewritten from here"
                    " or before",
                )
        if seq > self.prev_seq:
            if self.first_hash is None:
                self.first_hash = link.hash
            self.prev_seq, self.prev_hash = seq, link.hash

    def finish(self) -> Iterator[Problem]:
        last = self.prev_seq
        if self.head is not None:
            head_seq, head_hash = self.head
            if head_seq > last:
                yield Problem(
                    last + 1,
                    "removed",
                    f"the chain ends at #{last}, the chain head says #{head_seq}",
                )
            elif head_seq == last and last and head_hash != self.prev_hash:
                yield Problem(last, "altered", "the last event does not match the chain head")
        # Checkpoints still waiting saw links beyond the last one (or links in a gap, which
        # are named as removed already): the latest of them shows how much of the tail is gone.
        beyond = [seq for seq in self.by_seq if seq > last]
        if beyond:
            seen = max(beyond)
            yield Problem(
                last + 1,
                "deleted tail",
                f"events {_missing(last + 1, seen)} are gone: {self.by_seq[seen][0].describe()}"
                f" saw the chain at #{seen}",
            )


def verify_links(
    links: Iterable[Link],
    ring: Sealer,
    *,
    head: tuple[int, str] | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    positions: Iterator[int] | None = None,
) -> Iterator[Problem]:
    """Problems of a chain read in sequence order; an intact chain yields nothing.

    Checks every link's signature, that sequence numbers run 1, 2, 3… without gaps or
    duplicates, that each link names its predecessor's hash, that storage order (`positions`,
    the storage keys in storage order) follows the sequence, that the last link is the `head`
    the writer recorded, and that every checkpoint's hash is the hash at its position and no
    checkpoint saw links that are gone.
    """
    checkpoints = list(checkpoints)
    for checkpoint in checkpoints:
        if not checkpoint.verifies(ring):
            yield Problem(
                checkpoint.seq,
                "forged",
                f"{checkpoint.describe()} is not signed by a key of this installation",
                subject="checkpoint",
            )
    valid = [checkpoint for checkpoint in checkpoints if checkpoint.verifies(ring)]
    by_seq: dict[int, list[Checkpoint]] = {}
    for checkpoint in sorted(valid, key=lambda item: item.seq):
        by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
    walk = _Walk(ring=ring, head=head, by_seq=by_seq)
    for link in links:
        # Without `positions` storage order is not checked: the link stands where it is.
        stored_at = next(positions, None) if positions is not None else link.position
        yield from walk.step(link, stored_at)
    yield from walk.finish()
    for checkpoint in valid:
        if checkpoint.seq and walk.first_hash is not None and checkpoint.first != walk.first_hash:
            yield Problem(
                checkpoint.seq,
                "foreign",
                f"{checkpoint.describe()} belongs to another chain, or this one was rewritten"
                " from its first event",
                subject="checkpoint",
            )
