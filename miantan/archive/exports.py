"""Exports of an archived record (PRODUCT.md D5): the document the PDF shows, and the JSON
export that `manage.py verify_archive --file` checks without the database.

Callers have passed the permission layer (`queries.signing_of`) and audit the export."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from django.utils import translation

from miantan.audit.services import record as write_audit
from miantan.core import signing
from miantan.interviews.enums import Topic
from miantan.records.definitions import localized, parse
from miantan.records.enums import Filler, RecordState
from miantan.records.models import Block, Record
from miantan.records.queries import as_lines

from . import snapshots
from .document import (
    ArchiveDocument,
    DocumentAddendum,
    DocumentAppeal,
    DocumentLine,
    DocumentSection,
    DocumentSignature,
)
from .models import Addendum, AddendumState, Appeal, ArchiveEntry, Signature, SigningSide, Snapshot

EXPORT_FORMAT = "miantan.archive-export/1"


def _entry(record: Record) -> ArchiveEntry | None:
    return ArchiveEntry.objects.filter(
        record=record, record_version=record.version, addendum__isnull=True
    ).first()


def document_of(record: Record, language: str) -> ArchiveDocument:
    """What the PDF of an archived record shows, in `language`."""
    talk = record.talk
    definition = parse(record.template_version.definition)
    blocks = list(Block.objects.filter(record=record).order_by("position", "side", "pk"))
    signatures = list(
        Signature.objects.filter(record=record, addendum__isnull=True)
        .select_related("signer")
        .order_by("record_version", "signed_at")
    )
    appeals = list(Appeal.objects.filter(record=record).select_related("opened_by", "resolved_by"))
    snapshot = Snapshot.objects.filter(record=record, version=record.version).first()
    entry = _entry(record)
    addenda = _addenda(record)
    ring = signing.ring()
    with translation.override(language):
        sections = []
        for section in definition.sections:
            for block in (b for b in blocks if b.section == section.key):
                if section.filled_by == Filler.HR and not block.values:
                    continue
                lines = tuple(
                    DocumentLine(label=label, value=value)
                    for label, value in _labelled(section, block.values)
                )
                title = localized(section.title)
                if block.side:
                    title = f"{title} ({SigningSide(block.side).label})"
                sections.append(
                    DocumentSection(
                        title=title, filled_by=str(Filler(section.filled_by).label), lines=lines
                    )
                )
        document = ArchiveDocument(
            language=language,
            organisation=talk.organisation.name,
            talk_id=talk.pk,
            topic=str(Topic(talk.topic).label),
            employee_name=talk.employee.name,
            employee_number=talk.employee.employee_number,
            department=talk.employee.department.name,
            manager_name=talk.counterpart.name,
            held_at=talk.scheduled_start,
            template_name=str(record.template_version.template),
            template_version=record.template_version.number,
            record_version=record.version,
            snapshot_sha256=snapshot.sha256 if snapshot else "",
            chain_seq=entry.seq if entry else None,
            chain_seal=entry.hash if entry else "",
            public_key=ring.public_hex(),
            sections=tuple(sections),
            signatures=tuple(_document_signature(s) for s in signatures),
            appeals=tuple(
                DocumentAppeal(
                    opened_at=a.opened_at,
                    opened_by=a.opened_by.name,
                    reason=a.reason,
                    state_label=str(a.get_state_display()),
                    outcome_label=str(a.get_outcome_display()) if a.outcome else "",
                    resolution=a.resolution,
                    resolved_by=a.resolved_by.name if a.resolved_by else "",
                    resolved_at=a.resolved_at,
                )
                for a in appeals
            ),
            addenda=tuple(
                DocumentAddendum(
                    number=item.addendum.number,
                    author=item.addendum.written_by.name,
                    side_label=str(SigningSide(item.addendum.side).label),
                    written_at=item.addendum.written_at,
                    text=item.addendum.text,
                    state_label=str(item.addendum.get_state_display()),
                    sha256=item.addendum.sha256,
                    chain_seq=item.entry.seq if item.entry else None,
                    signatures=tuple(_document_signature(s) for s in item.signatures),
                )
                for item in addenda
            ),
        )
    return document


@dataclass(frozen=True)
class SignedAddendum:
    addendum: Addendum
    signatures: list[Signature]
    entry: ArchiveEntry | None


def _addenda(record: Record) -> list[SignedAddendum]:
    """The record's addenda with their signatures and chain entries."""
    addenda = list(
        Addendum.objects.filter(record=record).select_related("written_by").order_by("number")
    )
    signatures: dict[int, list[Signature]] = {}
    for signature in (
        Signature.objects.filter(addendum__in=addenda)
        .select_related("signer")
        .order_by("signed_at", "pk")
    ):
        signatures.setdefault(signature.addendum_id or 0, []).append(signature)
    entries = {e.addendum_id: e for e in ArchiveEntry.objects.filter(addendum__in=addenda)}
    return [SignedAddendum(a, signatures.get(a.pk, []), entries.get(a.pk)) for a in addenda]


def _document_signature(s: Signature) -> DocumentSignature:
    return DocumentSignature(
        side=s.side,
        side_label=str(SigningSide(s.side).label),
        name=s.signer.name,
        signed_at=s.signed_at,
        method=str(s.get_method_display()),
        ip=s.ip or "",
        user_agent=s.user_agent,
        record_version=s.record_version,
        snapshot_sha256=s.snapshot_sha256,
        server_signature=s.server_signature,
        key_id=s.key_id,
        provider=s.provider,
        dissent=s.dissent,
        dissent_reason=s.dissent_reason,
        handwriting_png=base64.b64decode(s.handwriting) if s.handwriting else None,
    )


def _labelled(section: Any, values: dict[str, Any]) -> list[tuple[str, str]]:
    """The block's values as (label, value) lines, as the record page shows them."""
    out: list[tuple[str, str]] = []
    for line in as_lines(section, values):
        label, colon, value = line.partition(": ")
        out.append((label, value) if colon else ("", line))
    return out


def json_export(record: Record) -> dict[str, Any]:
    """The archived record's snapshot, signatures and chain entry, with the public keys
    they verify with: `verify_archive --file` checks it without the database."""
    if record.state != RecordState.ARCHIVED:
        raise ValueError("only an archived record is exported")
    snapshot = Snapshot.objects.get(record=record, version=record.version)
    signatures = list(
        Signature.objects.filter(
            record=record, record_version=record.version, addendum__isnull=True
        ).order_by("side")
    )
    entry = _entry(record)
    ring = signing.ring()
    return {
        "format": EXPORT_FORMAT,
        "snapshot": snapshot.content,
        "snapshot_sha256": snapshot.sha256,
        "signatures": [_signature_json(s) for s in signatures],
        "chain": _chain_json(entry),
        # Archived addenda only: one waiting for its second signature is not yet part of it.
        "addenda": [
            {
                "content": item.addendum.content,
                "sha256": item.addendum.sha256,
                "signatures": [_signature_json(s) for s in item.signatures],
                "chain": _chain_json(item.entry),
            }
            for item in _addenda(record)
            if item.addendum.state == AddendumState.ARCHIVED
        ],
        "public_keys": {key_id: ring.public_hex(key_id) for key_id in ring.keys},
    }


def _signature_json(s: Signature) -> dict[str, Any]:
    return {
        "evidence": snapshots.evidence_of(s),
        "server_signature": s.server_signature,
        "key_id": s.key_id,
        "provider": s.provider,
    }


def _chain_json(entry: ArchiveEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "seq": entry.seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "key_id": entry.key_id,
        "fields": {**entry.link_fields(), "archived_at": snapshots.utc(entry.archived_at)},
    }


def json_bytes(record: Record) -> bytes:
    return json.dumps(json_export(record), ensure_ascii=False, indent=2, sort_keys=True).encode()


def audit_export(user: Any, record: Record, kind: str) -> None:
    talk = record.talk
    write_audit(
        "archive.record.exported",
        actor=user,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data={"format": kind, "version": record.version},
    )
