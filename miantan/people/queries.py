"""Reads of people data, always scoped to the viewer. Views and the API use nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.http import Http404

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.ids import as_id

from .enums import EmploymentStatus
from .models import Department, Employee, Position, RoleAssignment
from .scopes import scope_for


def under(field: str, path: str) -> Q:
    """Rows whose materialised path (field) starts with `path`, which ends with "/".

    Paths hold only digits and "/". On SQLite, whose LIKE ignores case and so cannot use an
    index, the same set is the range [path, path with its last "/" raised to "0"): under the
    binary collation nothing but "/" sorts between them. PostgreSQL's collations may order
    punctuation differently, so there the prefix LIKE stays (served by varchar_pattern_ops).
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": path, f"{field}__lt": path[:-1] + "0"})
    return Q(**{f"{field}__startswith": path})


def employees_visible_to(user: Any) -> QuerySet[Employee]:
    """Individual records the user may open: self, reports along the reporting line, the
    department subtrees held as department head or HR, the whole organisation for admins.
    Executives see only themselves here; they get aggregates elsewhere."""
    scope = scope_for(user)
    if scope.employee is None or not scope.employee.is_active:
        return Employee.objects.none()
    in_org = Employee.objects.filter(organisation_id=scope.employee.organisation_id)
    if scope.is_admin:
        return in_org
    departments = scope.department_ids_within
    if departments is None:
        return in_org
    visible = Q(pk=scope.employee.pk) | under("manager_path", scope.employee.manager_path)
    if departments:
        visible |= Q(department_id__in=departments)
    return in_org.filter(visible)


def access_employee(
    user: Any, employee_id: Any, *, action: str = "people.employee.viewed"
) -> Employee:
    """The employee record if the user may see it, else 404. Both outcomes are audited."""
    scope = scope_for(user)
    employee = None
    pk = as_id(employee_id)
    if pk is not None:
        employee = (
            employees_visible_to(user)
            .select_related("department", "position", "manager", "organisation")
            .filter(pk=pk)
            .first()
        )
    if employee is None:
        record(
            action,
            actor=user,
            outcome=Outcome.DENIED,
            object_type="people.employee",
            object_id=str(employee_id)[:64],
            organisation_id=scope.organisation_id,
        )
        raise Http404
    record(
        action,
        actor=user,
        obj=employee,
        subject_id=employee.pk,
        organisation_id=employee.organisation_id,
    )
    return employee


def departments_visible_to(user: Any) -> QuerySet[Department]:
    """The department tree is not personal data: every active employee sees their organisation's."""
    scope = scope_for(user)
    if scope.employee is None or not scope.employee.is_active:
        return Department.objects.none()
    return Department.objects.filter(organisation_id=scope.employee.organisation_id)


def access_department(user: Any, department_id: Any) -> Department:
    department = None
    pk = as_id(department_id)
    if pk is not None:
        department = departments_visible_to(user).filter(pk=pk).first()
    if department is None:
        raise Http404
    return department


def headcount_by_department(user: Any, *, include_subtree: bool = False) -> dict[int, int]:
    """Active employees per department among those the user may see (one grouped query).
    With include_subtree, each department also counts everyone in the departments below it."""
    rows = (
        employees_visible_to(user)
        .filter(status=EmploymentStatus.ACTIVE)
        .values("department_id", "department__path")
        .annotate(headcount=Count("pk"))
        .order_by()
    )
    counts: dict[int, int] = {}
    for row in rows:
        path_ids = row["department__path"].strip("/").split("/") if include_subtree else ()
        for department_id in {int(i) for i in path_ids} | {row["department_id"]}:
            counts[department_id] = counts.get(department_id, 0) + row["headcount"]
    return counts


def positions_visible_to(user: Any) -> QuerySet[Position]:
    scope = scope_for(user)
    if scope.employee is None or not scope.employee.is_active:
        return Position.objects.none()
    return Position.objects.filter(organisation_id=scope.employee.organisation_id)


@dataclass(frozen=True)
class PeopleFilter:
    q: str = ""
    department_id: int | None = None
    include_subdepartments: bool = True
    position_id: int | None = None
    status: str = EmploymentStatus.ACTIVE  # "" for everyone


def search_people(user: Any, filters: PeopleFilter) -> QuerySet[Employee]:
    """The directory: visible employees narrowed by the filters, ready to paginate.

    Listing people is a read of personal data, so each search is audited (one event, with the
    filters; the people listed are not named one by one)."""
    record(
        "people.directory.searched",
        actor=user,
        organisation_id=scope_for(user).organisation_id,
        data={
            "q": filters.q[:100],
            "department": filters.department_id,
            "position": filters.position_id,
            "status": filters.status,
        },
    )
    people = employees_visible_to(user)
    if filters.status:
        people = people.filter(status=filters.status)
    if filters.q:
        # Chinese has no letter case: then a plain LIKE does, at half the cost of UPPER() LIKE.
        fold = "i" if filters.q.upper() != filters.q.lower() else ""
        people = people.filter(
            Q(**{f"name__{fold}contains": filters.q})
            | Q(**{f"employee_number__{fold}startswith": filters.q})
        )
    if filters.department_id is not None:
        department = departments_visible_to(user).filter(pk=filters.department_id).first()
        if department is None:
            return people.none()
        if filters.include_subdepartments:
            people = people.filter(under("department__path", department.path))
        else:
            people = people.filter(department=department)
    if filters.position_id is not None:
        people = people.filter(position_id=filters.position_id)
    if _sees_whole_organisation(user):
        return people.order_by("name", "pk")
    # A planner hint: for a scoped viewer, sorting by an expression keeps PostgreSQL from
    # walking the organisation-wide name index and filtering 100,000 rows for 15 (it guesses
    # departments by their average size); it fetches the few visible rows, then sorts them.
    return people.order_by(Concat("name", Value("")).asc(), "pk")


def _sees_whole_organisation(user: Any) -> bool:
    scope = scope_for(user)
    return scope.is_admin or (bool(scope.hr_paths) and scope.department_ids_within is None)


def with_directory_details(ids: Sequence[int]) -> QuerySet[Employee]:
    """The directory's rows for ids already chosen through search_people (so already scoped)."""
    return Employee.objects.filter(pk__in=ids).select_related("department", "position", "manager")


def reports_of(user: Any, *, direct_only: bool = False) -> QuerySet[Employee]:
    """The signed-in user's team along the reporting line."""
    scope = scope_for(user)
    me = scope.employee
    if me is None or not me.is_active:
        return Employee.objects.none()
    team = Employee.objects.filter(
        organisation_id=me.organisation_id, status=EmploymentStatus.ACTIVE
    )
    if direct_only:
        team = team.filter(manager=me)
    else:
        team = team.filter(under("manager_path", me.manager_path)).exclude(pk=me.pk)
    return team.select_related("department", "position", "manager").order_by("manager_path", "name")


def roles_of(employee: Employee) -> QuerySet[RoleAssignment]:
    return employee.role_assignments.select_related("department").order_by("role")


def role_assignments_visible_to(user: Any) -> QuerySet[RoleAssignment]:
    """HR sees assignments within its subtrees; admins see all in the organisation."""
    scope = scope_for(user)
    if scope.employee is None or not scope.employee.is_active:
        return RoleAssignment.objects.none()
    assignments = RoleAssignment.objects.filter(organisation_id=scope.employee.organisation_id)
    if scope.is_admin:
        return assignments.select_related("employee", "department")
    if not scope.hr_paths:
        return RoleAssignment.objects.none()
    within = Q()
    for path in scope.hr_paths:
        within |= under("employee__department__path", path)
    return assignments.filter(within).select_related("employee", "department")
