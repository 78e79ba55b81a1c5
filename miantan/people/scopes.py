"""What a signed-in user may see, worked out once per request from the role table.

Two queries (the employee with department, and the role assignments) build a `Scope`; the
predicates in rules.py and the querysets in queries.py read it without further queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .enums import Role
from .models import Department, Employee, RoleAssignment

_CACHE_ATTR = "_miantan_scope"


@dataclass(frozen=True)
class Scope:
    employee: Employee | None
    organisation_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    department_head_paths: tuple[str, ...] = ()
    hr_paths: tuple[str, ...] = ()
    has_reports: bool = False

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @property
    def is_hr(self) -> bool:
        return bool(self.hr_paths)

    @property
    def is_department_head(self) -> bool:
        return bool(self.department_head_paths)

    @property
    def is_executive(self) -> bool:
        return Role.EXECUTIVE in self.roles

    @property
    def manager_prefix(self) -> str | None:
        """Everyone whose reporting line starts with this is a direct or indirect report."""
        return self.employee.manager_path if self.employee is not None else None

    @cached_property
    def department_ids_within(self) -> list[int] | None:
        """Ids of the departments in the department-head and HR subtrees; None when that is
        every department of the organisation.

        One query on the small department table, computed once per request, so that the
        employee query filters an indexed column: a LIKE on the department path OR-ed across
        the join made PostgreSQL and SQLite read every employee (bench/README.md).
        """
        return self._department_ids_under(self.department_paths)

    @cached_property
    def hr_department_ids_within(self) -> list[int] | None:
        """The same for the HR subtrees alone (what HR follows beyond personal records, such
        as talks); None when they cover every department."""
        return self._department_ids_under(self.hr_paths)

    def _department_ids_under(self, roots: tuple[str, ...]) -> list[int] | None:
        if not roots or self.employee is None:
            return []
        departments = Department.objects.filter(organisation_id=self.employee.organisation_id)
        paths = list(departments.values_list("pk", "path"))
        within = [pk for pk, path in paths if path.startswith(roots)]
        return None if len(within) == len(paths) else within

    @property
    def department_paths(self) -> tuple[str, ...]:
        """Department subtrees in which the user sees individual records."""
        return self.department_head_paths + self.hr_paths


EMPTY = Scope(employee=None, organisation_id=None)


def scope_for(user: Any) -> Scope:
    if user is None or not user.is_authenticated:
        return EMPTY
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    employee = (
        Employee.objects.select_related("department", "position", "organisation")
        .filter(user_id=user.pk)
        .first()
    )
    scope = _build(employee) if employee is not None else EMPTY
    if employee is not None:
        # Fill the reverse one-to-one cache, so that user.employee costs no further query.
        user.employee = employee
    setattr(user, _CACHE_ATTR, scope)
    return scope


def forget_scope(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _build(employee: Employee) -> Scope:
    if not employee.is_active:
        return Scope(employee=employee, organisation_id=employee.organisation_id)
    roles: set[str] = set()
    head_paths: list[str] = []
    hr_paths: list[str] = []
    assignments = RoleAssignment.objects.filter(employee=employee).values_list(
        "role", "department__path"
    )
    for role, path in assignments:
        roles.add(role)
        if role == Role.DEPARTMENT_HEAD and path:
            head_paths.append(path)
        elif role == Role.HR and path:
            hr_paths.append(path)
    return Scope(
        employee=employee,
        organisation_id=employee.organisation_id,
        has_reports=Employee.objects.filter(manager=employee, status="active").exists(),
        roles=frozenset(roles),
        department_head_paths=_outermost(head_paths),
        hr_paths=_outermost(hr_paths),
    )


def _outermost(paths: list[str]) -> tuple[str, ...]:
    """Drop subtrees already covered by a wider one, so queries carry fewer OR branches."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(wider) for wider in kept):
            kept.append(path)
    return tuple(sorted(kept))


def scope_for_employee(employee: Employee) -> Scope:
    """The scope another employee would have when signed in (one query: their roles)."""
    return _build(employee)
