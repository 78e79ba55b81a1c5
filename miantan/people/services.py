"""Changes to the organisation. Each function is one audited transaction."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date
from functools import cache
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import DomainError, InvalidFields
from miantan.core.text import normalise

from .enums import SCOPED_ROLES, EmploymentStatus, Language, Role
from .models import Department, Employee, Organisation, Position, RoleAssignment
from .rules import can_revoke_role, is_installation_admin, may_grant_role

DEFAULT_TIME_ZONE = "Asia/Shanghai"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


class OrganisationError(InvalidFields):
    """A new organisation or its first administrator was refused, field by field."""

    error_code = "invalid_organisation"


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zones this installation knows (zoneinfo, with tzdata as a fallback)."""
    return frozenset(zoneinfo.available_timezones())


def organisation_problems(
    *, slug: str, name: str, name_en: str = "", time_zone: str, root_code: str = ""
) -> dict[str, Any]:
    """What is wrong with the details of a new organisation, by field; empty when nothing.
    The short name is compared without regard to case."""
    problems: dict[str, Any] = {}
    if not name:
        problems["name"] = _("The name is required.")
    elif len(name) > 200 or len(name_en) > 200:
        problems["name"] = _("A name has at most 200 characters.")
    if not slug:
        problems["slug"] = _("The short name is required.")
    elif len(slug) > 50 or not _SLUG.fullmatch(slug):
        problems["slug"] = _(
            "The short name may contain only letters a–z, digits and hyphens, at most 50, "
            "and starts with a letter or digit."
        )
    elif Organisation.objects.filter(slug__iexact=slug).exists():
        problems["slug"] = _slug_taken(slug)
    if time_zone not in time_zone_names():
        problems["time_zone"] = _(
            "“%(zone)s” is not a known time zone. Use a name such as Asia/Shanghai."
        ) % {"zone": time_zone[:64]}
    if len(root_code) > 50:
        problems["root_code"] = _("A department code has at most 50 characters.")
    return problems


def create_organisation(
    *,
    slug: str,
    name: str,
    name_en: str = "",
    time_zone: str = DEFAULT_TIME_ZONE,
    root_code: str = "",
    root_name: str = "",
    root_name_en: str = "",
    actor: Any,
) -> Organisation:
    """A new organisation with its root department (named after it unless named otherwise).

    For installation administrators (Django superusers) and the command line (`actor` None);
    anyone else gets PermissionDenied, audited. Raises OrganisationError naming each bad field
    (a taken short name, an unknown time zone) and then writes nothing.
    """
    ensure_installation_admin(actor, "people.organisation.created")
    slug, name, name_en = normalise(slug).lower(), normalise(name), normalise(name_en)
    time_zone, root_code = normalise(time_zone), normalise(root_code)
    problems = organisation_problems(
        slug=slug, name=name, name_en=name_en, time_zone=time_zone, root_code=root_code
    )
    if problems:
        raise OrganisationError(problems)
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(
                slug=slug, name=name, name_en=name_en, time_zone=time_zone
            )
            record(
                "people.organisation.created",
                actor=actor,
                obj=organisation,
                organisation_id=organisation.pk,
                data={"slug": slug, "name": name, "time_zone": time_zone},
            )
            create_department(
                organisation,
                code=root_code or slug.upper(),
                name=normalise(root_name) or name,
                name_en=normalise(root_name_en) or name_en,
                actor=actor,
            )
    except IntegrityError:
        # Another request took the short name between the check and the insert.
        raise OrganisationError({"slug": _slug_taken(slug)}) from None
    return organisation


def create_first_administrator(
    organisation: Organisation,
    *,
    name: str,
    employee_number: str,
    username: str,
    password: str,
    email: str = "",
    language: str = Language.ZH_HANS,
    actor: Any,
) -> Employee:
    """The organisation's first administrator: an employee of its root department with a
    login and the admin role, who then signs in and sets up everything else.

    For installation administrators and the command line. Refused while the organisation has
    an active administrator (they grant further roles themselves), so this is also how a
    superuser gives an organisation whose administrators have all left a new one.
    """
    ensure_installation_admin(actor, "people.role.assigned", organisation_id=organisation.pk)
    if has_active_administrator(organisation):
        raise DomainError(_already_administered())
    name, employee_number = normalise(name), normalise(employee_number)
    username, email = normalise(username), normalise(email)
    problems = _administrator_problems(
        organisation, name, employee_number, username, email, password, language
    )
    if problems:
        raise OrganisationError(problems)
    with transaction.atomic():
        # Two superusers at once must not both create "the first" administrator.
        Organisation.objects.select_for_update().filter(pk=organisation.pk).first()
        if has_active_administrator(organisation):
            raise DomainError(_already_administered())
        root = (
            Department.objects.filter(organisation=organisation, parent__isnull=True)
            .order_by("path")
            .first()
        )
        if root is None:
            raise DomainError(_("The organisation has no department to place its staff in."))
        employee = create_employee(
            organisation,
            employee_number=employee_number,
            name=name,
            department=root,
            email=email,
            language=language,
            username=username,
            password=password,
            actor=actor,
        )
        assign_role(employee, role=Role.ADMIN, actor=actor)
    return employee


def has_active_administrator(organisation: Organisation) -> bool:
    return RoleAssignment.objects.filter(
        organisation=organisation, role=Role.ADMIN, employee__status=EmploymentStatus.ACTIVE
    ).exists()


def ensure_installation_admin(
    actor: Any, action: str, *, organisation_id: int | None = None
) -> None:
    """PermissionDenied (audited) unless the actor runs the installation; None is the shell."""
    if actor is None or is_installation_admin.test(actor):
        return
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        object_type="people.organisation",
        object_id=organisation_id or "",
        organisation_id=organisation_id,
    )
    raise PermissionDenied


def _already_administered() -> str:
    return _("This organisation already has an administrator; they grant further roles.")


def _slug_taken(slug: str) -> str:
    return _("An organisation with the short name “%(slug)s” already exists.") % {"slug": slug}


def _administrator_problems(
    organisation: Organisation,
    name: str,
    employee_number: str,
    username: str,
    email: str,
    password: str,
    language: str,
) -> dict[str, Any]:
    user_model = get_user_model()
    problems: dict[str, Any] = {}
    if not name or len(name) > 200:
        problems["name"] = _("The name is required (at most 200 characters).")
    if not employee_number or len(employee_number) > 50:
        problems["employee_number"] = _("The employee number is required (at most 50 characters).")
    elif Employee.objects.filter(
        organisation=organisation, employee_number=employee_number
    ).exists():
        problems["employee_number"] = _("Another employee already has this number.")
    problems.update(_username_problems(user_model, username))
    if email:
        try:
            validate_email(email)
        except ValidationError:
            problems["email"] = _("This is not an e-mail address.")
    if language not in Language.values:
        problems["language"] = _("Unknown language.")
    try:
        validate_password(password, user=user_model(username=username, email=email))
    except ValidationError as error:
        problems["password"] = " ".join(error.messages)
    return problems


def _username_problems(user_model: Any, username: str) -> dict[str, Any]:
    if not username or len(username) > 150:
        return {"username": _("The login name is required (at most 150 characters).")}
    try:
        user_model.username_validator(username)
    except ValidationError:
        return {"username": _("A login name may contain only letters, digits and @ . + - _ signs.")}
    if user_model.objects.filter(username__iexact=username).exists():
        return {"username": _("The login name “%(name)s” is taken.") % {"name": username}}
    return {}


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
    time_zone: str | None = None,
) -> Employee:
    """Create the employee with a login. Without a password the login stays unusable until
    a password is set (by a reset or an administrator). The time zone is the organisation's
    unless given."""
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
            time_zone=time_zone or organisation.time_zone,
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
    """Grant a role. A signed-in actor must be allowed to grant this role in this scope
    (rules.may_grant_role: administrators any role of their organisation, HR partners
    department head and HR within their own subtrees); otherwise PermissionDenied, audited.
    Actor None is the installation itself (set-up commands, demo data)."""
    if role not in Role.values:
        raise DomainError(_("Unknown role."))
    if role in SCOPED_ROLES and department is None:
        raise DomainError(_("This role needs a department as its scope."))
    if role not in SCOPED_ROLES:
        department = None
    if department is not None and department.organisation_id != employee.organisation_id:
        raise DomainError(_("The department belongs to another organisation."))
    if actor is not None and not may_grant_role(actor, employee, role, department):
        _deny_role(
            "people.role.assigned",
            actor,
            employee,
            {"role": role, "department": department.pk if department else None},
        )
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
    """Take a role back. A signed-in actor must be allowed to (rules.can_revoke_role: nobody
    removes a role wider than the ones they may grant); otherwise PermissionDenied, audited."""
    if actor is not None and not can_revoke_role.test(actor, assignment):
        _deny_role(
            "people.role.revoked",
            actor,
            assignment.employee,
            {"role": assignment.role, "department": assignment.department_id},
            obj=assignment,
        )
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


def _deny_role(
    action: str, actor: Any, employee: Employee, data: dict[str, Any], *, obj: Any = None
) -> NoReturn:
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj if obj is not None else employee,
        subject_id=employee.pk,
        organisation_id=employee.organisation_id,
        data=data,
    )
    raise PermissionDenied


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
