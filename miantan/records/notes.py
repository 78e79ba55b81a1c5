"""Notes about a talk in three tiers (PRODUCT.md C6).

- **private**: only its author ever reads it. The body is sealed under a key derived for the
  author (`Note.body_context`: "records.note.private:<author id>"); no query, page, API
  operation, admin page or export opens another author's private note, for HR,
  administrators and superusers alike (`notes_for` does not even load them).
- **shared**: the two people of the talk read it (not HR, not administrators).
- **formal**: part of what the two people confirm and sign; everyone who may see the record
  reads it. A change to a formal note raises the record's version, which withdraws a
  confirmation given before it.

The two people write notes while the record is written (preparing, in progress); only the
author edits, deletes or promotes a note, and a note only moves upwards
(private → shared → formal), re-sealed for its new readers. Every write and every reading of
the notes is audited (`records.note.*`), never with the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.crypto import decrypt, encrypt
from miantan.core.errors import ConflictError, InvalidFields
from miantan.core.ids import as_id
from miantan.people.models import Employee

from .enums import TIER_ORDER, NoteTier
from .models import Note, Record
from .rules import (
    CONFIRMING_SIDES,
    follows,
    may_read_shared_notes,
    may_write_notes,
    own_employee,
    side_of,
)

MAX_NOTE = 5000


class InvalidNote(InvalidFields):
    error_code = "invalid_note"


@dataclass(frozen=True)
class NoteView:
    """A note as its reader sees it: the plain text, and what the reader may do with it."""

    note: Note
    text: str
    mine: bool
    editable: bool
    promotable_to: tuple[str, ...]

    @property
    def tier(self) -> str:
        return self.note.tier

    @property
    def tier_label(self) -> str:
        return str(NoteTier(self.note.tier).label)


# --- reading ----------------------------------------------------------------------------------


def notes_for(user: Any, record: Record) -> list[NoteView]:
    """The notes of the record the user may read, oldest first, with their plain text: their
    own private notes, the shared ones for the two people, the formal ones for everyone who
    sees the record. Other authors' private notes are not even loaded. Audited as
    `records.note.viewed` when notes of others are read."""
    talk = record.talk
    own = own_employee(user)
    readable = _readable(user, record)
    if readable is None or own is None:
        return []
    notes = list(
        Note.objects.filter(record=record)
        .filter(readable)
        .select_related("author")
        .order_by("created_at", "pk")
    )
    # Reading one's own notes is no reading of someone else's: the employee's access log would
    # otherwise tell that the other side keeps private notes.
    others = sum(1 for note in notes if note.author_id != own.pk)
    if others:
        audit(
            "records.note.viewed",
            actor=user,
            obj=record,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"notes": others},
        )
    writable = may_write_notes(side_of(user, talk), record)
    return [_view(note, own=own, writable=writable) for note in notes]


def access_note(user: Any, record: Record, note_id: Any) -> Note:
    """One note of the record that the user may read, else 404 (audited): another author's
    private note, a shared note for HR, an id of another record look the same."""
    pk = as_id(note_id)
    readable = _readable(user, record)
    note = None
    if pk is not None and readable is not None:
        note = Note.objects.filter(record=record, pk=pk).filter(readable).first()
    if note is None:
        talk = record.talk
        audit(
            "records.note.viewed",
            actor=user,
            outcome=Outcome.DENIED,
            object_type="records.note",
            object_id=str(note_id)[:64],
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise Http404
    note.record = record
    return note


def view_of(user: Any, note: Note) -> NoteView:
    """One note as `user` sees it, for one who may read it (its author after a change)."""
    own = own_employee(user)
    if own is None:
        raise Http404
    record = note.record
    return _view(note, own=own, writable=may_write_notes(side_of(user, record.talk), record))


def note_text(note: Note) -> str:
    """The note's plain text. Callers have checked that the reader may read it."""
    return decrypt(note.body, context=note.body_context())


def _readable(user: Any, record: Record) -> Q | None:
    """Which notes of the record the user reads, as a filter; None for nobody."""
    talk = record.talk
    own = own_employee(user)
    side = side_of(user, talk)
    if own is None or (side is None and not follows(user, talk)):
        return None
    readable = Q(tier=NoteTier.FORMAL)
    if may_read_shared_notes(side):
        readable |= Q(tier=NoteTier.SHARED)
        # Only the two people write notes, so only they have private ones.
        readable |= Q(tier=NoteTier.PRIVATE, author_id=own.pk)
    return readable


def _view(note: Note, *, own: Employee, writable: bool) -> NoteView:
    mine = note.author_id == own.pk
    editable = mine and writable
    higher = TIER_ORDER[TIER_ORDER.index(NoteTier(note.tier)) + 1 :]
    return NoteView(
        note=note,
        text=note_text(note),
        mine=mine,
        editable=editable,
        promotable_to=tuple(str(tier) for tier in higher) if editable else (),
    )


# --- writing ----------------------------------------------------------------------------------


def add_note(record: Record, *, actor: Any, body: str, tier: str = NoteTier.PRIVATE) -> Note:
    """A new note by one of the two people, private unless they say otherwise."""
    own = _writer(actor, record, "records.note.added")
    text = _clean(body)
    chosen = _tier(tier)
    with transaction.atomic():
        note = Note(record=record, author=own, tier=chosen)
        note.body = encrypt(text, context=note.body_context())
        note.save(force_insert=True)
        _audit("records.note.added", actor, note, data={"tier": chosen})
        if chosen == NoteTier.FORMAL:
            _formal_changed(record, actor=actor, by=own)
    return note


def edit_note(note: Note, *, actor: Any, body: str) -> Note:
    """The author changes the text; the note keeps its tier."""
    own = _author(note, actor, "records.note.edited")
    text = _clean(body)
    with transaction.atomic():
        note.body = encrypt(text, context=note.body_context())
        note.updated_at = timezone.now()
        note.save(update_fields=["body", "updated_at"])
        _audit("records.note.edited", actor, note, data={"tier": note.tier})
        if note.tier == NoteTier.FORMAL:
            _formal_changed(note.record, actor=actor, by=own)
    return note


def delete_note(note: Note, *, actor: Any) -> None:
    """The author removes the note (a formal one only while the record is written)."""
    own = _author(note, actor, "records.note.deleted")
    with transaction.atomic():
        _audit("records.note.deleted", actor, note, data={"tier": note.tier})
        tier, record = note.tier, note.record
        note.delete()
        if tier == NoteTier.FORMAL:
            _formal_changed(record, actor=actor, by=own)


def promote_note(note: Note, *, actor: Any, to_tier: str) -> Note:
    """The author shows a note to more people: private → shared → formal, never back. The
    text is opened with the old tier's key and sealed again with the new one's."""
    own = _author(note, actor, "records.note.promoted")
    target = _tier(to_tier)
    before = NoteTier(note.tier)
    if TIER_ORDER.index(target) <= TIER_ORDER.index(before):
        raise ConflictError(
            _("A note can only be shown to more people: private, then shared, then formal."),
            code="not_upwards",
        )
    with transaction.atomic():
        text = note_text(note)
        note.tier = target
        note.body = encrypt(text, context=note.body_context())
        note.promoted_at = note.updated_at = timezone.now()
        note.save(update_fields=["tier", "body", "promoted_at", "updated_at"])
        _audit("records.note.promoted", actor, note, data={"from": before, "to": target})
        if target == NoteTier.FORMAL:
            _formal_changed(note.record, actor=actor, by=own)
    return note


def _author(note: Note, actor: Any, action: str) -> Employee:
    """The actor wrote the note and may still change it."""
    own = _writer(actor, note.record, action)
    if note.author_id != own.pk:
        _refuse(action, actor, note.record)
    return own


def _writer(actor: Any, record: Record, action: str) -> Employee:
    """The actor is one of the two people and the record is still written."""
    own = own_employee(actor)
    side = side_of(actor, record.talk)
    if own is None or side not in CONFIRMING_SIDES:
        _refuse(action, actor, record)
    if not may_write_notes(side, record):
        # One of the two people, after the record was confirmed.
        raise ConflictError(
            _("The record is confirmed: its notes no longer change."), code="locked"
        )
    return own


def _clean(body: Any) -> str:
    text = str(body or "").strip()
    if not text:
        raise InvalidNote({"body": _("Write the note first.")})
    if len(text) > MAX_NOTE:
        raise InvalidNote(
            {
                "body": _("Keep it to %(limit)s characters (it has %(length)s).")
                % {"limit": MAX_NOTE, "length": len(text)}
            }
        )
    return text


def _tier(value: Any) -> NoteTier:
    try:
        return NoteTier(str(value))
    except ValueError:
        raise InvalidNote({"tier": _("Choose private, shared or formal.")}) from None


def _formal_changed(record: Record, *, actor: Any, by: Employee) -> None:
    """A formal note is part of what is confirmed: its change raises the record's version and
    withdraws a confirmation given before it, as a change of a section does."""
    from .services import bump_version, tell_withdrawn

    current = Record.objects.select_for_update().select_related("talk").get(pk=record.pk)
    withdrawn = bump_version(current, timezone.now())
    if withdrawn:
        tell_withdrawn(current, withdrawn, actor=actor, by=by)
    record.version = current.version


def _audit(action: str, actor: Any, note: Note, *, data: dict[str, Any]) -> None:
    talk = note.record.talk
    audit(
        action,
        actor=actor,
        obj=note,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data=data,
    )


def _refuse(action: str, actor: Any, record: Record) -> NoReturn:
    talk = record.talk
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    raise PermissionDenied


__all__ = [
    "MAX_NOTE",
    "InvalidNote",
    "NoteView",
    "access_note",
    "add_note",
    "delete_note",
    "edit_note",
    "note_text",
    "notes_for",
    "promote_note",
    "view_of",
]
