"""Importing the organisation from a file: every row is checked, then all of it applies or nothing.

`start_org_import` stores the upload and queues `run_org_import`. That reads the file
(org_file.py), checks it against the organisation (`check_org_file` → `OrgPlan`) and, when no
row is bad, writes the plan in one transaction (`apply_org_plan`). The check costs a handful of
queries whatever the file size: the organisation's employees, departments and positions are
loaded once and looked up in memory. A row matches an employee by employee number; a column
the file does not have leaves that field alone, so importing the same file twice changes nothing.

A file that creates departments placed by the reporting line (no parent department given)
stops at "checked" with the tree it implies in its report; HR confirms it
(`confirm_org_import`, which queues the run again) or discards it. The worker holds a lease on
the import (core/leases.py); `take_back_stalled_org_imports` retries or fails an import whose
worker died.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.audit.services import batched, record
from miantan.core.errors import ConflictError
from miantan.core.leases import claim, kept_alive, take_back_expired

from .enums import EmploymentStatus, ImportStatus
from .models import Department, Employee, Organisation, OrgImport, Position
from .org_file import FileError, OrgFile, RowError, read_org_file
from .org_plan import NewDepartment, NewPosition, OrgPlan, PlannedRow, check_org_file
from .rules import can_import_org
from .scopes import scope_for
from .services import create_department, create_employee, mark_left

__all__ = [
    "access_org_import",
    "apply_org_plan",
    "check_org_file",
    "confirm_org_import",
    "discard_org_import",
    "org_imports_visible_to",
    "run_org_import",
    "save_org_file",
    "start_org_import",
    "take_back_stalled_org_imports",
]

logger = logging.getLogger(__name__)

_BATCH = 500
_AUDIT_CODES: dict[str, str] = {
    ImportStatus.DONE: "people.org_import.applied",
    ImportStatus.REJECTED: "people.org_import.rejected",
    ImportStatus.FAILED: "people.org_import.failed",
    ImportStatus.CHECKED: "people.org_import.checked",
}
# Fields a row sets directly on an existing employee; managers and leavers have their own steps.
_PLAIN_FIELDS = ("name", "email", "department", "position", "hire_date", "language")


# --- starting and running an import ----------------------------------------------------------


def save_org_file(
    organisation: Organisation, *, upload: File[Any], original_name: str, actor: Any
) -> OrgImport:
    """Store the uploaded file as a pending import, without running it. Only who may import
    into the organisation may (PermissionDenied; no actor: the command line)."""
    if actor is not None and not (
        can_import_org.test(actor) and scope_for(actor).organisation_id == organisation.pk
    ):
        raise PermissionDenied
    suffix = original_name.rsplit(".", 1)[-1].lower() if "." in original_name else ""
    org_import = OrgImport(
        organisation=organisation,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        original_name=original_name[:255],
    )
    # The stored name is random: the original one is kept for display only.
    org_import.file.save(f"{uuid.uuid4().hex}.{suffix}", upload, save=False)
    org_import.save()
    return org_import


def start_org_import(
    organisation: Organisation, *, upload: File[Any], original_name: str, actor: Any
) -> OrgImport:
    """Store the file and run the import in the background once this transaction commits."""
    # tasks.py imports this module, so the task is looked up only when needed.
    from .tasks import run_org_import_task

    with transaction.atomic():
        org_import = save_org_file(
            organisation, upload=upload, original_name=original_name, actor=actor
        )
        transaction.on_commit(lambda: run_org_import_task.enqueue(org_import.pk))
    return org_import


def run_org_import(org_import: OrgImport) -> OrgImport:
    """Check the file and, if every row is good, apply it; the outcome lands in `report`.

    Runs once per claim: an import that is not pending is returned as it is. A file that
    creates departments placed by the reporting line ends at "checked" until it is confirmed.
    Messages are written in the language of the person who uploaded the file.
    """
    attempt = claim(OrgImport, org_import.pk)
    org_import.refresh_from_db()
    if attempt is None:
        return org_import
    with (
        translation.override(_language_of(org_import.uploaded_by)),
        kept_alive(OrgImport, org_import.pk, attempt),
    ):
        try:
            _run(org_import)
        except Exception:
            logger.exception("organisation import %s failed", org_import.pk)
            failure = _("The import stopped because of an unexpected error; nothing was changed.")
            _finish(org_import, ImportStatus.FAILED, [RowError(None, "", failure)])
    return org_import


class _Rejected(Exception):
    def __init__(self, plan: OrgPlan) -> None:
        super().__init__(f"{len(plan.errors)} problems")
        self.plan = plan


class _Unconfirmed(Exception):
    """The departments to place differ from those confirmed (the organisation changed)."""

    def __init__(self, plan: OrgPlan) -> None:
        super().__init__("the inferred departments changed")
        self.plan = plan


def _run(org_import: OrgImport) -> None:
    try:
        with org_import.file.open("rb") as stream:
            org_file = read_org_file(stream, org_import.file.name or "")
    except FileError as error:
        _finish(org_import, ImportStatus.REJECTED, [RowError(None, "", error.message)])
        return
    org_import.total_rows = len(org_file.rows)
    org_import.save(update_fields=["total_rows", "updated_at"])
    organisation = org_import.organisation
    # The first check runs outside the transaction, so that the page can show its progress.
    plan = check_org_file(organisation, org_file, progress=_progress_saver(org_import))
    if plan.errors:
        _finish(org_import, ImportStatus.REJECTED, plan.errors, plan, org_file)
        return
    if plan.inferred and not _confirmed(org_import, plan):
        _finish(org_import, ImportStatus.CHECKED, [], plan, org_file)
        return
    try:
        with transaction.atomic():
            # One import at a time per organisation; checked again under the lock because the
            # organisation may have changed since the first check.
            Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
            plan = check_org_file(organisation, org_file)
            if plan.errors:
                raise _Rejected(plan)
            if plan.inferred and not _confirmed(org_import, plan):
                raise _Unconfirmed(plan)
            apply_org_plan(plan, actor=org_import.uploaded_by)
            _finish(org_import, ImportStatus.DONE, [], plan, org_file)
    except _Rejected as rejected:
        _finish(org_import, ImportStatus.REJECTED, rejected.plan.errors, rejected.plan, org_file)
    except _Unconfirmed as unconfirmed:
        _finish(org_import, ImportStatus.CHECKED, [], unconfirmed.plan, org_file)


def _confirmed(org_import: OrgImport, plan: OrgPlan) -> bool:
    """HR confirmed exactly these departments with these parents."""
    seen = org_import.report.get("inferred_signature")
    return org_import.confirmed_at is not None and seen == plan.inferred_signature()


def _finish(
    org_import: OrgImport,
    status: str,
    errors: list[RowError],
    plan: OrgPlan | None = None,
    org_file: OrgFile | None = None,
) -> None:
    shown = plan is not None and status in (ImportStatus.DONE, ImportStatus.CHECKED)
    org_import.status = status
    if status != ImportStatus.FAILED:
        org_import.processed_rows = org_import.total_rows
    org_import.finished_at = timezone.now()
    org_import.lease_until = None
    reconfirm = status == ImportStatus.CHECKED and org_import.confirmed_at is not None
    if status == ImportStatus.CHECKED:
        org_import.confirmed_at, org_import.confirmed_by = None, None
    org_import.report = {
        "errors": [error.as_dict() for error in errors],
        "summary": plan.summary() if plan is not None and shown else _empty_summary(),
        "changes": plan.changes() if plan is not None and shown else [],
        "ignored_columns": plan.ignored_columns if plan is not None else [],
        **_layout_report(org_file),
        **(_departments_report(plan, reconfirm) if plan is not None and shown else {}),
    }
    org_import.save(
        update_fields=[
            "status",
            "processed_rows",
            "finished_at",
            "lease_until",
            "confirmed_at",
            "confirmed_by",
            "report",
            "updated_at",
        ]
    )
    record(
        _AUDIT_CODES[status],
        actor=org_import.uploaded_by,
        obj=org_import,
        organisation_id=org_import.organisation_id,
        data={
            "file": org_import.original_name,
            "errors": len(errors),
            **org_import.report["summary"],
        },
    )


def _layout_report(org_file: OrgFile | None) -> dict[str, Any]:
    """Where the header was found and which rows were not read as data."""
    if org_file is None:
        return {}
    return {
        "header_row": org_file.header_row,
        "rows_above": [note.as_dict() for note in org_file.skipped],
        "rows_after": [note.as_dict() for note in org_file.notes],
    }


def _departments_report(plan: OrgPlan, reconfirm: bool) -> dict[str, Any]:
    if not plan.new_departments:
        return {}
    return {
        "departments": plan.department_tree(),
        "inferred_signature": plan.inferred_signature(),
        "reconfirm": reconfirm,
    }


# --- confirming, discarding, taking back ---------------------------------------------------


def _require_importer(actor: Any, org_import: OrgImport) -> None:
    """Only who may import into this organisation may confirm or discard (no actor: the
    command line)."""
    if actor is None:
        return
    if not (
        can_import_org.test(actor)
        and scope_for(actor).organisation_id == org_import.organisation_id
    ):
        raise PermissionDenied


def confirm_org_import(org_import: OrgImport, *, actor: Any, queue: bool = True) -> OrgImport:
    """HR agrees to the departments the import places by the reporting line: the import runs
    again and applies, provided it would place exactly those departments (else it stops at
    "checked" once more, with the new tree). `queue=False` leaves running it to the caller."""
    # tasks.py imports this module, so the task is looked up only when needed.
    from .tasks import run_org_import_task

    _require_importer(actor, org_import)
    now = timezone.now()
    with transaction.atomic():
        user = actor if getattr(actor, "is_authenticated", False) else None
        moved = OrgImport.objects.filter(pk=org_import.pk, status=ImportStatus.CHECKED).update(
            status=ImportStatus.PENDING,
            confirmed_by=user,
            confirmed_at=now,
            attempts=0,
            updated_at=now,
        )
        if not moved:
            raise ConflictError(_("This import is no longer waiting for confirmation."))
        org_import.refresh_from_db()
        record(
            "people.org_import.confirmed",
            actor=actor,
            obj=org_import,
            organisation_id=org_import.organisation_id,
            data={
                "file": org_import.original_name,
                "departments": org_import.report.get("inferred_signature", []),
            },
        )
        if queue:
            transaction.on_commit(lambda: run_org_import_task.enqueue(org_import.pk))
    return org_import


def discard_org_import(org_import: OrgImport, *, actor: Any) -> OrgImport:
    """HR does not want the departments the import would place: nothing is applied."""
    _require_importer(actor, org_import)
    now = timezone.now()
    with transaction.atomic():
        moved = OrgImport.objects.filter(pk=org_import.pk, status=ImportStatus.CHECKED).update(
            status=ImportStatus.DISCARDED, finished_at=now, updated_at=now
        )
        if not moved:
            raise ConflictError(_("This import is no longer waiting for confirmation."))
        org_import.refresh_from_db()
        record(
            "people.org_import.discarded",
            actor=actor,
            obj=org_import,
            organisation_id=org_import.organisation_id,
            data={"file": org_import.original_name},
        )
    return org_import


def take_back_stalled_org_imports(organisation_id: int | None = None) -> int:
    """Imports whose worker stopped without finishing (their lease ran out): queued again
    while attempts remain, failed after that. Returns how many were taken back."""
    imports = OrgImport.objects.all()
    if organisation_id is not None:
        imports = imports.filter(organisation_id=organisation_id)
    return take_back_expired(imports, retry=_retry_interrupted, fail=_fail_interrupted)


def _retry_interrupted(org_import: OrgImport) -> None:
    from .tasks import run_org_import_task

    record(
        "people.org_import.interrupted",
        actor=None,
        obj=org_import,
        organisation_id=org_import.organisation_id,
        data={"file": org_import.original_name, "attempt": org_import.attempts, "retry": True},
    )
    transaction.on_commit(lambda: run_org_import_task.enqueue(org_import.pk))


def _fail_interrupted(org_import: OrgImport) -> None:
    with translation.override(_language_of(org_import.uploaded_by)):
        message = ngettext(
            "The import was interrupted %(count)s time (the process running it stopped) and is "
            "not tried again; nothing was changed. Upload the file again.",
            "The import was interrupted %(count)s times (the process running it stopped) and is "
            "not tried again; nothing was changed. Upload the file again.",
            org_import.attempts,
        ) % {"count": org_import.attempts}
    org_import.report = {
        "errors": [RowError(None, "", message).as_dict()],
        "summary": _empty_summary(),
        "changes": [],
        "ignored_columns": [],
        "interrupted": org_import.attempts,
    }
    org_import.save(update_fields=["report"])
    record(
        "people.org_import.failed",
        actor=org_import.uploaded_by,
        obj=org_import,
        organisation_id=org_import.organisation_id,
        data={"file": org_import.original_name, "errors": 1, "interrupted": org_import.attempts},
    )


def _empty_summary() -> dict[str, int]:
    return dict.fromkeys(("created", "updated", "unchanged"), 0)


def _progress_saver(org_import: OrgImport) -> Callable[[int], None]:
    def save(rows_checked: int) -> None:
        OrgImport.objects.filter(pk=org_import.pk).update(processed_rows=rows_checked)
        org_import.processed_rows = rows_checked

    return save


def _language_of(user: Any) -> str:
    saved = None
    if user is not None:
        saved = Employee.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    return saved or translation.get_language() or "zh-hans"


# --- reading who may see which import ----------------------------------------------------------


def org_imports_visible_to(user: Any) -> QuerySet[OrgImport]:
    """HR and administrators see their organisation's imports; nobody else sees any."""
    scope = scope_for(user)
    if scope.organisation_id is None or not can_import_org.test(user):
        return OrgImport.objects.none()
    return OrgImport.objects.filter(organisation_id=scope.organisation_id).select_related(
        "uploaded_by__employee"
    )


def access_org_import(user: Any, import_id: int) -> OrgImport:
    org_import = org_imports_visible_to(user).filter(pk=import_id).first()
    if org_import is None:
        raise Http404
    return org_import


# --- applying a checked plan ---------------------------------------------------------------------


def apply_org_plan(plan: OrgPlan, *, actor: Any) -> None:
    """Write a plan that has no errors, in one transaction. Each created or changed employee
    gets its audit event (the services used here record their own).

    Managers are set first and the reporting lines (manager_path) are then rebuilt in memory for
    the whole organisation. Moving people one at a time with set_manager would depend on the
    order of the rows: swapping a manager and their report passes through a circle.
    """
    if plan.errors:
        raise ValueError("a plan with errors cannot be applied")
    now = timezone.now()
    created: dict[int, Department | Position] = {}
    with transaction.atomic(), batched():
        _create_departments(plan, created, actor)
        _create_positions(plan, created, actor)
        people = dict(plan.employees)
        _update_existing(plan, created, actor, now)
        _create_new(plan, created, people, actor)
        _set_managers(plan, people, actor, now)
        _rebuild_manager_paths(people.values())
        _mark_leavers(plan, people, actor)


def _resolved(value: Any, created: dict[int, Department | Position]) -> Any:
    """A planned department or position as the row it became."""
    return created[id(value)] if isinstance(value, NewDepartment | NewPosition) else value


def _create_departments(
    plan: OrgPlan, created: dict[int, Department | Position], actor: Any
) -> None:
    for new in plan.new_departments:  # parents come first
        created[id(new)] = create_department(
            plan.organisation,
            code=new.code,
            name=new.name,
            parent=_resolved(new.parent, created),
            actor=actor,
        )


def _create_positions(plan: OrgPlan, created: dict[int, Department | Position], actor: Any) -> None:
    for new in plan.new_positions:
        position = Position.objects.create(
            organisation=plan.organisation, code=new.value, name=new.value
        )
        record(
            "people.position.created",
            actor=actor,
            obj=position,
            organisation_id=plan.organisation.pk,
            data={"code": new.value},
        )
        created[id(new)] = position


def _update_existing(
    plan: OrgPlan, created: dict[int, Department | Position], actor: Any, now: Any
) -> None:
    changed: list[Employee] = []
    rejoining: list[int] = []
    for planned in plan.rows:
        employee = planned.employee
        fields = {k: v for k, v in planned.changes.items() if k in _PLAIN_FIELDS}
        rejoins = "status" in planned.changes and planned.values["status"] != "left"
        if employee is None or not (fields or rejoins):
            continue
        for name in fields:
            setattr(employee, name, _resolved(planned.values[name], created))
        if rejoins:
            employee.status, employee.left_on = EmploymentStatus.ACTIVE, None
            fields["status"] = planned.changes["status"]
            rejoining.append(employee.user_id)
        employee.updated_at = now
        changed.append(employee)
        record(
            "people.employee.updated",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"fields": fields},
        )
    update = [*_PLAIN_FIELDS, "status", "left_on", "updated_at"]
    Employee.objects.bulk_update(changed, update, batch_size=_BATCH)
    for batch in _batches(rejoining):
        get_user_model().objects.filter(pk__in=batch).update(is_active=True)


def _create_new(
    plan: OrgPlan,
    created: dict[int, Department | Position],
    people: dict[str, Employee],
    actor: Any,
) -> None:
    """New employees get a login without a password: unusable until one is set."""
    for planned in _managers_first([row for row in plan.rows if row.employee is None]):
        values = planned.values
        manager_number = values.get("manager")
        optional = {key: values[key] for key in ("hire_date", "email", "language") if key in values}
        people[planned.number] = create_employee(
            plan.organisation,
            employee_number=planned.number,
            name=planned.name,
            department=_resolved(values["department"], created),
            position=_resolved(values.get("position"), created),
            manager=people[manager_number] if manager_number else None,
            actor=actor,
            **optional,
        )


def _managers_first(rows: list[PlannedRow]) -> list[PlannedRow]:
    by_number = {row.number: row for row in rows}
    ordered: list[PlannedRow] = []
    placed: set[str] = set()
    for row in rows:
        chain: list[PlannedRow] = []
        node: PlannedRow | None = row
        while node is not None and node.number not in placed:
            placed.add(node.number)
            chain.append(node)
            node = by_number.get(node.values.get("manager") or "")
        ordered.extend(reversed(chain))
    return ordered


def _set_managers(plan: OrgPlan, people: dict[str, Employee], actor: Any, now: Any) -> None:
    moved: list[Employee] = []
    for planned in plan.rows:
        employee = planned.employee
        if employee is None or "manager" not in planned.changes:
            continue
        number = planned.values["manager"]
        manager = people[number] if number else None
        previous = employee.manager_id
        employee.manager = manager
        employee.updated_at = now
        moved.append(employee)
        record(
            "people.employee.manager_changed",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"from": previous, "to": manager.pk if manager else None},
        )
    Employee.objects.bulk_update(moved, ["manager", "updated_at"], batch_size=_BATCH)


def _rebuild_manager_paths(employees: Iterable[Employee]) -> None:
    """Set every manager_path ("/3/17/42/") from the managers; write only those that differ."""
    by_id = {employee.pk: employee for employee in employees}
    paths: dict[int, str] = {}
    changed: list[Employee] = []
    for employee in by_id.values():
        chain: list[Employee] = []
        node: Employee | None = employee
        while node is not None and node.pk not in paths:
            chain.append(node)
            node = by_id.get(node.manager_id) if node.manager_id else None
        prefix = paths[node.pk] if node is not None else "/"
        for member in reversed(chain):
            prefix = paths[member.pk] = f"{prefix}{member.pk}/"
            if member.manager_path != prefix:
                member.manager_path = prefix
                changed.append(member)
    Employee.objects.bulk_update(changed, ["manager_path"], batch_size=_BATCH)


def _mark_leavers(plan: OrgPlan, people: dict[str, Employee], actor: Any) -> None:
    leaving = [
        people[row.number]
        for row in plan.rows
        if row.values.get("status") == EmploymentStatus.LEFT
        and (row.employee is None or "status" in row.changes)
    ]
    # New employees carry their login already; load the others' in one query.
    logins = get_user_model().objects.in_bulk(
        [e.user_id for e in leaving if not Employee.user.is_cached(e)]
    )
    for employee in leaving:
        if not Employee.user.is_cached(employee):
            employee.user = logins[employee.user_id]
        mark_left(employee, actor=actor)


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _BATCH):
        yield ids[start : start + _BATCH]
