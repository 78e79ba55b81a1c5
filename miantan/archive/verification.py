"""Checking the archive (PRODUCT.md D4): every snapshot's hash, every signature, the chain of
each organisation, and the locked records themselves; and an export file without the database.

What is found is named: the record (and its talk) and what is wrong with it.

- `altered`: a signed value no longer matches (a block's text, a signature's evidence, a
  snapshot whose content does not hash to its stored hash, an entry whose seal fails);
- `replaced`: a snapshot and its hash changed together (they no longer match what both
  signatures and the chain entry sealed);
- `rolled back`: the record is at an earlier version than the one archived;
- `removed`: a chain entry, a snapshot or a signature is gone;
- `inserted`: an entry the deployment's key did not seal, or an archived record that is not
  in the chain;
- `reordered`: entries not stored in sequence order, or linked to the wrong predecessor.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from miantan.core import signing
from miantan.core.chain import GENESIS, Link, Problem, canonical, link_message, verify_links
from miantan.core.signing import SigningRing
from miantan.records.enums import RecordState
from miantan.records.models import Block, Record

from . import snapshots
from .exports import EXPORT_FORMAT
from .models import Addendum, AddendumState, ArchiveEntry, ArchiveHead, Signature, Snapshot
from .providers import BuiltinSigner, provider_named

BATCH = 1000


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: str
    organisation_id: int | None = None
    seq: int | None = None
    record_id: int | None = None
    talk_id: int | None = None

    def __str__(self) -> str:
        where = []
        if self.organisation_id is not None:
            where.append(f"organisation {self.organisation_id}")
        if self.seq is not None:
            where.append(f"entry #{self.seq}")
        if self.record_id is not None:
            talk = f" (talk {self.talk_id})" if self.talk_id is not None else ""
            where.append(f"record {self.record_id}{talk}")
        return f"{', '.join(where) or 'archive'}: {self.kind}: {self.detail}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "detail": self.detail,
            "organisation": self.organisation_id,
            "seq": self.seq,
            "record": self.record_id,
            "talk": self.talk_id,
        }


@dataclass
class Summary:
    records: int = 0
    organisations: int = 0


class _Seals:
    """The deployment's Ed25519 seals (chain entries, server signatures), checked.

    Ed25519 signatures are deterministic (RFC 8032): with the current private key at hand, a
    seal of that key is checked by making it again and comparing, in a third of the time a
    check with the public key takes, accepting exactly what this key signs. Seals of other
    keys (older ones, or any key of a verify-only ring) are checked with their public key."""

    def __init__(self, ring: SigningRing) -> None:
        self.ring = ring
        self.keys = ring.keys
        self.current_id = ring.current_id

    def mac(self, key_id: str, message: bytes) -> str:
        return self.ring.mac(key_id, message)

    def verifies(self, key_id: str, message: bytes, mac: str) -> bool:
        private = self.ring.private
        if private is None or key_id != self.current_id:
            return self.ring.verifies(key_id, message, mac)
        try:
            return hmac.compare_digest(private.sign(message), bytes.fromhex(mac))
        except ValueError:
            return False


# Rows read as tuples, not model instances (about fourteen a record), with the fields the checks
# read.
class _RecordRow(NamedTuple):
    pk: int
    talk_id: int
    state: str
    version: int
    organisation_id: int


class _SnapshotRow(NamedTuple):
    record_id: int
    version: int
    content: str
    sha256: str


class _SignatureRow(NamedTuple):
    """Every field `snapshots.evidence_of` reads, and the seal; not the drawn signature (its
    hash is in the evidence)."""

    pk: int
    record_id: int
    addendum_id: int | None
    organisation_id: int
    record_version: int
    side: str
    signer_id: int
    signed_at: Any
    ip: str | None
    user_agent: str
    template_version: int
    snapshot_sha256: str
    method: str
    dissent: bool
    dissent_reason: str
    handwriting_sha256: str
    provider: str
    key_id: str
    server_signature: str
    provider_evidence: dict[str, Any]


class _BlockRow(NamedTuple):
    """What `snapshots.blocks_part` reads of a block."""

    record_id: int
    section: str
    side: str
    position: int
    pk: int
    values: Any


_CHAIN_KINDS = {
    "altered": "altered",
    "forged": "inserted",
    "removed": "removed",
    "deleted tail": "removed",
    "duplicated": "inserted",
    "unlinked": "reordered",
    "reordered": "reordered",
}


def verify_all(summary: Summary | None = None) -> Iterator[Finding]:
    from miantan.people.models import Organisation

    organisations = set(ArchiveEntry.objects.values_list("organisation_id", flat=True).distinct())
    organisations |= set(
        Record.objects.filter(state=RecordState.ARCHIVED)
        .values_list("organisation_id", flat=True)
        .distinct()
    )
    for organisation_id in sorted(
        Organisation.objects.filter(pk__in=organisations).values_list("pk", flat=True)
    ):
        yield from verify_organisation(organisation_id, summary)


def verify_organisation(organisation_id: int, summary: Summary | None = None) -> Iterator[Finding]:
    """Everything of one organisation's archive, in batches (memory stays bounded)."""
    summary = summary if summary is not None else Summary()
    summary.organisations += 1
    seals = _Seals(signing.ring())
    head = ArchiveHead.objects.filter(organisation_id=organisation_id).first()
    entries = ArchiveEntry.objects.filter(organisation_id=organisation_id)
    record_of_seq: dict[int, tuple[int, int]] = {}
    seen: list[tuple[int, str, str]] = []

    def links() -> Iterator[Link]:
        last: tuple[int, int] | None = None
        # Entries already read with the last sequence number (one, unless it is duplicated).
        at_last = 0
        while True:
            page = entries
            if last is not None:
                # `seq >= last` bounds the index scan (an OR of both conditions made each batch
                # read every entry before it); those read already are skipped here.
                page = page.filter(seq__gte=last[0])
            rows = list(page.order_by("seq", "pk")[: BATCH + at_last])
            batch = [e for e in rows if last is None or (e.seq, e.pk) > last]
            if not batch:
                return
            for entry in batch:
                record_of_seq[entry.seq] = (entry.record_id, entry.record_version)
                seen.append((entry.seq, entry.prev_hash, entry.hash))
                yield Link(
                    seq=entry.seq,
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                    key_id=entry.key_id,
                    fields=entry.link_fields(),
                    position=entry.pk,
                )
            findings.extend(_check_entries(batch, seals))
            summary.records += len(batch)
            at_last = sum(1 for e in rows if e.seq == batch[-1].seq)
            last = (batch[-1].seq, batch[-1].pk)

    findings: list[Finding] = []
    positions = iter(entries.order_by("pk").values_list("pk", flat=True).iterator())
    chain_head = (head.seq, head.hash) if head is not None and head.seq else None
    problems: list[Problem] = []
    for problem in verify_links(links(), seals, head=chain_head, positions=positions):
        problems.append(problem)
        yield from _drain(findings)
    yield from _drain(findings)
    talks = (
        dict(
            Record.objects.filter(pk__in=[r for r, _v in record_of_seq.values()]).values_list(
                "pk", "talk_id"
            )
        )
        if problems
        else {}
    )
    if any(p.kind in ("unlinked", "reordered") for p in problems):
        # Name the entries out of place (following the links from the first), not every
        # entry whose neighbour moved.
        problems = [p for p in problems if p.kind not in ("unlinked", "reordered")]
        place = _places(seen)
        for seq, _prev, digest in seen:
            if place.get(digest) == seq:
                continue
            record_id = record_of_seq[seq][0]
            where = place.get(digest)
            yield Finding(
                kind="reordered",
                detail=f"chain: stored as #{seq}, its place in the chain is #{where}"
                if where
                else f"chain: stored as #{seq}, it follows no entry of the chain",
                organisation_id=organisation_id,
                seq=seq,
                record_id=record_id,
                talk_id=talks.get(record_id),
            )
    for problem in problems:
        # A removal is reported at the entry after the gap, which is not the one removed.
        gone = problem.kind in ("removed", "deleted tail")
        named: int | None = None if gone else record_of_seq.get(problem.seq, (None, None))[0]
        yield Finding(
            kind=_CHAIN_KINDS.get(problem.kind, problem.kind),
            detail=f"chain: {problem.detail}",
            organisation_id=organisation_id,
            seq=problem.seq,
            record_id=named,
            talk_id=talks.get(named) if named else None,
        )
    # Every entry of the organisation was read above: the database compares the ids itself,
    # rather than receiving them all as parameters.
    outside = Record.objects.filter(
        organisation_id=organisation_id, state=RecordState.ARCHIVED
    ).exclude(pk__in=entries.values("record_id"))
    gap = any(problem.kind in ("removed", "deleted tail") for problem in problems)
    for record_id, talk_id in outside.values_list("pk", "talk_id").iterator():
        yield Finding(
            # With entries missing from the chain, this is most likely one of them.
            kind="removed" if gap else "inserted",
            detail="archived, but its chain entry is gone"
            if gap
            else "archived, but not in the chain",
            organisation_id=organisation_id,
            record_id=record_id,
            talk_id=talk_id,
        )
    unchained = Addendum.objects.filter(
        organisation_id=organisation_id, state=AddendumState.ARCHIVED, entry__isnull=True
    )
    for number, record_id, talk_id in unchained.values_list(
        "number", "record_id", "record__talk_id"
    ).iterator():
        yield Finding(
            kind="removed" if gap else "inserted",
            detail=f"addendum {number}: archived, but "
            + ("its chain entry is gone" if gap else "not in the chain"),
            organisation_id=organisation_id,
            record_id=record_id,
            talk_id=talk_id,
        )


def _places(seen: list[tuple[int, str, str]]) -> dict[str, int]:
    """Each entry's place found by following the links from the first (hash -> place)."""
    following: dict[str, str] = {}
    for _seq, prev, digest in seen:
        following.setdefault(prev, digest)
    places: dict[str, int] = {}
    current, number = GENESIS, 0
    while current in following and following[current] not in places:
        number += 1
        current = following[current]
        places[current] = number
    return places


def _drain(findings: list[Finding]) -> Iterator[Finding]:
    while findings:
        yield findings.pop(0)


Verifies = Callable[[_SignatureRow], bool]


def _valid(signature: _SignatureRow | None, sealed: str, verifies: Verifies) -> bool:
    return signature is not None and signature.server_signature == sealed and verifies(signature)


def _signature_check(seals: _Seals) -> Verifies:
    """Whether a server signature matches its evidence, each signature checked once."""
    checked: dict[int, bool] = {}

    def verifies(signature: _SignatureRow) -> bool:
        if signature.pk not in checked:
            evidence = snapshots.evidence_bytes(signature)
            if signature.provider == BuiltinSigner.name:
                ok = seals.verifies(signature.key_id, evidence, signature.server_signature)
            else:
                signer = provider_named(signature.provider)
                ok = signer is not None and signer.verifies(
                    evidence,
                    signature.server_signature,
                    key_id=signature.key_id,
                    kept=signature.provider_evidence,
                )
            checked[signature.pk] = ok
        return checked[signature.pk]

    return verifies


def _check_entries(batch: list[ArchiveEntry], seals: _Seals | None = None) -> list[Finding]:
    verifies = _signature_check(seals or _Seals(signing.ring()))
    ids = [e.record_id for e in batch]
    records = {
        row[0]: _RecordRow._make(row)
        for row in Record.objects.filter(pk__in=ids).values_list(*_RecordRow._fields)
    }
    snapshots_by = {
        (row[0], row[1]): _SnapshotRow._make(row)
        for row in Snapshot.objects.filter(record_id__in=ids).values_list(*_SnapshotRow._fields)
    }
    signatures_by: dict[tuple[int, int], dict[str, _SignatureRow]] = {}
    addendum_signatures: dict[int, dict[str, _SignatureRow]] = {}
    rows = Signature.objects.filter(record_id__in=ids).values_list(*_SignatureRow._fields)
    for signature in map(_SignatureRow._make, rows):
        if signature.addendum_id is not None:
            addendum_signatures.setdefault(signature.addendum_id, {})[signature.side] = signature
        else:
            signatures_by.setdefault((signature.record_id, signature.record_version), {})[
                signature.side
            ] = signature
    addendum_ids = [e.addendum_id for e in batch if e.addendum_id is not None]
    addenda = (
        {a.pk: a for a in Addendum.objects.filter(pk__in=addendum_ids)} if addendum_ids else {}
    )
    blocks_by: dict[int, list[_BlockRow]] = {}
    if len(addendum_ids) < len(batch):
        blocks = Block.objects.filter(record_id__in=ids).values_list(*_BlockRow._fields)
        for block in map(_BlockRow._make, blocks):
            blocks_by.setdefault(block.record_id, []).append(block)
    found: list[Finding] = []
    for entry in batch:
        record = records.get(entry.record_id)
        original = snapshots_by.get((entry.record_id, entry.record_version))
        if entry.addendum_id is not None:
            found.extend(
                _check_addendum_entry(
                    entry,
                    record,
                    addenda.get(entry.addendum_id),
                    original,
                    addendum_signatures.get(entry.addendum_id, {}),
                    verifies,
                )
            )
            continue
        found.extend(
            _check_entry(
                entry,
                record,
                original,
                signatures_by.get((entry.record_id, entry.record_version), {}),
                blocks_by.get(entry.record_id, []),
                verifies,
            )
        )
    return found


def _check_entry(
    entry: ArchiveEntry,
    record: _RecordRow | None,
    snapshot: _SnapshotRow | None,
    signatures: dict[str, _SignatureRow],
    blocks: list[_BlockRow],
    verifies: Verifies,
) -> Iterator[Finding]:
    def finding(kind: str, detail: str) -> Finding:
        return Finding(
            kind=kind,
            detail=detail,
            organisation_id=entry.organisation_id,
            seq=entry.seq,
            record_id=entry.record_id,
            talk_id=record.talk_id if record is not None else None,
        )

    if record is None:
        yield finding("removed", "the record is gone")
        return
    content: dict[str, Any] | None = None
    if snapshot is None:
        yield finding("removed", f"the snapshot of version {entry.record_version} is gone")
    else:
        try:
            text = snapshot.content
            content = snapshots.decode(text)
        except Exception as error:  # a ciphertext changed without the key, or not JSON
            yield finding("altered", f"the snapshot cannot be read ({type(error).__name__})")
        else:
            if snapshots.digest(text) != snapshot.sha256:
                yield finding("altered", "the snapshot does not hash to its stored SHA-256")
            elif snapshot.sha256 != entry.snapshot_sha256:
                yield finding(
                    "replaced",
                    "the snapshot and its hash differ from what was signed and chained",
                )
    if not any(
        _valid(signatures.get(side), sealed, verifies) for side, sealed in entry.signatures.items()
    ):
        yield finding("inserted", "no signature of this entry exists and verifies: forged")
        return
    yield from _check_signatures(entry, signatures, finding, verifies)
    if record.version < entry.record_version:
        yield finding(
            "rolled back",
            f"the record is at version {record.version}, it was archived at {entry.record_version}",
        )
    elif record.version != entry.record_version:
        yield finding(
            "altered",
            f"the record is at version {record.version}, it was archived at {entry.record_version}",
        )
    if record.state != RecordState.ARCHIVED:
        yield finding("altered", f"the record's state is '{record.state}', not archived")
    if content is not None:
        try:
            same = snapshots.same_blocks(content, blocks)
        except Exception as error:
            yield finding("altered", f"a block cannot be read ({type(error).__name__})")
        else:
            if not same:
                yield finding("altered", "the record's text differs from what both signed")


def _check_signatures(
    entry: ArchiveEntry,
    signatures: dict[str, _SignatureRow],
    finding: Callable[[str, str], Finding],
    verifies: Verifies,
) -> Iterator[Finding]:
    for side, sealed in sorted(entry.signatures.items()):
        signature = signatures.get(side)
        if signature is None:
            yield finding("removed", f"the {side}'s signature is gone")
            continue
        if not verifies(signature):
            yield finding("altered", f"the {side}'s signature does not match its evidence")
        elif signature.server_signature != sealed:
            yield finding("altered", f"the {side}'s signature is not the one chained")
        elif signature.snapshot_sha256 != entry.snapshot_sha256:
            yield finding("altered", f"the {side} signed another snapshot")


def _check_addendum_entry(
    entry: ArchiveEntry,
    record: _RecordRow | None,
    addendum: Addendum | None,
    original: _SnapshotRow | None,
    signatures: dict[str, _SignatureRow],
    verifies: Verifies,
) -> Iterator[Finding]:
    """An addendum's entry: its text as both signed it, the link to the archived snapshot it
    adds to, and both signatures."""

    def finding(kind: str, detail: str) -> Finding:
        number = f"addendum {addendum.number}: " if addendum is not None else "addendum: "
        return Finding(
            kind=kind,
            detail=number + detail,
            organisation_id=entry.organisation_id,
            seq=entry.seq,
            record_id=entry.record_id,
            talk_id=record.talk_id if record is not None else None,
        )

    if record is None:
        yield finding("removed", "the record it adds to is gone")
        return
    if addendum is None:
        yield finding("removed", "the addendum is gone")
        return
    try:
        text = addendum.content
        content = snapshots.decode_addendum(text)
    except Exception as error:
        yield finding("altered", f"it cannot be read ({type(error).__name__})")
        content = {}
    else:
        if snapshots.digest(text) != addendum.sha256:
            yield finding("altered", "it does not hash to its stored SHA-256")
        elif addendum.sha256 != entry.snapshot_sha256:
            yield finding("replaced", "it and its hash differ from what was signed and chained")
        elif content.get("text") != addendum.text:
            yield finding("altered", "its text differs from what both signed")
    if content:
        amends = content.get("amends") or {}
        if original is None or amends.get("snapshot_sha256") != original.sha256:
            yield finding("altered", "it no longer points to the archived record it adds to")
    if addendum.state != AddendumState.ARCHIVED:
        yield finding("altered", f"its state is '{addendum.state}', not archived")
    if not any(
        _valid(signatures.get(side), sealed, verifies) for side, sealed in entry.signatures.items()
    ):
        yield finding("inserted", "no signature of this entry exists and verifies: forged")
        return
    yield from _check_signatures(entry, signatures, finding, verifies)


# --- an export file, without the database --------------------------------------------------


def verify_export(data: Any, *, pinned: dict[str, str] | None = None) -> list[Finding]:
    """The findings of an export (`exports.json_export`): snapshot hash, each signature with
    the public keys (`pinned` when given, else the deployment's, else the file's own, which
    proves only that the file is consistent) and the chain entry's seal."""
    found: list[Finding] = []

    def add(kind: str, detail: str) -> None:
        record = talk = None
        try:
            snap = json.loads(data["snapshot"])
            record, talk = snap.get("record"), snap.get("talk")
        except Exception:  # noqa: S110  (the finding names what is unreadable)
            pass
        found.append(Finding(kind=kind, detail=detail, record_id=record, talk_id=talk))

    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        return [Finding(kind="unreadable", detail="not a Miantan archive export")]
    text = data.get("snapshot")
    if not isinstance(text, str):
        return [Finding(kind="unreadable", detail="the export holds no snapshot")]
    try:
        snapshot = snapshots.decode(text)
    except ValueError:
        add("altered", "the snapshot is not a record snapshot")
        return found
    sha = snapshots.digest(text)
    if sha != data.get("snapshot_sha256"):
        add("altered", "the snapshot does not hash to its SHA-256")
    ring = _export_ring(data, pinned)
    sides: dict[str, str] = {}
    for item in data.get("signatures") or []:
        evidence = item.get("evidence") or {}
        side = str(evidence.get("side"))
        sides[side] = str(item.get("server_signature"))
        if not ring.verifies(
            str(item.get("key_id")), canonical(evidence), str(item.get("server_signature"))
        ):
            add("altered", f"the {side}'s signature does not match its evidence")
        if evidence.get("snapshot_sha256") != sha:
            add("replaced", f"the {side} signed another snapshot")
        if evidence.get("record") != snapshot.get("record") or evidence.get(
            "version"
        ) != snapshot.get("version"):
            add("altered", f"the {side}'s signature is for another record or version")
    if set(sides) != {"employee", "manager"}:
        add("removed", "the export does not hold both signatures")
    chain = data.get("chain")
    if not isinstance(chain, dict):
        add("removed", "the export holds no chain entry")
        return found
    fields = chain.get("fields") or {}
    if fields.get("snapshot_sha256") != sha:
        add("replaced", "the chain entry sealed another snapshot")
    if fields.get("signatures") != sides:
        add("altered", "the chain entry sealed other signatures")
    message = link_message(str(chain.get("key_id")), str(chain.get("prev_hash")), fields)
    if not ring.verifies(str(chain.get("key_id")), message, str(chain.get("hash"))):
        add("altered", "the chain entry's seal does not match")
    for item in data.get("addenda") or []:
        _verify_exported_addendum(item, sha, ring, add)
    return found


def _verify_exported_addendum(
    item: Any, original_sha: str, ring: SigningRing, add: Callable[[str, str], None]
) -> None:
    """One addendum of an export: its hash, the link to the record's snapshot, both
    signatures and its chain entry."""
    if not isinstance(item, dict) or not isinstance(item.get("content"), str):
        add("altered", "an addendum cannot be read")
        return
    text = item["content"]
    try:
        content = snapshots.decode_addendum(text)
    except ValueError:
        add("altered", "an addendum cannot be read")
        return
    name = f"addendum {content.get('number')}"
    sha = snapshots.digest(text)
    if sha != item.get("sha256"):
        add("altered", f"{name}: it does not hash to its SHA-256")
    if (content.get("amends") or {}).get("snapshot_sha256") != original_sha:
        add("altered", f"{name}: it does not point to this record's snapshot")
    sides: dict[str, str] = {}
    for signature in item.get("signatures") or []:
        evidence = signature.get("evidence") or {}
        side = str(evidence.get("side"))
        sides[side] = str(signature.get("server_signature"))
        if not ring.verifies(
            str(signature.get("key_id")),
            canonical(evidence),
            str(signature.get("server_signature")),
        ):
            add("altered", f"{name}: the {side}'s signature does not match its evidence")
        if evidence.get("snapshot_sha256") != sha:
            add("replaced", f"{name}: the {side} signed another text")
    if set(sides) != {"employee", "manager"}:
        add("removed", f"{name}: the export does not hold both signatures")
    chain = item.get("chain")
    if not isinstance(chain, dict):
        add("removed", f"{name}: the export holds no chain entry")
        return
    fields = chain.get("fields") or {}
    if fields.get("snapshot_sha256") != sha or fields.get("signatures") != sides:
        add("altered", f"{name}: the chain entry sealed something else")
    message = link_message(str(chain.get("key_id")), str(chain.get("prev_hash")), fields)
    if not ring.verifies(str(chain.get("key_id")), message, str(chain.get("hash"))):
        add("altered", f"{name}: the chain entry's seal does not match")


def _export_ring(data: dict[str, Any], pinned: dict[str, str] | None) -> SigningRing:
    if pinned:
        return SigningRing.public(pinned)
    try:
        return signing.ring()
    except Exception:  # no configuration to read: the file's own keys
        return SigningRing.public(dict(data.get("public_keys") or {}))


def verify_record(record: Record) -> list[Finding]:
    """The findings of one archived record (its entries, snapshot, signatures, blocks)."""
    entries = list(ArchiveEntry.objects.filter(record=record))
    if not entries:
        return (
            [
                Finding(
                    kind="inserted",
                    detail="archived, but not in the chain",
                    organisation_id=record.organisation_id,
                    record_id=record.pk,
                    talk_id=record.talk_id,
                )
            ]
            if record.state == RecordState.ARCHIVED
            else []
        )
    ring = signing.ring()
    found = _check_entries(entries)
    for entry in entries:
        link = Link(
            seq=entry.seq,
            prev_hash=entry.prev_hash,
            hash=entry.hash,
            key_id=entry.key_id,
            fields=entry.link_fields(),
        )
        message = link_message(link.key_id, link.prev_hash, link.fields)
        if not ring.verifies(link.key_id, message, link.hash):
            found.append(
                Finding(
                    kind="altered",
                    detail="chain: its seal does not match its contents",
                    organisation_id=entry.organisation_id,
                    seq=entry.seq,
                    record_id=record.pk,
                    talk_id=record.talk_id,
                )
            )
    return found


def heads() -> Iterable[dict[str, Any]]:
    """Each organisation's chain head, to keep elsewhere (external anchoring)."""
    for head in ArchiveHead.objects.order_by("organisation_id"):
        yield {"organisation": head.organisation_id, "seq": head.seq, "hash": head.hash}
