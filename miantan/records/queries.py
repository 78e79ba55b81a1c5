"""Reading a talk's record as one person may see it: which sections, which copies of sealed
sections, comments, what they may do next, the revisions of a block with their differences.

`record_page` answers with a fixed number of queries whatever the size of the record or of
the organisation (the talk, the record, its blocks, comments, mentions, revision counts).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from miantan.audit.enums import Outcome
from miantan.audit.services import record as write_audit
from miantan.core.ids import as_id
from miantan.interviews.models import Talk
from miantan.interviews.rules import can_view_talk

from . import definitions
from .definitions import Definition, Field, Section, localized
from .enums import Filler, RecordState, Side
from .models import Block, BlockRevision, Comment, Mention, Record
from .rules import (
    CONFIRMING_SIDES,
    is_locked,
    may_comment,
    may_confirm,
    may_open,
    may_read,
    may_submit,
    may_write,
    own_employee,
    side_of,
    writes,
)


@dataclass
class BlockView:
    block: Block
    side: str
    readable: bool
    writable: bool
    submittable: bool
    revisions: int

    @property
    def values(self) -> dict[str, Any]:
        return self.block.values if self.readable else {}


@dataclass
class SectionView:
    section: Section
    blocks: list[BlockView]
    comments: list[Comment]
    mine: bool  # the viewer writes this section

    @property
    def title(self) -> str:
        return localized(self.section.title)

    @property
    def help(self) -> str:
        return localized(self.section.help)

    @property
    def filled_by_label(self) -> str:
        return str(Filler(self.section.filled_by).label)


@dataclass
class RecordPage:
    talk: Talk
    record: Record | None
    side: str | None
    definition: Definition | None
    sections: list[SectionView] = field(default_factory=list)
    limited_to: set[str] | None = None  # a mentioned colleague sees only these sections
    can_open: bool = False
    can_confirm: bool = False
    can_comment: bool = False
    can_flag: bool = False  # the employee asks for lines of the other side's text to be corrected
    missing: list[str] = field(default_factory=list)

    @property
    def participant(self) -> bool:
        """The viewer is one of the talk's two people."""
        return self.side in CONFIRMING_SIDES

    @property
    def locked(self) -> bool:
        return self.record is not None and is_locked(self.record)

    @property
    def confirmations(self) -> list[tuple[str, bool, Any]]:
        """(side label, confirmed now, when) for the two people."""
        if self.record is None:
            return []
        record = self.record
        return [
            (
                str(Side(side).label),
                record.confirmed_by(side),
                record.employee_confirmed_at
                if side == Side.EMPLOYEE
                else record.manager_confirmed_at,
            )
            for side in CONFIRMING_SIDES
        ]

    @property
    def confirmed_by_me(self) -> bool:
        return (
            self.record is not None
            and self.side in CONFIRMING_SIDES
            and self.record.confirmed_by(self.side)
        )

    @property
    def next_step(self) -> str:
        """What this person does next, in one sentence (no dead ends)."""
        record, side = self.record, self.side
        if record is None:
            if self.can_open:
                return _("Open the record to prepare your part before the talk.")
            return _("The record opens when the talk starts.")
        if record.state == RecordState.CONFIRMED:
            return _("Both sides confirmed the record: it is ready to sign.")
        if self.limited_to is not None:
            return _(
                "You were mentioned in this record: you can read the sections that mention you."
            )
        if side not in CONFIRMING_SIDES:
            if side == Side.HR and any(view.mine for view in self.sections):
                return _(
                    "Fill in the HR sections and comment where needed; the two people confirm."
                )
            if side == Side.HR:
                return _(
                    "You follow this record and may comment; the two people write and confirm it."
                )
            return _("You follow this record; the two people write and confirm it.")
        if record.state == RecordState.PREPARING:
            return _("Prepare your sections; you confirm after the talk has started.")
        if self.confirmed_by_me:
            return _("You confirmed. The record waits for the other side's confirmation.")
        if self.missing:
            return _("Fill in your sections, then confirm.")
        return _("Read the record and confirm it when it says what was agreed.")


def access_record(
    user: Any, talk_id: Any, *, audit: bool = True, contents: bool = True
) -> RecordPage:
    """The record of a talk as the user may see it, or 404 (audited): the talk's people, HR
    and administrators following the employee, and colleagues mentioned in one of its sections
    (those see only that section). `audit=False` for the live room's re-checks: the visit was
    audited when the page was opened and the room joined; `contents=False` when only who may
    see it matters (no blocks, comments or revisions are read)."""
    audit_it = audit
    pk = as_id(talk_id)
    own = own_employee(user)
    talk = None
    if own is not None and pk is not None:
        talk = (
            Talk.objects.filter(pk=pk, organisation_id=own.organisation_id)
            .select_related("employee__department", "counterpart__department", "organisation")
            .first()
        )
    limited: set[str] | None = None
    if talk is not None and not can_view_talk.test(user, talk):
        limited = set(
            Mention.objects.filter(record__talk=talk, employee=own).values_list(
                "section", flat=True
            )
        )
        if not limited:
            talk = None
    if talk is None:
        if not audit_it:
            raise Http404
        write_audit(
            "records.record.viewed",
            actor=user,
            outcome=Outcome.DENIED,
            object_type="records.record",
            object_id=str(talk_id)[:64],
            organisation_id=own.organisation_id if own is not None else None,
        )
        raise Http404
    record = Record.objects.filter(talk=talk).select_related("template_version__template").first()
    side = side_of(user, talk) if limited is None else None
    page = RecordPage(talk=talk, record=record, side=side, definition=None, limited_to=limited)
    if audit_it:
        write_audit(
            "records.record.viewed",
            actor=user,
            obj=record if record is not None else talk,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"sections": sorted(limited)} if limited is not None else None,
        )
    if record is None:
        page.can_open = may_open(side, talk)
        return page
    record.talk = talk
    page.definition = definitions.parse(record.template_version.definition)
    if contents:
        _fill(page, record)
    return page


def _fill(page: RecordPage, record: Record) -> None:
    blocks = list(record.blocks.select_related("updated_by").order_by("position", "side"))
    counts = dict(
        BlockRevision.objects.filter(block__record=record)
        .values_list("block_id")
        .annotate(n=Count("pk"))
        .values_list("block_id", "n")
    )
    comments: dict[str, list[Comment]] = defaultdict(list)
    for comment in Comment.objects.filter(record=record).select_related("author", "resolved_by"):
        comments[comment.section].append(comment)
    side = page.side
    assert page.definition is not None
    for section in page.definition.sections:
        if page.limited_to is not None and section.key not in page.limited_to:
            continue
        mine = [b for b in blocks if b.section == section.key]
        views = [
            BlockView(
                block=block,
                side=block.side,
                readable=may_read(side, section, block, mine),
                writable=may_write(side, section, record, block),
                submittable=may_submit(side, section, record, block),
                revisions=counts.get(block.pk, 0),
            )
            for block in mine
        ]
        if section.per_side and side in CONFIRMING_SIDES:
            # One's own copy first.
            views.sort(key=lambda view: view.side != side)
        page.sections.append(
            SectionView(
                section=section,
                blocks=views,
                comments=comments.get(section.key, []),
                mine=writes(side, section),
            )
        )
    if page.limited_to is None:
        page.can_confirm = may_confirm(side, record) and not record.confirmed_by(side or "")
        page.can_comment = may_comment(side, record)
        page.can_flag = side == Side.EMPLOYEE and page.can_comment
        page.missing = missing_for(side, page.definition, blocks)


def missing_for(side: str | None, definition: Definition, blocks: list[Block]) -> list[str]:
    """What the side still has to fill (required fields of its sections) or hand in (its copy
    of a sealed section), one line per section."""
    missing = []
    for section in definition.sections:
        if not writes(side, section):
            continue
        for block in blocks:
            if block.section != section.key or (section.per_side and block.side != side):
                continue
            fields = definitions.missing_required(section, block.values)
            title = localized(section.title)
            if fields:
                missing.append(
                    _("%(section)s (%(fields)s)")
                    % {"section": title, "fields": pgettext("list of fields", ", ").join(fields)}
                )
            elif section.per_side and block.submitted_at is None:
                missing.append(_("%(section)s: hand in your part") % {"section": title})
    return missing


# --- revisions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionView:
    revision: BlockRevision
    changes: list[tuple[str, str]]  # ("+" | "-" | " ", line)


def revisions_of(
    user: Any, talk_id: Any, block_id: Any
) -> tuple[RecordPage, SectionView, list[RevisionView]]:
    """Every revision of one block the user may read, newest first, each with what it changed
    against the one before."""
    page = access_record(user, talk_id)
    pk = as_id(block_id)
    view = next(
        (
            (section, block)
            for section in page.sections
            for block in section.blocks
            if block.block.pk == pk and block.readable
        ),
        None,
    )
    if view is None:
        raise Http404
    section, block = view
    revisions = list(
        BlockRevision.objects.filter(block_id=block.block.pk)
        .select_related("author")
        .order_by("version")
    )
    shown: list[RevisionView] = []
    before: list[str] = []
    for revision in revisions:
        lines = as_lines(section.section, revision.values)
        shown.append(RevisionView(revision=revision, changes=_diff(before, lines)))
        before = lines
    shown.reverse()
    return page, section, shown


def as_lines(section: Section, values: dict[str, Any]) -> list[str]:
    """A block's values as readable lines ("label: value"), the form a diff compares."""
    entries = values.get("items", []) if section.repeatable else [values]
    numbered = section.repeatable and len(entries) > 1
    lines: list[str] = []
    for number, entry in enumerate(entries, start=1):
        prefix = f"{number}. " if numbered else ""
        for spec in section.fields:
            value = entry.get(spec.key)
            if value in (None, "", []):
                continue
            for text in _field_lines(spec, value):
                lines.append(f"{prefix}{localized(spec.label)}: {text}")
    return lines


def _field_lines(spec: Field, value: Any) -> list[str]:
    if spec.type == definitions.FieldType.GOALS:
        return [
            " · ".join(str(goal.get(key) or "") for key in definitions.GOAL_KEYS if goal.get(key))
            for goal in value
        ]
    if spec.type == definitions.FieldType.KPI_TABLE:
        return [
            f"{row.get('name', '')}: {row.get('comment', '')}"
            for row in value
            if row.get("comment")
        ]
    if spec.type == definitions.FieldType.CHOICE:
        choice = next((c for c in spec.choices if c.value == value), None)
        return [localized(choice.label) if choice else str(value)]
    if spec.type == definitions.FieldType.NUMBER and spec.unit:
        return [f"{value} {spec.unit}"]
    if spec.type == definitions.FieldType.RATING:
        anchor = localized(spec.anchors.get(str(value)))
        return [f"{value}" + (f"（{anchor}）" if anchor else "")]
    return str(value).splitlines() or [""]


def _diff(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    changes = []
    for line in difflib.ndiff(before, after):
        mark = line[:1]
        if mark in ("+", "-", " "):
            changes.append((mark, line[2:]))
    return changes


def record_link(user: Any, talk: Talk) -> dict[str, Any] | None:
    """What the talk page offers about the record (one query): a link to it once it exists,
    for everyone who sees the talk; a button to open it for the two people of a scheduled
    talk, to prepare; nothing otherwise."""
    record = Record.objects.filter(talk=talk).only("pk", "state", "talk_id").first()
    if record is not None:
        label = (
            _("Prepare the record")
            if record.state == RecordState.PREPARING
            else _("Open the record")
        )
        return {"exists": True, "state": record.state, "label": label}
    if may_open(side_of(user, talk), talk):
        return {"exists": False, "label": _("Prepare the record")}
    return None


def live_stamps(record: Record) -> dict[str, str]:
    """A signature per section of what the record page shows of it (its blocks' versions and
    hand-ins, its comments and their resolution), and of the record's state: two queries.
    The polling fallback sends back only the sections whose signature changed."""
    from django.db.models import Count, Max

    signatures: dict[str, list[str]] = defaultdict(list)
    for section, side, version, submitted in (
        Block.objects.filter(record=record)
        .order_by("section", "side")
        .values_list("section", "side", "version", "submitted_at")
    ):
        signatures[section].append(f"{side}{version}{'s' if submitted else ''}")
    for row in (
        Comment.objects.filter(record=record)
        .values("section")
        .annotate(n=Count("pk"), newest=Max("pk"), resolved=Max("resolved_at"))
        .order_by("section")
    ):
        resolved = row["resolved"].timestamp() if row["resolved"] else 0
        signatures[row["section"]].append(f"c{row['n']}-{row['newest']}-{resolved:.0f}")
    stamps = {section: "-".join(parts) for section, parts in signatures.items()}
    stamps["_state"] = f"{record.state}.{record.version}"
    return stamps


def encode_stamps(stamps: dict[str, str]) -> str:
    return "|".join(f"{key}:{value}" for key, value in sorted(stamps.items()))


def decode_stamps(text: str) -> dict[str, str]:
    pairs = (item.partition(":") for item in (text or "").split("|") if item)
    return {key: value for key, _colon, value in pairs}


def block_of(page: RecordPage, block_id: Any) -> tuple[Section, Block] | None:
    """One block of the page's record with its section (one query), whatever the viewer may
    write: the services decide that."""
    pk = as_id(block_id)
    if page.record is None or page.definition is None or pk is None:
        return None
    block = Block.objects.filter(record=page.record, pk=pk).first()
    section = page.definition.section(block.section) if block is not None else None
    if block is None or section is None:
        return None
    if page.limited_to is not None and section.key not in page.limited_to:
        return None
    return section, block


def readable_block(page: RecordPage, block_id: Any) -> tuple[SectionView, BlockView] | None:
    """One block of the page that its viewer may read, with its section; None otherwise (the
    pages and the API answer 404)."""
    pk = as_id(block_id)
    for section in page.sections:
        for view in section.blocks:
            if view.block.pk == pk and view.readable:
                return section, view
    return None
