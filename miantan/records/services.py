"""Writing a talk's record: opening it from the template, saving blocks (never over the other
side's newer text), submitting sealed blocks, comments, and both sides' confirmation.

Each write checks the rules (`records.rules`) for the actor's side, runs in one transaction,
records an audit event and tells the other side. A save names the block version it was based
on; when the block has moved on meanwhile, `StaleBlock` carries the newer text back instead
of overwriting it. A change after a side confirmed withdraws that confirmation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import ConflictError, DomainError, InvalidFields
from miantan.core.ids import as_id
from miantan.interviews.enums import TalkEvent, TalkState
from miantan.interviews.models import Talk
from miantan.interviews.services import start_talk, transition
from miantan.people.models import Employee

from . import definitions, live
from .definitions import Definition, Section
from .enums import CommentKind, RecordEvent, RecordState, Side
from .messages import queue_record_notification
from .models import Block, BlockRevision, Comment, Record, Template, TemplateVersion
from .queries import as_lines as queries_lines
from .queries import missing_for
from .rules import (
    CONFIRMING_SIDES,
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

MAX_COMMENT = 2000
# Saves by one author within this time are one revision (autosave while typing).
REVISION_WINDOW = timedelta(minutes=5)


class StaleBlock(ConflictError):
    """The block was saved by somebody else since the version the save was based on."""

    def __init__(self, block: Block) -> None:
        who = block.updated_by.name if block.updated_by is not None else ""
        super().__init__(
            _(
                "%(name)s saved this section while you were editing it. Their text is shown; "
                "nothing of yours was saved: copy what you still need and save again."
            )
            % {"name": who},
            code="stale",
        )
        self.block = block


class UnknownBlock(DomainError):
    """The block is not one of the record's (pages and API answer 404)."""

    status_code = 404


class IncompleteRecord(DomainError):
    """Confirming needs the side's required fields filled and sealed blocks submitted."""


def definition_of(record: Record) -> Definition:
    return definitions.parse(record.template_version.definition)


# --- opening --------------------------------------------------------------------------------


def open_record(talk: Talk, *, actor: Any) -> Record:
    """The talk's record, created from the template for its topic the first time one of the
    two people opens it (while the talk is scheduled, to prepare, or held)."""
    existing = Record.objects.filter(talk=talk).first()
    if existing is not None:
        return existing
    side = side_of(actor, talk)
    if not may_open(side, talk):
        _deny("records.record.opened", actor, talk)
    state = (
        RecordState.IN_PROGRESS if talk.state == TalkState.IN_PROGRESS else RecordState.PREPARING
    )
    try:
        with transaction.atomic():
            version = _locked_version(talk)
            definition = definitions.parse(version.definition)
            record = Record.objects.create(
                talk=talk,
                organisation_id=talk.organisation_id,
                template_version=version,
                state=state,
                hints=_hints(talk),
            )
            _create_blocks(record, definition, talk)
            audit(
                "records.record.opened",
                actor=actor,
                obj=record,
                subject_id=talk.employee_id,
                organisation_id=talk.organisation_id,
                data={"template": version.template_id, "version": version.number},
            )
    except IntegrityError:
        # The other side opened it at the same moment: theirs is the record.
        return Record.objects.get(talk=talk)
    return record


def start_record(talk: Talk, *, actor: Any) -> Record:
    """Start the talk ("开始面谈") and open its record for both sides."""
    with transaction.atomic():
        start_talk(talk, actor=actor)
        record = open_record(talk, actor=actor)
        if record.state == RecordState.PREPARING:
            record.state = RecordState.IN_PROGRESS
            record.save(update_fields=["state", "updated_at"])
    return record


def start_due_talks(*, now: datetime | None = None, limit: int = 200) -> int:
    """Talks whose time has come start by themselves: the record opens for both sides even if
    nobody pressed "start". Run by the worker's loop; safe to run from several workers."""
    now = now or timezone.now()
    due = list(
        Talk.objects.filter(state=TalkState.SCHEDULED, scheduled_start__lte=now)
        .select_related("organisation", "employee", "counterpart")
        .order_by("scheduled_start")[:limit]
    )
    started = 0
    for talk in due:
        try:
            with transaction.atomic():
                transition(talk, TalkState.IN_PROGRESS, actor=None, event=TalkEvent.STARTED)
                record = Record.objects.filter(talk=talk).first()
                if record is None:
                    record = _create_record(talk)
                elif record.state == RecordState.PREPARING:
                    record.state = RecordState.IN_PROGRESS
                    record.save(update_fields=["state", "updated_at"])
        except ConflictError:
            continue  # another worker, or one of the two, started it meanwhile
        started += 1
    return started


def _locked_version(talk: Talk) -> TemplateVersion:
    """The current version of the topic's template, its template row locked until the record
    is created: HR editing the template in place at that moment waits, then makes a new
    version, since a record now uses this one."""
    from .templates import template_for_topic

    chosen = template_for_topic(talk.organisation, talk.topic)
    template = Template.objects.select_for_update().get(pk=chosen.template_id)
    if template.current_id is None or template.current_id == chosen.pk:
        return chosen
    return TemplateVersion.objects.get(pk=template.current_id)


def create_record(talk: Talk) -> Record:
    """The talk's record, opened in progress without anybody's action (the talk's time came;
    demo and benchmark data)."""
    with transaction.atomic():
        return _create_record(talk)


def _create_record(talk: Talk) -> Record:
    version = _locked_version(talk)
    record = Record.objects.create(
        talk=talk,
        organisation_id=talk.organisation_id,
        template_version=version,
        state=RecordState.IN_PROGRESS,
        hints=_hints(talk),
    )
    _create_blocks(record, definitions.parse(version.definition), talk)
    return record


def _create_blocks(record: Record, definition: Definition, talk: Talk) -> None:
    kpi_rows = _kpi_rows(record.hints)
    blocks = []
    for position, section in enumerate(definition.sections):
        values = definitions.empty_values(section)
        for spec in section.fields:
            if spec.type == definitions.FieldType.KPI_TABLE and not section.repeatable:
                values[spec.key] = kpi_rows
        sides = CONFIRMING_SIDES if section.per_side else ("",)
        for side in sides:
            blocks.append(
                Block(
                    record=record, section=section.key, side=side, position=position, values=values
                )
            )
    Block.objects.bulk_create(blocks)


def _hints(talk: Talk) -> dict[str, Any]:
    """What the record shows beside the fields, taken once when it opens: last talk's plan,
    the KPIs (actual, target, team) and the targets missed, projects of the period."""
    from miantan.metrics.gaps import gaps_for
    from miantan.metrics.models import ProjectContribution

    employee = Employee.objects.select_related("department").get(pk=talk.employee_id)
    kpis = []
    missed = []
    for gap in gaps_for(employee).kpis:
        latest = gap.latest
        row = {
            "kpi": gap.kpi.code,
            "name": gap.kpi.name,
            "unit": gap.kpi.unit,
            "actual": latest.actual if latest else None,
            "target": gap.target,
            "team": latest.team_average if latest else None,
            "period": latest.label if latest else "",
        }
        kpis.append(row)
        if gap.flags:
            missed.append(row)
    projects = [
        {"project": p.project, "role": p.role, "completion": _number(p.completion)}
        for p in ProjectContribution.objects.filter(employee=employee).order_by("-pk")[:5]
    ]
    return {
        "kpis": kpis,
        "missed": missed,
        "projects": projects,
        "previous": _previous_plan(talk),
    }


def _previous_plan(talk: Talk) -> dict[str, Any]:
    """The goals and plans written in the employee's last confirmed record."""
    previous = (
        Record.objects.filter(
            talk__employee_id=talk.employee_id,
            state=RecordState.CONFIRMED,
        )
        .exclude(talk=talk)
        .select_related("template_version", "talk")
        .order_by("-confirmed_at")
        .first()
    )
    if previous is None:
        return {}
    definition = definition_of(previous)
    goals: list[dict[str, Any]] = []
    for block in previous.blocks.all():
        section = definition.section(block.section)
        if section is None:
            continue
        for spec in section.fields:
            if spec.type == definitions.FieldType.GOALS:
                goals.extend(block.values.get(spec.key) or [])
    return {
        "talk": previous.talk_id,
        "date": previous.confirmed_at.date().isoformat() if previous.confirmed_at else "",
        "goals": goals[: definitions.MAX_ITEMS],
    }


def _kpi_rows(hints: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {key: row.get(key) for key in ("kpi", "name", "unit", "actual", "target", "team")}
        | {"comment": ""}
        for row in hints.get("kpis", [])
    ]


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None


# --- blocks ---------------------------------------------------------------------------------


def save_block(
    record: Record, block_id: int, *, actor: Any, values: Any, base_version: int
) -> Block:
    """Save one section's values, based on the block version the writer last saw."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    definition = definition_of(record)
    section = _section_of(record, definition, block_id)
    if own is None or not writes(side, section):
        _deny("records.block.saved", actor, talk, obj=record)
    with transaction.atomic():
        current = Record.objects.select_for_update().get(pk=record.pk)
        block = (
            Block.objects.select_for_update(of=("self",))
            .select_related("updated_by")
            .get(pk=block_id)
        )
        if not may_write(side, section, current, block):
            raise ConflictError(_not_now(current), code="not_allowed")
        if block.version != base_version:
            raise StaleBlock(block)
        cleaned = definitions.clean_values(section, values)
        if section.per_side is False and _kpi_figures_changed(section, block.values, cleaned):
            raise InvalidFields(
                {"values": _("The KPI figures come from the performance data; add a comment.")}
            )
        now = timezone.now()
        block.values = cleaned
        block.version += 1
        block.updated_by = own
        block.updated_at = now
        block.save(update_fields=["values", "version", "updated_by", "updated_at"])
        _keep_revision(block, own, now)
        withdrawn = bump_version(current, now)
        audit(
            "records.block.saved",
            actor=actor,
            obj=block,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"section": block.section, "version": block.version},
        )
        if withdrawn:
            tell_withdrawn(current, withdrawn, actor=actor, by=own)
        live.announce_section(talk.pk, block.section, by=own.pk, version=current.version)
    record.version, record.state = current.version, current.state
    return block


def _section_of(record: Record, definition: Definition, block_id: Any) -> Section:
    """The section of one of the record's blocks; an unknown block is refused (404 upstream)."""
    pk = as_id(block_id)
    key = (
        Block.objects.filter(record=record, pk=pk).values_list("section", flat=True).first()
        if pk is not None
        else None
    )
    section = definition.section(key) if key is not None else None
    if section is None:
        raise UnknownBlock(_("This section is not part of the record."), code="unknown_section")
    return section


def _kpi_figures_changed(section: Section, before: dict, after: dict) -> bool:
    """People comment on the KPI rows; the figures stay as the data gave them."""
    for spec in section.fields:
        if spec.type != definitions.FieldType.KPI_TABLE:
            continue
        old = [
            {k: v for k, v in row.items() if k != "comment"} for row in before.get(spec.key) or []
        ]
        new = [
            {k: v for k, v in row.items() if k != "comment"} for row in after.get(spec.key) or []
        ]
        if old != new:
            return True
    return False


def _keep_revision(block: Block, author: Employee, now: datetime) -> None:
    """Every save is kept; saves by the same author within REVISION_WINDOW of their last one
    (autosave while typing) update that revision rather than adding one per keystroke."""
    last = BlockRevision.objects.filter(block=block).order_by("-version").first()
    if last is not None and last.author_id == author.pk and now - last.at <= REVISION_WINDOW:
        last.version, last.values, last.at = block.version, block.values, now
        last.save(update_fields=["version", "values", "at"])
        return
    BlockRevision.objects.create(
        block=block, version=block.version, values=block.values, author=author, at=now
    )


def bump_version(record: Record, now: datetime) -> list[str]:
    """Raise the record's version (any change of what will be signed: a block, a formal note);
    returns the sides whose confirmation this withdraws. Inside the writer's transaction, on
    the locked record."""
    withdrawn: list[str] = [str(side) for side in CONFIRMING_SIDES if record.confirmed_by(side)]
    record.version += 1
    fields = ["version", "updated_at"]
    if withdrawn:
        record.employee_confirmed_at = record.employee_confirmed_version = None
        record.manager_confirmed_at = record.manager_confirmed_version = None
        fields += [
            "employee_confirmed_at",
            "employee_confirmed_version",
            "manager_confirmed_at",
            "manager_confirmed_version",
        ]
    record.updated_at = now
    record.save(update_fields=fields)
    return withdrawn


def tell_withdrawn(record: Record, sides: list[str], *, actor: Any, by: Employee) -> None:
    talk = record.talk
    audit(
        "records.record.withdrawn",
        actor=actor,
        obj=record,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
        data={"sides": sides},
    )
    queue_record_notification(record, RecordEvent.WITHDRAWN, actor=by)


def submit_block(record: Record, block_id: int, *, actor: Any, base_version: int) -> Block:
    """Hand in one's copy of a sealed section: it is shown to the other side once both have."""
    talk = record.talk
    side = side_of(actor, talk)
    definition = definition_of(record)
    section = _section_of(record, definition, block_id)
    if not writes(side, section) or not section.per_side:
        _deny("records.block.submitted", actor, talk, obj=record)
    with transaction.atomic():
        current = Record.objects.select_for_update().get(pk=record.pk)
        block = (
            Block.objects.select_for_update(of=("self",))
            .select_related("updated_by")
            .get(pk=block_id)
        )
        if not may_submit(side, section, current, block):
            raise ConflictError(_not_now(current), code="not_allowed")
        if block.version != base_version:
            raise StaleBlock(block)
        missing = definitions.missing_required(section, block.values)
        if missing:
            raise IncompleteRecord(
                _("Fill in %(fields)s before handing it in.")
                % {"fields": pgettext("list of fields", ", ").join(missing)},
                code="incomplete",
            )
        now = timezone.now()
        block.submitted_at = now
        block.save(update_fields=["submitted_at"])
        bump_version(current, now)
        audit(
            "records.block.submitted",
            actor=actor,
            obj=block,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"section": block.section},
        )
        live.announce_section(talk.pk, block.section, by=None, version=current.version)
    record.version = current.version
    return block


# --- comments -------------------------------------------------------------------------------


def add_comment(record: Record, *, actor: Any, section: str, body: str) -> Comment:
    """A comment on one section; @names in it let those colleagues read that section."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    if own is None or not may_comment(side, record):
        _deny("records.comment.added", actor, talk, obj=record)
    text = (body or "").strip()
    if not text:
        raise InvalidFields({"body": _("Write the comment first.")})
    if len(text) > MAX_COMMENT:
        raise InvalidFields(
            {
                "body": _("Keep it to %(limit)s characters (it has %(length)s).")
                % {"limit": MAX_COMMENT, "length": len(text)}
            }
        )
    if definition_of(record).section(section) is None:
        raise InvalidFields({"section": _("This section is not part of the record.")})
    with transaction.atomic():
        comment = Comment.objects.create(record=record, section=section, author=own, body=text)
        audit(
            "records.comment.added",
            actor=actor,
            obj=comment,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"section": section},
        )
        from .mentions import grant_mentions

        grant_mentions(record, section, text, actor=actor)
        queue_record_notification(
            record, RecordEvent.COMMENTED, actor=own, data={"section": section}
        )
        live.announce_section(talk.pk, section, by=own.pk, version=record.version)
    return comment


def resolve_comment(record: Record, comment_id: int, *, actor: Any) -> Comment:
    """Either of the two people marks a comment as dealt with."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    comment = Comment.objects.filter(record=record, pk=comment_id).first()
    if comment is None:
        raise DomainError(_("This comment is not part of the record."), code="unknown_comment")
    if own is None or side not in CONFIRMING_SIDES or not may_comment(side, record):
        _deny("records.comment.resolved", actor, talk, obj=record)
    if comment.resolved_at is None:
        with transaction.atomic():
            comment.resolved_at = timezone.now()
            comment.resolved_by = own
            comment.save(update_fields=["resolved_at", "resolved_by"])
            audit(
                "records.comment.resolved",
                actor=actor,
                obj=comment,
                subject_id=talk.employee_id,
                organisation_id=talk.organisation_id,
            )
            live.announce_section(talk.pk, comment.section, by=own.pk, version=record.version)
    return comment


MAX_QUOTE = 1000


def _lines_in_every_language(section: Section, values: dict[str, Any]) -> set[str]:
    """The block's lines as any page may have shown them (labels differ by language)."""
    from django.conf import settings
    from django.utils import translation

    lines: set[str] = set()
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            lines.update(queries_lines(section, values))
    return lines


def flag_line(record: Record, block_id: Any, *, actor: Any, line: str, note: str = "") -> Comment:
    """The employee asks for one line of a section the other side wrote to be corrected
    ("please correct"); it shows in place, beside the line, until it is dealt with."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    definition = definition_of(record)
    section = _section_of(record, definition, block_id)
    block = Block.objects.get(record=record, pk=as_id(block_id) or 0)
    if (
        own is None
        or side != Side.EMPLOYEE
        or not may_comment(side, record)
        or writes(side, section)
        or not may_read(side, section, block, list(record.blocks.filter(section=section.key)))
    ):
        _deny("records.comment.flagged", actor, talk, obj=record)
    quote = (line or "").strip()
    text = (note or "").strip()
    if not quote or quote not in _lines_in_every_language(section, block.values):
        raise InvalidFields({"line": _("Choose a line of the section to be corrected.")})
    if len(quote) > MAX_QUOTE or len(text) > MAX_COMMENT:
        raise InvalidFields(
            {"note": _("Keep it to %(limit)s characters.") % {"limit": MAX_COMMENT}}
        )
    with transaction.atomic():
        comment = Comment.objects.create(
            record=record,
            section=section.key,
            kind=CommentKind.CORRECTION,
            block=block,
            quote=quote,
            author=own,
            body=text,
        )
        audit(
            "records.comment.flagged",
            actor=actor,
            obj=comment,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"section": section.key},
        )
        queue_record_notification(
            record, RecordEvent.COMMENTED, actor=own, data={"section": section.key}
        )
        live.announce_section(talk.pk, section.key, by=own.pk, version=record.version)
    return comment


# --- confirmation ---------------------------------------------------------------------------


def confirm_record(record: Record, *, actor: Any, version: int) -> Record:
    """The side confirms the record as it is at `version` (what they saw). Once both sides
    have confirmed the same version, the record is ready to sign and locked for writing."""
    talk = record.talk
    side = side_of(actor, talk)
    own = own_employee(actor)
    definition = definition_of(record)
    if own is None or side not in CONFIRMING_SIDES:
        _deny("records.record.confirmed", actor, talk, obj=record)
    with transaction.atomic():
        current = Record.objects.select_for_update().select_related("talk").get(pk=record.pk)
        if not may_confirm(side, current):
            raise ConflictError(_not_now(current), code="not_allowed")
        if current.version != version:
            raise ConflictError(
                _("The record changed since you read it; read it again before confirming."),
                code="stale",
            )
        missing = missing_for(side, definition, list(current.blocks.all()))
        if missing:
            raise IncompleteRecord(
                _("Before confirming, fill in: %(fields)s.")
                % {"fields": pgettext("list of sections", "; ").join(missing)},
                code="incomplete",
            )
        now = timezone.now()
        if side == Side.EMPLOYEE:
            current.employee_confirmed_at, current.employee_confirmed_version = now, current.version
        else:
            current.manager_confirmed_at, current.manager_confirmed_version = now, current.version
        fields = [
            "employee_confirmed_at",
            "employee_confirmed_version",
            "manager_confirmed_at",
            "manager_confirmed_version",
            "updated_at",
        ]
        both = all(current.confirmed_by(s) for s in CONFIRMING_SIDES)
        if both:
            current.state = RecordState.CONFIRMED
            current.confirmed_at = now
            fields += ["state", "confirmed_at"]
        current.updated_at = now
        current.save(update_fields=fields)
        audit(
            "records.record.confirmed",
            actor=actor,
            obj=current,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
            data={"side": side, "version": current.version, "both": both},
        )
        if both:
            transition(
                current.talk, TalkState.AWAITING_SIGNATURES, actor=actor, event=TalkEvent.CONFIRMED
            )
        queue_record_notification(
            current, RecordEvent.CONFIRMED, actor=own, data={"side": side, "both": both}
        )
        live.announce_state(talk.pk, current.state, by=own.pk)
    return current


def _not_now(record: Record) -> str:
    return _("This cannot be done while the record is “%(state)s”.") % {
        "state": record.get_state_display()
    }


def _deny(action: str, actor: Any, talk: Talk, *, obj: Any = None) -> NoReturn:
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj if obj is not None else talk,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    raise PermissionDenied


__all__ = [
    "IncompleteRecord",
    "StaleBlock",
    "add_comment",
    "confirm_record",
    "open_record",
    "resolve_comment",
    "save_block",
    "start_due_talks",
    "start_record",
    "submit_block",
]
