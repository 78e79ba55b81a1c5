"""Signing a confirmed record, appeals, and archiving (PRODUCT.md D1–D4).

Rules in one place: who may sign (the talk's two people, each for their side, once both
confirmed), who resolves an appeal (HR in scope of the employee), and that an archived record
has no update path here at all. Pages and API call these functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core import signing
from miantan.core.chain import GENESIS, link_hash
from miantan.core.errors import ConflictError, DomainError
from miantan.interviews.enums import TalkEvent, TalkState
from miantan.interviews.services import transition
from miantan.records import live
from miantan.records.enums import RecordState, Side
from miantan.records.models import Block, Record
from miantan.records.rules import own_employee, side_of

from . import snapshots
from .models import (
    Appeal,
    AppealOutcome,
    AppealState,
    ArchiveEntry,
    ArchiveHead,
    AuthMethod,
    Signature,
    SigningSide,
    Snapshot,
)
from .providers import provider

SIGNING_SIDES = (Side.EMPLOYEE, Side.MANAGER)
MAX_HANDWRITING_BYTES = 200_000
MAX_REASON = 4000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReauthenticationFailed(DomainError):
    status_code = 403


def may_sign(side: str | None, record: Record) -> bool:
    return side in SIGNING_SIDES and record.state == RecordState.CONFIRMED


def may_resolve_appeal(side: str | None) -> bool:
    return side == Side.HR


def reauthenticate(actor: Any, password: str, *, ip: str | None) -> str:
    """Check the signer's password at this moment (counted against the sign-in limits).
    Returns the method used; raises ReauthenticationFailed."""
    from miantan.accounts import services as accounts
    from miantan.accounts.forms import locked_out_message

    username = actor.get_username()
    if not password:
        raise ReauthenticationFailed(
            _("Enter your password to sign: signing needs it at that moment."), code="reauth"
        )
    lockout = accounts.reserve_password_check(username, ip=ip)
    if lockout is not None:
        accounts.note_refused_login(username, lockout=lockout)
        raise ReauthenticationFailed(locked_out_message(lockout), code="locked_out")
    if not actor.check_password(password):
        accounts.note_failed_login(username)
        raise ReauthenticationFailed(
            _("The password is not correct; the record was not signed."), code="reauth"
        )
    return AuthMethod.PASSWORD


def decode_handwriting(data: str) -> bytes:
    """A drawn signature from the page: a PNG as base64 or a data: URL ("" for none)."""
    text = (data or "").strip()
    if not text:
        return b""
    if text.startswith("data:"):
        head, _comma, text = text.partition(",")
        if head != "data:image/png;base64":
            raise DomainError(_("The drawn signature must be a PNG image."), code="handwriting")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError(_("The drawn signature could not be read."), code="handwriting") from None
    if not raw.startswith(PNG_MAGIC):
        raise DomainError(_("The drawn signature must be a PNG image."), code="handwriting")
    if len(raw) > MAX_HANDWRITING_BYTES:
        raise DomainError(_("The drawn signature is too large."), code="handwriting")
    return raw


def sign_record(
    record: Record,
    *,
    actor: Any,
    password: str,
    dissent: bool = False,
    reason: str = "",
    handwriting: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> Signature:
    """The actor signs the record, for their side, as both confirmed it, after re-entering
    their password. The employee may sign with "I disagree" and a reason, which opens an
    appeal. Once both sides signed the version and no appeal is open on it, the record is
    archived. Signing twice, or twice at once, leaves one signature per side."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    if own is None or side not in SIGNING_SIDES:
        _deny("archive.record.signed", actor, record)
    reason = (reason or "").strip()
    if dissent and side != Side.EMPLOYEE:
        raise DomainError(_("Only the employee can sign with a disagreement."), code="dissent")
    if dissent and not reason:
        raise DomainError(_("Say what you disagree with."), code="reason")
    if len(reason) > MAX_REASON:
        raise DomainError(_("The reason is too long."), code="reason")
    png = decode_handwriting(handwriting)
    _check_ready(record, side)
    try:
        method = reauthenticate(actor, password, ip=ip)
    except ReauthenticationFailed:
        audit(
            "archive.signature.refused",
            actor=actor,
            outcome=Outcome.DENIED,
            obj=record,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"side": side},
        )
        raise
    try:
        with transaction.atomic():
            current = (
                Record.objects.select_for_update()
                .select_related("talk", "talk__employee", "talk__counterpart", "template_version")
                .get(pk=record.pk)
            )
            _check_ready(current, side)
            snapshot = _snapshot(current)
            signature = Signature(
                record=current,
                organisation_id=current.organisation_id,
                record_version=current.version,
                side=side,
                signer=own,
                signed_at=timezone.now(),
                ip=ip or None,
                user_agent=(user_agent or "")[:400],
                template_version=current.template_version.number,
                snapshot_sha256=snapshot.sha256,
                method=method,
                dissent=dissent,
                dissent_reason=reason if dissent else "",
                handwriting=base64.b64encode(png).decode() if png else "",
                handwriting_sha256=hashlib.sha256(png).hexdigest() if png else "",
            )
            signer = provider()
            signature.provider = signer.name
            made = signer.sign(snapshots.evidence_bytes(signature), signer=own)
            signature.key_id, signature.server_signature = made.key_id, made.signature
            signature.provider_evidence = made.evidence
            signature.save(force_insert=True)
            audit(
                "archive.record.signed",
                actor=actor,
                obj=current,
                subject_id=talk.employee_id,
                organisation_id=talk.organisation_id,
                data={
                    "side": side,
                    "version": current.version,
                    "dissent": dissent,
                    "snapshot_sha256": snapshot.sha256,
                },
            )
            if dissent:
                appeal = Appeal.objects.create(
                    record=current,
                    organisation_id=current.organisation_id,
                    signature=signature,
                    record_version=current.version,
                    opened_by=own,
                    reason=reason,
                )
                audit(
                    "archive.appeal.opened",
                    actor=actor,
                    obj=appeal,
                    subject_id=talk.employee_id,
                    organisation_id=talk.organisation_id,
                    data={"record": current.pk, "version": current.version},
                )
            _archive_when_complete(current, actor=actor)
    except IntegrityError:
        # Two signing requests of one side at once: the other one's signature stands.
        raise ConflictError(_("You have already signed this record."), code="signed") from None
    return signature


def resolve_appeal(appeal: Appeal, *, actor: Any, outcome: str, resolution: str) -> Appeal:
    """HR in scope of the employee resolves an open appeal: upheld or withdrawn (the record
    stands as signed, and is archived once both signed), or amended (the record goes back to
    both sides to change; they confirm and sign the new version; the thread stays)."""
    record = appeal.record
    talk = record.talk
    own = own_employee(actor)
    if own is None or not may_resolve_appeal(side_of(actor, talk)):
        _deny("archive.appeal.resolved", actor, record, obj=appeal)
    resolution = (resolution or "").strip()
    if outcome not in AppealOutcome.values:
        raise DomainError(_("Choose how the appeal is resolved."), code="outcome")
    if not resolution:
        raise DomainError(_("Give the reason for the decision."), code="resolution")
    if len(resolution) > MAX_REASON:
        raise DomainError(_("The reason is too long."), code="resolution")
    with transaction.atomic():
        current = Appeal.objects.select_for_update().get(pk=appeal.pk)
        if current.state != AppealState.OPEN:
            raise ConflictError(_("This appeal was resolved already."), code="resolved")
        locked = Record.objects.select_for_update().select_related("talk").get(pk=record.pk)
        current.state = AppealState.RESOLVED
        current.outcome = outcome
        current.resolution = resolution
        current.resolved_by = own
        current.resolved_at = timezone.now()
        current.save(update_fields=["state", "outcome", "resolution", "resolved_by", "resolved_at"])
        audit(
            "archive.appeal.resolved",
            actor=actor,
            obj=current,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"outcome": outcome, "record": locked.pk, "version": current.record_version},
        )
        if outcome == AppealOutcome.AMENDED:
            _reopen(locked, actor=actor)
        else:
            _archive_when_complete(locked, actor=actor)
    return current


# --- helpers ----------------------------------------------------------------------------------


def _check_ready(record: Record, side: str | None) -> None:
    if record.state == RecordState.ARCHIVED:
        raise ConflictError(_("This record is signed and archived."), code="archived")
    if not may_sign(side, record):
        raise ConflictError(
            _("The record can be signed once both sides have confirmed it."), code="not_ready"
        )
    if Signature.objects.filter(record=record, record_version=record.version, side=side).exists():
        raise ConflictError(_("You have already signed this record."), code="signed")


def _snapshot(record: Record) -> Snapshot:
    existing = Snapshot.objects.filter(record=record, version=record.version).first()
    if existing is not None:
        return existing
    blocks = list(Block.objects.filter(record=record))
    content = snapshots.encode(snapshots.snapshot_of(record, blocks))
    return Snapshot.objects.create(
        record=record, version=record.version, content=content, sha256=snapshots.digest(content)
    )


def _archive_when_complete(record: Record, *, actor: Any) -> ArchiveEntry | None:
    """Archive the record (inside the caller's transaction, the record locked) once both
    sides signed its version and no appeal on it is open."""
    signed = {
        s.side: s for s in Signature.objects.filter(record=record, record_version=record.version)
    }
    if set(signed) != set(SIGNING_SIDES):
        return None
    if Appeal.objects.filter(
        record=record, record_version=record.version, state=AppealState.OPEN
    ).exists():
        return None
    entry = _append(record, signed)
    record.state = RecordState.ARCHIVED
    record.updated_at = timezone.now()
    record.save(update_fields=["state", "updated_at"])
    talk = record.talk
    transition(talk, TalkState.ARCHIVED, actor=actor, event=TalkEvent.ARCHIVED)
    audit(
        "archive.record.archived",
        actor=actor,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data={"seq": entry.seq, "version": record.version, "hash": entry.hash},
    )
    live.announce_state(talk.pk, record.state, by=None)
    return entry


def _append(record: Record, signed: dict[str, Signature]) -> ArchiveEntry:
    """The record's entry at the end of its organisation's chain. The head row is locked,
    so appends of one organisation take turns and the sequence has no gaps."""
    ArchiveHead.objects.get_or_create(organisation_id=record.organisation_id)
    head = ArchiveHead.objects.select_for_update().get(organisation_id=record.organisation_id)
    ring = signing.ring()
    entry = ArchiveEntry(
        organisation_id=record.organisation_id,
        seq=head.seq + 1,
        record=record,
        record_version=record.version,
        snapshot_sha256=signed[Side.EMPLOYEE].snapshot_sha256,
        signatures={side: signed[side].server_signature for side in SIGNING_SIDES},
        archived_at=timezone.now(),
        prev_hash=head.hash or GENESIS,
        key_id=ring.current_id,
    )
    entry.hash = link_hash(ring, entry.key_id, entry.prev_hash, entry.link_fields())
    entry.save(force_insert=True)
    head.seq, head.hash = entry.seq, entry.hash
    head.save(update_fields=["seq", "hash"])
    return entry


def _reopen(record: Record, *, actor: Any) -> None:
    """Back to both sides for an amendment: writable again, confirmations withdrawn, and a
    new version, which both sign afresh (the signatures of the old one stay in the file)."""
    record.state = RecordState.IN_PROGRESS
    record.version += 1
    record.confirmed_at = None
    record.employee_confirmed_at = record.manager_confirmed_at = None
    record.employee_confirmed_version = record.manager_confirmed_version = None
    record.updated_at = timezone.now()
    record.save(
        update_fields=[
            "state",
            "version",
            "confirmed_at",
            "employee_confirmed_at",
            "manager_confirmed_at",
            "employee_confirmed_version",
            "manager_confirmed_version",
            "updated_at",
        ]
    )
    transition(record.talk, TalkState.IN_PROGRESS, actor=actor, event=TalkEvent.AMENDED)
    live.announce_state(record.talk_id, record.state, by=None)


def _deny(action: str, actor: Any, record: Record, *, obj: Any = None) -> NoReturn:
    talk = record.talk
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj if obj is not None else record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    raise PermissionDenied


__all__ = [
    "ReauthenticationFailed",
    "SigningSide",
    "decode_handwriting",
    "may_resolve_appeal",
    "may_sign",
    "resolve_appeal",
    "sign_record",
]
