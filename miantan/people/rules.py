"""Predicates about people. They read the per-request Scope; only is_hr_for_whole_organisation
looks at the department table (one small query)."""

from __future__ import annotations

from typing import Any

import rules

from .enums import SCOPED_ROLES
from .models import Department, Employee, RoleAssignment
from .scopes import scope_for


def _in_org(user: Any, employee: Employee) -> bool:
    """The user is an active employee of the employee's organisation (leavers see nothing)."""
    scope = scope_for(user)
    return (
        scope.employee is not None
        and scope.employee.is_active
        and scope.organisation_id == employee.organisation_id
    )


def _in_subtrees(path: str, roots: tuple[str, ...]) -> bool:
    return any(path.startswith(root) for root in roots)


@rules.predicate
def is_self(user: Any, employee: Employee) -> bool:
    own = scope_for(user).employee
    return _in_org(user, employee) and own is not None and own.pk == employee.pk


@rules.predicate
def is_manager_of(user: Any, employee: Employee) -> bool:
    """Direct or indirect manager along the reporting line."""
    prefix = scope_for(user).manager_prefix
    return (
        prefix is not None
        and _in_org(user, employee)
        and employee.manager_path.startswith(prefix)
        and employee.manager_path != prefix
    )


@rules.predicate
def is_department_head_for(user: Any, employee: Employee) -> bool:
    return _in_org(user, employee) and _in_subtrees(
        employee.department.path, scope_for(user).department_head_paths
    )


@rules.predicate
def is_hr_for(user: Any, employee: Employee) -> bool:
    return _in_org(user, employee) and _in_subtrees(
        employee.department.path, scope_for(user).hr_paths
    )


@rules.predicate
def is_admin(user: Any) -> bool:
    return scope_for(user).is_admin


@rules.predicate
def is_installation_admin(user: Any) -> bool:
    """A Django superuser: whoever runs the installation, above every organisation. An
    organisation's administrators never are (assign_role keeps the flag off)."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


@rules.predicate
def is_hr(user: Any) -> bool:
    return scope_for(user).is_hr


@rules.predicate
def is_executive(user: Any) -> bool:
    return scope_for(user).is_executive


@rules.predicate
def is_admin_of(user: Any, employee: Employee) -> bool:
    return scope_for(user).is_admin and _in_org(user, employee)


@rules.predicate
def can_revoke_role(user: Any, assignment: RoleAssignment) -> bool:
    """Admins revoke any role of their organisation; HR only roles scoped to a department within
    its own subtrees (the same limit as for assigning), so nobody removes a wider role. The
    installation's superuser may revoke any."""
    if is_installation_admin.test(user):
        return True
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active or own.organisation_id != assignment.organisation_id:
        return False
    if scope.is_admin:
        return True
    department = assignment.department
    return department is not None and _in_subtrees(department.path, scope.hr_paths)


def may_grant_role(user: Any, employee: Employee, role: str, department: Department | None) -> bool:
    """Administrators grant any role in their organisation; HR partners grant only the roles
    scoped to a department (department head, HR), for a department within their own HR
    subtrees, to someone they may see. So nobody hands out more than they hold. The
    installation's superuser may grant any."""
    if is_installation_admin.test(user):
        return True
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active or own.organisation_id != employee.organisation_id:
        return False
    if scope.is_admin:
        return True
    if role not in SCOPED_ROLES or department is None:
        return False
    return (
        department.organisation_id == employee.organisation_id
        and _in_subtrees(department.path, scope.hr_paths)
        and can_view_employee.test(user, employee)
    )


@rules.predicate
def is_hr_for_whole_organisation(user: Any) -> bool:
    """HR whose subtrees cover every top-level department (one small query on departments)."""
    scope = scope_for(user)
    own = scope.employee
    if not scope.hr_paths or own is None or not own.is_active:
        return False
    roots = Department.objects.filter(organisation_id=own.organisation_id, parent__isnull=True)
    return all(_in_subtrees(path, scope.hr_paths) for path in roots.values_list("path", flat=True))


can_view_employee = is_self | is_manager_of | is_department_head_for | is_hr_for | is_admin_of
can_manage_organisation = is_hr | is_admin
# Counts about groups of people (never names): executives and administrators, organisation-wide.
can_see_organisation_aggregates = is_executive | is_admin
# An import can change anyone in the organisation, so it needs organisation-wide reach.
can_import_org = is_admin | is_hr_for_whole_organisation

# Django's own "people.view_employee" model permission is not used: superusers would pass it
# regardless of scope. Views and the API test these predicates through queries.py instead.
rules.add_perm("people.import_org", can_import_org)
rules.add_perm("people.manage_roles", can_manage_organisation)
