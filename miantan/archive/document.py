"""What a signed record's export shows (PDF and JSON): plain values, read once from the
database by `archive.exports`, so that rendering knows nothing of models or permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class DocumentLine:
    """One filled field of a section: its label and its value as text (a table as lines)."""

    label: str
    value: str


@dataclass(frozen=True)
class DocumentSection:
    title: str
    filled_by: str  # "the employee", "the manager", "both sides" in the document's language
    lines: tuple[DocumentLine, ...]


@dataclass(frozen=True)
class DocumentSignature:
    side: str  # "employee" | "manager"
    side_label: str
    name: str
    signed_at: datetime  # UTC, server clock
    method: str  # "password" | "one-time code"
    ip: str
    user_agent: str
    record_version: int
    snapshot_sha256: str
    server_signature: str  # Ed25519 over the evidence, hex
    key_id: str
    provider: str
    dissent: bool = False
    dissent_reason: str = ""
    handwriting_png: bytes | None = None


@dataclass(frozen=True)
class DocumentAppeal:
    opened_at: datetime
    opened_by: str
    reason: str
    state_label: str
    outcome_label: str = ""
    resolution: str = ""
    resolved_by: str = ""
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class DocumentAddendum:
    """A later addition to the archived record, signed by both sides (or waiting for the
    second signature)."""

    number: int
    author: str
    side_label: str
    written_at: datetime
    text: str
    state_label: str
    sha256: str
    chain_seq: int | None
    signatures: tuple[DocumentSignature, ...]


@dataclass(frozen=True)
class ArchiveDocument:
    language: str  # "zh-hans" | "en"
    organisation: str
    talk_id: int
    topic: str
    employee_name: str
    employee_number: str
    department: str
    manager_name: str
    held_at: datetime | None
    template_name: str
    template_version: int
    record_version: int
    snapshot_sha256: str
    chain_seq: int | None
    chain_seal: str
    public_key: str  # the deployment's Ed25519 public key, hex
    sections: tuple[DocumentSection, ...]
    signatures: tuple[DocumentSignature, ...]
    appeals: tuple[DocumentAppeal, ...] = field(default=())
    addenda: tuple[DocumentAddendum, ...] = field(default=())
