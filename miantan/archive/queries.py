"""Reading the archive through the permission layer: the signing part of a record page, an
appeal, HR's open appeals, the employee's file. Every read of a personal record is audited;
what the viewer may not see is a 404."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from miantan.audit.enums import Outcome
from miantan.audit.services import record as write_audit
from miantan.core.ids import as_id
from miantan.interviews.rules import can_view_talk
from miantan.people.models import Employee
from miantan.people.queries import access_employee
from miantan.people.scopes import scope_for
from miantan.records.enums import RecordState
from miantan.records.models import Record
from miantan.records.queries import access_record
from miantan.records.rules import own_employee

from .models import Addendum, AddendumState, Appeal, AppealState, ArchiveEntry, Signature
from .rules import sees_whole_file
from .services import (
    SIGNING_SIDES,
    may_add_addendum,
    may_resolve_appeal,
    may_sign,
    may_sign_addendum,
)

SIGNING_STATES = (RecordState.CONFIRMED, RecordState.ARCHIVED)


@dataclass
class AddendumView:
    """An addendum as the record page shows it: its signatures by side, and whether the
    viewer signs it now."""

    addendum: Addendum
    signatures: dict[str, Signature]
    may_sign: bool = False


@dataclass
class Signing:
    """The signing part of a record as the viewer sees it."""

    record: Record
    side: str | None
    signatures: list[Signature]
    appeals: list[Appeal]
    entry: ArchiveEntry | None
    may_sign: bool = False
    may_dissent: bool = False
    resolvable: list[Appeal] = field(default_factory=list)
    addenda: list[AddendumView] = field(default_factory=list)
    may_add_addendum: bool = False

    @property
    def current(self) -> dict[str, Signature]:
        return {s.side: s for s in self.signatures if s.record_version == self.record.version}

    @property
    def waiting_for(self) -> list[str]:
        if self.record.state != RecordState.CONFIRMED:
            return []
        return [side for side in SIGNING_SIDES if side not in self.current]


def was_signed(record: Record) -> bool:
    """Someone signed a version of the record (before an amendment sent it back)."""
    return Signature.objects.filter(record=record, addendum__isnull=True).exists()


def signing_of(user: Any, talk_id: Any) -> Signing:
    """The signatures, appeals and chain entry of a talk's record, for anyone who may read the
    whole record (a colleague mentioned in one section may not); else 404. The visit is
    audited by `access_record`."""
    page = access_record(user, talk_id, contents=False)
    record = page.record
    if record is None or page.limited_to is not None:
        raise Http404
    return _signing(user, record, page.side)


def _signing(user: Any, record: Record, side: str | None) -> Signing:
    signatures = list(
        Signature.objects.filter(record=record, addendum__isnull=True)
        .select_related("signer")
        .order_by("record_version", "signed_at", "pk")
    )
    appeals = list(Appeal.objects.filter(record=record).select_related("opened_by", "resolved_by"))
    entry = (
        ArchiveEntry.objects.filter(
            record=record, record_version=record.version, addendum__isnull=True
        ).first()
        if record.state == RecordState.ARCHIVED
        else None
    )
    view = Signing(record=record, side=side, signatures=signatures, appeals=appeals, entry=entry)
    view.may_sign = may_sign(side, record) and side not in view.current
    view.may_dissent = view.may_sign and side == "employee"
    if may_resolve_appeal(side):
        view.resolvable = [a for a in appeals if a.state == AppealState.OPEN]
    if record.state == RecordState.ARCHIVED:
        view.addenda = _addenda(record, side)
        view.may_add_addendum = may_add_addendum(side, record) and not any(
            a.addendum.state == AddendumState.AWAITING for a in view.addenda
        )
    return view


def _addenda(record: Record, side: str | None) -> list[AddendumView]:
    addenda = list(
        Addendum.objects.filter(record=record).select_related("written_by").order_by("number")
    )
    if not addenda:
        return []
    signatures: dict[int, dict[str, Signature]] = {}
    for signature in Signature.objects.filter(addendum__in=addenda).select_related("signer"):
        signatures.setdefault(signature.addendum_id or 0, {})[signature.side] = signature
    return [
        AddendumView(
            addendum=a,
            signatures=signatures.get(a.pk, {}),
            may_sign=may_sign_addendum(side, a),
        )
        for a in addenda
    ]


def addendum_of(user: Any, talk_id: Any, number: Any) -> tuple[Signing, Addendum]:
    """An addendum of a talk's archived record, for those who read the whole record; else
    404 (audited by `access_record`)."""
    signing = signing_of(user, talk_id)
    wanted = as_id(number)
    for item in signing.addenda:
        if item.addendum.number == wanted:
            return signing, item.addendum
    raise Http404


def access_appeal(user: Any, appeal_id: Any) -> Appeal:
    """An appeal for the talk's two people and HR and administrators following the employee;
    else 404. Audited either way."""
    own = own_employee(user)
    pk = as_id(appeal_id)
    appeal = None
    if own is not None and pk is not None:
        appeal = (
            Appeal.objects.filter(pk=pk, organisation_id=own.organisation_id)
            .select_related(
                "record__talk__employee__department",
                "record__talk__counterpart",
                "opened_by",
                "resolved_by",
                "signature",
            )
            .first()
        )
    if appeal is None or not can_view_talk.test(user, appeal.record.talk):
        write_audit(
            "archive.appeal.viewed",
            actor=user,
            outcome=Outcome.DENIED,
            object_type="archive.appeal",
            object_id=str(appeal_id)[:64],
            organisation_id=own.organisation_id if own is not None else None,
        )
        raise Http404
    talk = appeal.record.talk
    write_audit(
        "archive.appeal.viewed",
        actor=user,
        obj=appeal,
        subject_id=talk.employee_id,
        organisation_id=talk.organisation_id,
    )
    return appeal


def open_appeals_for(user: Any) -> QuerySet[Appeal]:
    """The open appeals HR resolves: of the employees in the user's HR subtrees."""
    scope = scope_for(user)
    if not scope.is_hr or scope.organisation_id is None:
        return Appeal.objects.none()
    appeals = Appeal.objects.filter(organisation_id=scope.organisation_id, state=AppealState.OPEN)
    within = scope.hr_department_ids_within
    if within is not None:
        appeals = appeals.filter(record__talk__employee__department_id__in=within)
    return appeals.select_related(
        "record__talk__employee__department", "record__talk__counterpart", "opened_by"
    ).order_by("opened_at", "pk")


@dataclass(frozen=True)
class FileFilter:
    start: date | None = None
    end: date | None = None
    topic: str = ""
    template: int | None = None


@dataclass
class FileRow:
    record: Record
    entry: ArchiveEntry | None
    appeals: int
    dissent: bool
    addenda: int = 0


@dataclass
class EmployeeFile:
    employee: Employee
    whole: bool
    rows: list[FileRow]
    total: int
    page: int
    pages: int
    templates: list[tuple[int, str]]


FILE_PAGE_SIZE = 25


def employee_file(
    user: Any, employee_id: Any, filters: FileFilter | None = None, *, page: int = 1
) -> EmployeeFile:
    """The employee's signed talks, newest first, with their appeals: for those who may see
    the employee's personal records (404 otherwise, audited). A fixed number of queries
    whatever the size of the file."""
    filters = filters or FileFilter()
    employee = access_employee(user, employee_id, action="archive.file.viewed")
    whole = bool(sees_whole_file.test(user, employee))
    records = Record.objects.filter(
        talk__employee=employee,
        state=RecordState.ARCHIVED,
        organisation_id=employee.organisation_id,
    )
    if not whole:
        own = own_employee(user)
        records = records.filter(talk__counterpart_id=own.pk if own is not None else 0)
    tz = timezone.get_current_timezone()
    if filters.start:
        records = records.filter(
            talk__scheduled_start__gte=datetime.combine(filters.start, time.min, tzinfo=tz)
        )
    if filters.end:
        records = records.filter(
            talk__scheduled_start__lte=datetime.combine(filters.end, time.max, tzinfo=tz)
        )
    if filters.topic:
        records = records.filter(talk__topic=filters.topic)
    if filters.template:
        records = records.filter(template_version__template_id=filters.template)
    total = records.count()
    pages = max(1, -(-total // FILE_PAGE_SIZE))
    page = min(max(1, page), pages)
    # Appeals, addenda and disagreements are counted in the page's own query.
    this = OuterRef("pk")
    chosen = list(
        records.select_related("talk__counterpart", "template_version__template")
        .annotate(
            appeal_count=_count(Appeal.objects.filter(record=this)),
            addendum_count=_count(Addendum.objects.filter(record=this)),
            dissenting=Exists(
                Signature.objects.filter(record=this, dissent=True, addendum__isnull=True)
            ),
        )
        .order_by("-talk__scheduled_start", "-pk")[
            (page - 1) * FILE_PAGE_SIZE : page * FILE_PAGE_SIZE
        ]
    )
    entries = {
        (e.record_id, e.record_version): e
        for e in ArchiveEntry.objects.filter(
            record_id__in=[r.pk for r in chosen], addendum__isnull=True
        ).order_by()
    }
    rows = [
        FileRow(
            record=r,
            entry=entries.get((r.pk, r.version)),
            appeals=r.appeal_count,
            dissent=r.dissenting,
            addenda=r.addendum_count,
        )
        for r in chosen
    ]
    from miantan.records.models import Template

    templates = [
        (t.pk, str(t))
        for t in Template.objects.filter(organisation_id=employee.organisation_id)
        .only("pk", "name")
        .order_by("pk")
    ]
    return EmployeeFile(
        employee=employee,
        whole=whole,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        templates=templates,
    )


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT of `rows` (filtered on the record, OuterRef("pk")), 0 for none."""
    counted = rows.order_by().values("record").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
