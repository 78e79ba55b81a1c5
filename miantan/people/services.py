"""Changes to the organisation. Each function is one audited transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.services import record
from miantan.core.errors import DomainError

from .enums import SCOPED_ROLES, EmploymentStatus, Language, Role
from .models import Department, Employee, Organisation, Position, RoleAssignment


def create_department(
    organisation: Organisation,
    *,
    code: str,
    name: str,
    name_en: str = "",
    parent: Department | None = None,
    actor: Any = None,
) -> Department:
    if parent is not None and parent.organisation_id != organisation.pk:
        raise DomainError(_("The parent department belongs to another organisation."))
    with transaction.atomic():
        department = Department.objects.create(
            organisation=organisation, code=code, name=name, name_en=name_en, parent=parent
        )
        department.path = f"{parent.path if parent else '/'}{department.pk}/"
        department.depth = parent.depth + 1 if parent else 0
        department.save(update_fields=["path", "depth"])
        record(
            "people.department.created",
            actor=actor,
            obj=department,
            organisation_id=organisation.pk,
            data={"code": code, "name": name},
        )
    return department


def move_department(department: Department, *, parent: Department | None, actor: Any) -> Department:
    """Re-parent a department; its whole subtree moves with it in one UPDATE."""
    if parent is not None and parent.path.startswith(department.path):
        raise DomainError(_("A department cannot be moved below itself."))
    with transaction.atomic():
        old_path = department.path
        new_path = f"{parent.path if parent else '/'}{department.pk}/"
        depth_change = (parent.depth + 1 if parent else 0) - department.depth
        Department.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
        )
        if depth_change:
            for child in Department.objects.filter(path__startswith=new_path):
                child.depth = child.path.count("/") - 2
                child.save(update_fields=["depth"])
        department.refresh_from_db()
        department.parent = parent
        department.save(update_fields=["parent"])
        record(
            "people.department.moved",
            actor=actor,
            obj=department,
            organisation_id=department.organisation_id,
            data={"from": old_path, "to": new_path},
        )
    return department


def create_employee(
    organisation: Organisation,
    *,
    employee_number: str,
    name: str,
    department: Department,
    actor: Any = None,
    position: Position | None = None,
    manager: Employee | None = None,
    hire_date: date | None = None,
    email: str = "",
    language: str = Language.ZH_HANS,
    username: str | None = None,
    password: str | None = None,
) -> Employee:
    """Create the employee with a login. Without a password the login stays unusable until
    a password is set (by a reset or an administrator)."""
    if department.organisation_id != organisation.pk:
        raise DomainError(_("The department belongs to another organisation."))
    if manager is not None and manager.organisation_id != organisation.pk:
        raise DomainError(_("The manager belongs to another organisation."))
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=username or f"{organisation.slug}-{employee_number}",
            email=email,
            password=password,
        )
        employee = Employee.objects.create(
            organisation=organisation,
            user=user,
            employee_number=employee_number,
            name=name,
            department=department,
            position=position,
            manager=manager,
            hire_date=hire_date,
            email=email,
            language=language,
        )
        employee.manager_path = f"{manager.manager_path if manager else '/'}{employee.pk}/"
        employee.save(update_fields=["manager_path"])
        record(
            "people.employee.created",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=organisation.pk,
            data={"employee_number": employee_number},
        )
    return employee


def set_manager(employee: Employee, *, manager: Employee | None, actor: Any) -> Employee:
    """Change who an employee reports to; their reports' reporting lines follow."""
    if manager is not None:
        if manager.organisation_id != employee.organisation_id:
            raise DomainError(_("The manager belongs to another organisation."))
        if manager.manager_path.startswith(employee.manager_path):
            raise DomainError(_("This would make the employee report to themselves."))
    with transaction.atomic():
        old_path = employee.manager_path
        new_path = f"{manager.manager_path if manager else '/'}{employee.pk}/"
        Employee.objects.filter(manager_path__startswith=old_path).update(
            manager_path=Concat(Value(new_path), Substr("manager_path", len(old_path) + 1)),
        )
        previous = employee.manager_id
        employee.manager = manager
        employee.manager_path = new_path
        employee.save(update_fields=["manager", "manager_path", "updated_at"])
        record(
            "people.employee.manager_changed",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"from": previous, "to": manager.pk if manager else None},
        )
    return employee


def mark_left(employee: Employee, *, left_on: date | None = None, actor: Any) -> Employee:
    """The employee leaves: their login stops working at their next request."""
    with transaction.atomic():
        employee.status = EmploymentStatus.LEFT
        employee.left_on = left_on or timezone.localdate()
        employee.save(update_fields=["status", "left_on", "updated_at"])
        user = employee.user
        user.is_active = False
        user.save(update_fields=["is_active"])
        record(
            "people.employee.left",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"left_on": employee.left_on.isoformat()},
        )
    return employee


def set_language(employee: Employee, *, language: str, actor: Any) -> Employee:
    if language not in Language.values:
        raise DomainError(_("Unknown language."))
    with transaction.atomic():
        employee.language = language
        employee.save(update_fields=["language", "updated_at"])
        record(
            "people.employee.language_changed",
            actor=actor,
            obj=employee,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"language": language},
        )
    return employee


def assign_role(
    employee: Employee, *, role: str, department: Department | None = None, actor: Any
) -> RoleAssignment:
    if role not in Role.values:
        raise DomainError(_("Unknown role."))
    if role in SCOPED_ROLES and department is None:
        raise DomainError(_("This role needs a department as its scope."))
    if role not in SCOPED_ROLES:
        department = None
    if department is not None and department.organisation_id != employee.organisation_id:
        raise DomainError(_("The department belongs to another organisation."))
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(
            employee=employee,
            role=role,
            department=department,
            defaults={"organisation_id": employee.organisation_id, "granted_by": _user(actor)},
        )
        if not created:
            raise DomainError(_("The employee already holds this role."))
        record(
            "people.role.assigned",
            actor=actor,
            obj=assignment,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"role": role, "department": department.pk if department else None},
        )
        _sync_staff_flag(employee)
    return assignment


def revoke_role(assignment: RoleAssignment, *, actor: Any) -> None:
    with transaction.atomic():
        employee = assignment.employee
        record(
            "people.role.revoked",
            actor=actor,
            obj=assignment,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
            data={"role": assignment.role, "department": assignment.department_id},
        )
        assignment.delete()
        _sync_staff_flag(employee)


def _sync_staff_flag(employee: Employee) -> None:
    """Administrators may sign in to the technical admin site, where the model admins limit
    them to their own organisation. They are never Django superusers: a superuser would pass
    every permission check in every organisation."""
    is_admin = RoleAssignment.objects.filter(employee=employee, role=Role.ADMIN).exists()
    user = employee.user
    if user.is_staff != is_admin or user.is_superuser:
        user.is_staff = is_admin
        user.is_superuser = False
        user.save(update_fields=["is_staff", "is_superuser"])


def _user(actor: Any) -> AbstractBaseUser | None:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None
