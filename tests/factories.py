"""Factories that build people data the way the application does: through the services.

Departments and employees come from `create_department` / `create_employee`, so every row has
the materialised `path`, `depth` and `manager_path` the scopes rely on.
"""

from __future__ import annotations

from typing import Any

import factory

from miantan.accounts.models import ApiToken
from miantan.accounts.services import create_token
from miantan.people import services
from miantan.people.models import Department, Employee, Organisation, Position, RoleAssignment

PASSWORD = "correct-horse-battery-42"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"组织{n}")
    name_en = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    organisation = factory.SubFactory(OrganisationFactory)
    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"部门{n}")
    name_en = factory.Sequence(lambda n: f"Department {n}")
    parent = None

    @classmethod
    def _create(cls, model_class: type[Department], *args: Any, **kwargs: Any) -> Department:
        organisation = kwargs.pop("organisation")
        parent = kwargs.pop("parent", None)
        if parent is not None:
            organisation = parent.organisation
        return services.create_department(organisation, parent=parent, **kwargs)


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    organisation = factory.SubFactory(OrganisationFactory)
    code = factory.Sequence(lambda n: f"P{n:04d}")
    name = factory.Sequence(lambda n: f"岗位{n}")
    name_en = factory.Sequence(lambda n: f"Position {n}")


class EmployeeFactory(factory.django.DjangoModelFactory):
    """An active employee with a login whose password is `PASSWORD`."""

    class Meta:
        model = Employee

    department = factory.SubFactory(DepartmentFactory)
    employee_number = factory.Sequence(lambda n: f"E{n:05d}")
    name = factory.Sequence(lambda n: f"员工{n}")
    manager = None
    position = None
    email = factory.LazyAttribute(lambda o: f"{o.employee_number.lower()}@example.test")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class: type[Employee], *args: Any, **kwargs: Any) -> Employee:
        department = kwargs.pop("department")
        organisation = kwargs.pop("organisation", None) or department.organisation
        return services.create_employee(organisation, department=department, **kwargs)


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    employee = factory.SubFactory(EmployeeFactory)
    role = "executive"
    department = None

    @classmethod
    def _create(
        cls, model_class: type[RoleAssignment], *args: Any, **kwargs: Any
    ) -> RoleAssignment:
        employee = kwargs.pop("employee")
        return services.assign_role(employee, actor=None, **kwargs)


def api_token_for(employee: Employee, *, days: int | None = 30) -> tuple[ApiToken, str]:
    """A personal API token for the employee; returns the token row and its secret."""
    return create_token(employee.user, name="tests", days=days)
