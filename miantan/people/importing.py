"""Importing the organisation from a file: every row is checked, then all of it applies or nothing.

`start_org_import` stores the upload and queues `run_org_import`. That reads the file
(org_file.py), checks it against the organisation (`check_org_file` → `OrgPlan`) and, when no
row is bad, writes the plan in one transaction (`apply_org_plan`). The check costs a handful of
queries whatever the file size: the organisation's employees, departments and positions are
loaded once and looked up in memory. A row matches an employee by employee number; a column
the file does not have leaves that field alone, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from miantan.audit.services import batched, record

from .enums import EmploymentStatus, ImportStatus
from .models import Department, Employee, Organisation, OrgImport, Position
from .org_file import FileError, RowError, read_org_file
from .org_plan import NewDepartment, NewPosition, OrgPlan, PlannedRow, check_org_file
from .rules import can_import_org
from .scopes import scope_for
from .services import create_department, create_employee, mark_left

__all__ = [
    "access_org_import",
    "apply_org_plan",
    "check_org_file",
    "org_imports_visible_to",
    "run_org_import",
    "save_org_file",
    "start_org_import",
]

logger = logging.getLogger(__name__)

_BATCH = 500
# Fields a row sets directly on an existing employee; managers and leavers have their own steps.
_PLAIN_FIELDS = ("name", "email", "department", "position", "hire_date", "language")


# --- starting and running an import ----------------------------------------------------------


def save_org_file(
    organisation: Organisation, *, upload: File[Any], original_name: str, actor: Any
) -> OrgImport:
    """Store the uploaded file as a pending import, without running it."""
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

    Runs once: an import that is no longer pending is returned as it is. Messages are written
    in the language of the person who uploaded the file.
    """
    claimed = OrgImport.objects.filter(pk=org_import.pk, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, updated_at=timezone.now()
    )
    org_import.refresh_from_db()
    if not claimed:
        return org_import
    with translation.override(_language_of(org_import.uploaded_by)):
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
        _finish(org_import, ImportStatus.REJECTED, plan.errors, plan)
        return
    try:
        with transaction.atomic():
            # One import at a time per organisation; checked again under the lock because the
            # organisation may have changed since the first check.
            Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
            plan = check_org_file(organisation, org_file)
            if plan.errors:
                raise _Rejected(plan)
            apply_org_plan(plan, actor=org_import.uploaded_by)
            _finish(org_import, ImportStatus.DONE, [], plan)
    except _Rejected as rejected:
        _finish(org_import, ImportStatus.REJECTED, rejected.plan.errors, rejected.plan)


def _finish(
    org_import: OrgImport, status: str, errors: list[RowError], plan: OrgPlan | None = None
) -> None:
    done = status == ImportStatus.DONE
    org_import.status = status
    if status != ImportStatus.FAILED:
        org_import.processed_rows = org_import.total_rows
    org_import.finished_at = timezone.now()
    org_import.report = {
        "errors": [error.as_dict() for error in errors],
        "summary": plan.summary() if plan is not None and done else _empty_summary(),
        "changes": plan.changes() if plan is not None and done else [],
        "ignored_columns": plan.ignored_columns if plan is not None else [],
    }
    org_import.save(
        update_fields=["status", "processed_rows", "finished_at", "report", "updated_at"]
    )
    record(
        f"people.org_import.{'applied' if done else status}",
        actor=org_import.uploaded_by,
        obj=org_import,
        organisation_id=org_import.organisation_id,
        data={
            "file": org_import.original_name,
            "errors": len(errors),
            **org_import.report["summary"],
        },
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
