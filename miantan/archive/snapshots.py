"""The canonical snapshot of a record, and the evidence of a signature, as bytes to hash and sign.

Canonicalisation (docs/architecture.md, "Signed records"): JSON, UTF-8 without escaping of
non-ASCII characters, object keys sorted, no whitespace between tokens, times as ISO 8601 in
UTC to the microsecond, integers as integers; anything else as its string (`miantan.core.chain
.canonical`). The same values always give the same bytes, in any process.

A snapshot holds what the two people confirmed: the talk, the two people (id, number, name as
they were at signing), the template version and every block's values in a fixed order. The
`blocks` part is also recomputed from the live rows when the archive is verified, so an edit
of a locked block is found even when the stored snapshot is left alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from miantan.core.chain import canonical

FORMAT = "miantan.record/1"
ADDENDUM_FORMAT = "miantan.addendum/1"
EVIDENCE_FORMAT = "miantan.signature/1"


def utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def blocks_part(blocks: Iterable[Any]) -> list[dict[str, Any]]:
    ordered = sorted(blocks, key=lambda b: (b.section, b.side, b.position, b.pk))
    return [
        {"section": b.section, "side": b.side, "position": b.position, "values": b.values}
        for b in ordered
    ]


def snapshot_of(record: Any, blocks: Iterable[Any]) -> dict[str, Any]:
    """The snapshot of `record` (with talk, people and template version loaded) as it is."""
    talk = record.talk
    employee, manager = talk.employee, talk.counterpart
    version = record.template_version
    return {
        "format": FORMAT,
        "organisation": record.organisation_id,
        "talk": talk.pk,
        "record": record.pk,
        "version": record.version,
        "topic": talk.topic,
        "held_at": utc(talk.scheduled_start),
        "employee": {"id": employee.pk, "number": employee.employee_number, "name": employee.name},
        "manager": {"id": manager.pk, "number": manager.employee_number, "name": manager.name},
        "template": {"id": version.template_id, "version": version.number},
        "confirmed_at": utc(record.confirmed_at),
        "blocks": blocks_part(blocks),
    }


def encode(snapshot: dict[str, Any]) -> str:
    return canonical(snapshot).decode()


def digest(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def decode(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError("not a record snapshot")
    return value


def same_blocks(snapshot: dict[str, Any], blocks: Iterable[Any]) -> bool:
    """The live blocks hold what the snapshot says (compared as canonical bytes)."""
    return canonical({"b": snapshot.get("blocks")}) == canonical({"b": blocks_part(blocks)})


def addendum_of(addendum: Any, record: Any) -> dict[str, Any]:
    """What both sides sign for an addendum: its text, who wrote it when, and the archived
    version of the record it adds to, by that version's snapshot hash."""
    author = addendum.written_by
    return {
        "format": ADDENDUM_FORMAT,
        "organisation": addendum.organisation_id,
        "talk": record.talk_id,
        "record": record.pk,
        "amends": {"version": addendum.record_version, "snapshot_sha256": addendum.amends_sha256},
        "number": addendum.number,
        "side": addendum.side,
        "author": {"id": author.pk, "number": author.employee_number, "name": author.name},
        "written_at": utc(addendum.written_at),
        "text": addendum.text,
    }


def decode_addendum(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict) or value.get("format") != ADDENDUM_FORMAT:
        raise ValueError("not an addendum")
    return value


def evidence_of(signature: Any) -> dict[str, Any]:
    """What the server signs for a signature (from its stored fields); a signature of an
    addendum names it too."""
    evidence = {
        "format": EVIDENCE_FORMAT,
        "organisation": signature.organisation_id,
        "record": signature.record_id,
        "version": signature.record_version,
        "side": signature.side,
        "signer": signature.signer_id,
        "signed_at": utc(signature.signed_at),
        "ip": signature.ip or "",
        "user_agent": signature.user_agent,
        "template_version": signature.template_version,
        "snapshot_sha256": signature.snapshot_sha256,
        "method": signature.method,
        "dissent": signature.dissent,
        "dissent_reason": signature.dissent_reason,
        "handwriting_sha256": signature.handwriting_sha256,
        "provider": signature.provider,
    }
    addendum = getattr(signature, "addendum_id", None)
    if addendum is not None:
        evidence["addendum"] = addendum
    return evidence


def evidence_bytes(signature: Any) -> bytes:
    return canonical(evidence_of(signature))
