"""Who may read and write what in a talk's record (seeds 001 and 002: the employee writes the
self-assessment, the manager the assessment, HR its checks; both confirm).

A person's part in a record is their *side*: the talk's employee, its counterpart (the
"manager" side, whoever leads the talk), or HR for the employee's department. Administrators
and HR follow records; only the two people of the talk confirm them. Colleagues @mentioned in
a section read that section and nothing else.

The services refuse whatever these deny; the record page asks the same to show its buttons.
"""

from __future__ import annotations

from typing import Any

from miantan.interviews.models import Talk
from miantan.interviews.rules import is_hr_or_admin_for_talk
from miantan.people.models import Employee
from miantan.people.rules import is_admin, is_hr, is_hr_for, is_hr_for_whole_organisation
from miantan.people.scopes import scope_for

from .definitions import Section
from .enums import WRITABLE_STATES, Filler, RecordState, Side
from .models import Block, Record

# The sides that write the sections each kind of filler names.
WRITERS: dict[str, frozenset[str]] = {
    Filler.EMPLOYEE: frozenset({Side.EMPLOYEE}),
    Filler.MANAGER: frozenset({Side.MANAGER}),
    Filler.HR: frozenset({Side.HR}),
    Filler.BOTH: frozenset({Side.EMPLOYEE, Side.MANAGER}),
}
# The two sides that confirm a record.
CONFIRMING_SIDES = (Side.EMPLOYEE, Side.MANAGER)


def own_employee(user: Any) -> Employee | None:
    employee = scope_for(user).employee
    return employee if employee is not None and employee.is_active else None


def side_of(user: Any, talk: Talk) -> str | None:
    """The user's side in the talk's record, or None when they only follow it (or not)."""
    own = own_employee(user)
    if own is None or own.organisation_id != talk.organisation_id:
        return None
    if own.pk == talk.employee_id:
        return Side.EMPLOYEE
    if own.pk == talk.counterpart_id:
        return Side.MANAGER
    if is_hr_for.test(user, talk.employee):
        return Side.HR
    return None


def follows(user: Any, talk: Talk) -> bool:
    """HR partners and administrators of the employee read the whole record (never private
    notes); they write only HR sections (HR partners) and comments."""
    return bool(is_hr_or_admin_for_talk.test(user, talk))


def may_open(side: str | None, talk: Talk) -> bool:
    """The two people open a record once the talk is scheduled (to prepare) or held."""
    from miantan.interviews.enums import TalkState

    return side in CONFIRMING_SIDES and talk.state in (
        TalkState.SCHEDULED,
        TalkState.IN_PROGRESS,
    )


def writes(side: str | None, section: Section) -> bool:
    """The side is one of the section's writers (whatever the record's state)."""
    return side is not None and side in WRITERS[section.filled_by]


def may_write(side: str | None, section: Section, record: Record, block: Block) -> bool:
    """Write a block now: the section is the side's, the record still open, a sealed block
    is the side's own and not yet submitted."""
    if record.state not in WRITABLE_STATES or not writes(side, section):
        return False
    if section.per_side:
        return block.side == side and block.submitted_at is None
    return True


def may_read(side: str | None, section: Section, block: Block, blocks: list[Block]) -> bool:
    """Read a block: everything, except the other side's copy of a sealed section before both
    copies are submitted (HR and followers wait for both too)."""
    if not section.per_side:
        return True
    if side == block.side:
        return True
    copies = [b for b in blocks if b.section == block.section]
    return bool(copies) and all(b.submitted_at is not None for b in copies)


def may_submit(side: str | None, section: Section, record: Record, block: Block) -> bool:
    return section.per_side and may_write(side, section, record, block)


def may_comment(side: str | None, record: Record) -> bool:
    """The two people and HR comment while the record is written."""
    return side is not None and record.state in WRITABLE_STATES


def may_confirm(side: str | None, record: Record) -> bool:
    """Each of the two people confirms once the talk is held, until both have."""
    return side in CONFIRMING_SIDES and record.state == RecordState.IN_PROGRESS


def is_locked(record: Record) -> bool:
    return record.state not in WRITABLE_STATES


# --- notes, attachments and after-talk feedback (records.notes, .attachments, .feedback) ---


def may_write_notes(side: str | None, record: Record) -> bool:
    """The two people keep notes while the record is written (a formal note is signed with
    it, so none changes once the record is confirmed)."""
    return side in CONFIRMING_SIDES and record.state in WRITABLE_STATES


def may_read_shared_notes(side: str | None) -> bool:
    """Shared notes are for the two people of the talk only: not HR, not administrators."""
    return side in CONFIRMING_SIDES


def may_attach(side: str | None, record: Record) -> bool:
    """The two people and HR add files while the record is written."""
    return side is not None and record.state in WRITABLE_STATES


def may_give_feedback(side: str | None, record: Record) -> bool:
    """The employee's takeaways and rating, once the talk has been held."""
    return side == Side.EMPLOYEE and record.state != RecordState.PREPARING


def may_give_requirements(side: str | None, record: Record) -> bool:
    """The manager side's improvement requirements, once the talk has been held."""
    return side == Side.MANAGER and record.state != RecordState.PREPARING


# --- record templates (PRODUCT.md C1; records.templates) --------------------------------------
# Every HR partner and administrator of the organisation reads its templates; a template asks
# the same of everyone, so only HR for the whole organisation and administrators change them.
can_view_record_templates = is_hr | is_admin
can_edit_record_templates = is_admin | is_hr_for_whole_organisation


# --- the script library (PRODUCT.md C7; records.scripts) ---------------------------------------
# Scripts, like templates, hold for the whole organisation: the same people read and change them.
# During a talk only its interviewer (the manager side) is offered them, and puts them in notes.


def may_use_scripts(side: str | None) -> bool:
    return side == Side.MANAGER
