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

from . import messages, snapshots
from .models import (
    Addendum,
    AddendumState,
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
MAX_ADDENDUM = 10_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ReauthenticationFailed(DomainError):
    status_code = 403


def may_sign(side: str | None, record: Record) -> bool:
    return side in SIGNING_SIDES and record.state == RecordState.CONFIRMED


def may_resolve_appeal(side: str | None) -> bool:
    return side == Side.HR


def may_add_addendum(side: str | None, record: Record) -> bool:
    """The talk's two people add to an archived record (the record itself never changes)."""
    return side in SIGNING_SIDES and record.state == RecordState.ARCHIVED


def may_sign_addendum(side: str | None, addendum: Addendum) -> bool:
    """The other one of the two signs an addendum its author signed."""
    return (
        side in SIGNING_SIDES and side != addendum.side and addendum.state == AddendumState.AWAITING
    )


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
            _("The password is not correct; nothing was signed."), code="reauth"
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
    method = _reauthenticate_audited(actor, password, ip=ip, record=record, side=side)
    try:
        with transaction.atomic():
            current = (
                Record.objects.select_for_update()
                .select_related("talk", "talk__employee", "talk__counterpart", "template_version")
                .get(pk=record.pk)
            )
            _check_ready(current, side)
            snapshot = _snapshot(current)
            signature = _signature(
                current,
                side=side,
                signer=own,
                sha256=snapshot.sha256,
                method=method,
                handwriting=png,
                ip=ip,
                user_agent=user_agent,
                dissent=dissent,
                reason=reason,
            )
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
                messages.queue_appeal_opened(appeal)
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
        messages.queue_appeal_resolved(current)
        if outcome == AppealOutcome.AMENDED:
            _reopen(locked, actor=actor)
        else:
            _archive_when_complete(locked, actor=actor)
    return current


def add_addendum(
    record: Record,
    *,
    actor: Any,
    text: str,
    password: str,
    handwriting: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> Addendum:
    """One of the talk's two people adds to the archived record and signs the addendum (after
    re-entering their password); the other then signs it too (`sign_addendum`), and it is
    archived. One addendum waits for its second signature at a time."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    if own is None or not may_add_addendum(side, record) or side is None:
        if record.state != RecordState.ARCHIVED and side in SIGNING_SIDES:
            raise ConflictError(
                _("An addendum is added to an archived record; this one is not archived."),
                code="not_archived",
            )
        _deny("archive.addendum.added", actor, record)
    text = (text or "").strip()
    if not text:
        raise DomainError(_("Write what the addendum says."), code="text")
    if len(text) > MAX_ADDENDUM:
        raise DomainError(_("The addendum is too long."), code="text")
    png = decode_handwriting(handwriting)
    _check_no_addendum_waiting(record)
    method = _reauthenticate_audited(actor, password, ip=ip, record=record, side=side)
    with transaction.atomic():
        current = (
            Record.objects.select_for_update()
            .select_related("talk", "talk__employee", "talk__counterpart", "template_version")
            .get(pk=record.pk)
        )
        _check_no_addendum_waiting(current)
        base = Snapshot.objects.get(record=current, version=current.version)
        last = Addendum.objects.filter(record=current).order_by("-number").first()
        addendum = Addendum(
            record=current,
            organisation_id=current.organisation_id,
            number=(last.number if last else 0) + 1,
            record_version=current.version,
            amends_sha256=base.sha256,
            side=side,
            written_by=own,
            written_at=timezone.now(),
            text=text,
        )
        addendum.content = snapshots.encode(snapshots.addendum_of(addendum, current))
        addendum.sha256 = snapshots.digest(addendum.content)
        addendum.save(force_insert=True)
        _signature(
            current,
            side=side,
            signer=own,
            sha256=addendum.sha256,
            method=method,
            handwriting=png,
            ip=ip,
            user_agent=user_agent,
            addendum=addendum,
        )
        audit(
            "archive.addendum.added",
            actor=actor,
            obj=addendum,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"record": current.pk, "number": addendum.number, "sha256": addendum.sha256},
        )
        messages.queue_addendum_to_sign(addendum)
    return addendum


def sign_addendum(
    addendum: Addendum,
    *,
    actor: Any,
    password: str,
    handwriting: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> Signature:
    """The other one of the two signs the addendum; it is then archived in the chain."""
    record = addendum.record
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    if own is None or side not in SIGNING_SIDES or side is None:
        _deny("archive.addendum.signed", actor, record, obj=addendum)
    if side == addendum.side:
        raise ConflictError(_("You have already signed this addendum."), code="signed")
    if addendum.state != AddendumState.AWAITING:
        raise ConflictError(_("This addendum is signed and archived."), code="archived")
    png = decode_handwriting(handwriting)
    method = _reauthenticate_audited(actor, password, ip=ip, record=record, side=side)
    try:
        with transaction.atomic():
            current = (
                Addendum.objects.select_for_update()
                .select_related("record__template_version", "record__talk")
                .get(pk=addendum.pk)
            )
            if not may_sign_addendum(side, current):
                raise ConflictError(_("This addendum is signed and archived."), code="archived")
            signature = _signature(
                current.record,
                side=side,
                signer=own,
                sha256=current.sha256,
                method=method,
                handwriting=png,
                ip=ip,
                user_agent=user_agent,
                addendum=current,
            )
            signed = {s.side: s for s in Signature.objects.filter(addendum=current)}
            entry = _append(current.record, signed, addendum=current)
            current.state = AddendumState.ARCHIVED
            current.archived_at = entry.archived_at
            current.save(update_fields=["state", "archived_at"])
            audit(
                "archive.addendum.archived",
                actor=actor,
                obj=current,
                subject_id=talk.employee_id,
                organisation_id=talk.organisation_id,
                data={"record": record.pk, "number": current.number, "seq": entry.seq},
            )
    except IntegrityError:
        raise ConflictError(_("You have already signed this addendum."), code="signed") from None
    return signature


# --- helpers ----------------------------------------------------------------------------------


def _check_ready(record: Record, side: str | None) -> None:
    if record.state == RecordState.ARCHIVED:
        raise ConflictError(_("This record is signed and archived."), code="archived")
    if not may_sign(side, record):
        raise ConflictError(
            _("The record can be signed once both sides have confirmed it."), code="not_ready"
        )
    if Signature.objects.filter(
        record=record, record_version=record.version, side=side, addendum__isnull=True
    ).exists():
        raise ConflictError(_("You have already signed this record."), code="signed")


def _signature(
    record: Record,
    *,
    side: str,
    signer: Any,
    sha256: str,
    method: str,
    handwriting: bytes,
    ip: str | None,
    user_agent: str,
    dissent: bool = False,
    reason: str = "",
    addendum: Addendum | None = None,
) -> Signature:
    """A signature with its evidence, sealed by the signature provider, saved."""
    signature = Signature(
        record=record,
        addendum=addendum,
        organisation_id=record.organisation_id,
        record_version=addendum.record_version if addendum is not None else record.version,
        side=side,
        signer=signer,
        signed_at=timezone.now(),
        ip=ip or None,
        user_agent=(user_agent or "")[:400],
        template_version=record.template_version.number,
        snapshot_sha256=sha256,
        method=method,
        dissent=dissent,
        dissent_reason=reason if dissent else "",
        handwriting=base64.b64encode(handwriting).decode() if handwriting else "",
        handwriting_sha256=hashlib.sha256(handwriting).hexdigest() if handwriting else "",
    )
    made = provider()
    signature.provider = made.name
    sealed = made.sign(snapshots.evidence_bytes(signature), signer=signer)
    signature.key_id, signature.server_signature = sealed.key_id, sealed.signature
    signature.provider_evidence = sealed.evidence
    signature.save(force_insert=True)
    return signature


def _check_no_addendum_waiting(record: Record) -> None:
    if Addendum.objects.filter(record=record, state=AddendumState.AWAITING).exists():
        raise ConflictError(
            _("An addendum to this record waits for its second signature: sign it first."),
            code="addendum_waiting",
        )


def _reauthenticate_audited(
    actor: Any, password: str, *, ip: str | None, record: Record, side: str | None
) -> str:
    try:
        return reauthenticate(actor, password, ip=ip)
    except ReauthenticationFailed:
        talk = record.talk
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
        s.side: s
        for s in Signature.objects.filter(
            record=record, record_version=record.version, addendum__isnull=True
        )
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


def _append(
    record: Record, signed: dict[str, Signature], *, addendum: Addendum | None = None
) -> ArchiveEntry:
    """The record's (or an addendum's) entry at the end of its organisation's chain. The head
    row is locked, so appends of one organisation take turns and the sequence has no gaps."""
    ArchiveHead.objects.get_or_create(organisation_id=record.organisation_id)
    head = ArchiveHead.objects.select_for_update().get(organisation_id=record.organisation_id)
    ring = signing.ring()
    entry = ArchiveEntry(
        organisation_id=record.organisation_id,
        seq=head.seq + 1,
        record=record,
        record_version=addendum.record_version if addendum is not None else record.version,
        addendum=addendum,
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
    "add_addendum",
    "decode_handwriting",
    "may_resolve_appeal",
    "may_sign",
    "resolve_appeal",
    "sign_addendum",
    "sign_record",
]
