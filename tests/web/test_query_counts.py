"""Every list view runs the same number of SQL queries for a few rows and for many."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from miantan.audit.services import record
from miantan.people.enums import Role
from miantan.people.services import assign_role
from tests.factories import (
    DepartmentFactory,
    EmployeeFactory,
    PositionFactory,
    api_token_for,
)

MANY = 40


def queries_for(client: Client, path: str, data: dict | None = None) -> int:
    client.get(path, data)  # warm-up: the first request may fill per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, data)
    assert response.status_code == 200, response.status_code
    return len(captured)


def same_queries_few_and_many(client: Client, path: str, add_rows: Callable[[], None]) -> None:
    few = queries_for(client, path)
    add_rows()
    many = queries_for(client, path)
    assert many == few, f"{path}: {few} queries with few rows, {many} with many"


def add_staff(hospital, count: int = MANY, manager=None) -> None:
    """Employees spread over new departments, each with a position and a manager."""
    position = PositionFactory(organisation=hospital.organisation)
    departments = [DepartmentFactory(parent=hospital.emergency) for _ in range(count // 10)]
    for number in range(count):
        EmployeeFactory(
            department=departments[number % len(departments)],
            position=position,
            manager=manager or hospital.zhao,
        )


def test_people_list_query_count_is_constant(hospital, client_as):
    same_queries_few_and_many(
        client_as(hospital.hr_partner), "/people/", lambda: add_staff(hospital)
    )


def test_people_list_htmx_query_count_is_constant(hospital, client_as):
    client = client_as(hospital.hr_partner)
    client.defaults["HTTP_HX_REQUEST"] = "true"

    same_queries_few_and_many(client, "/people/", lambda: add_staff(hospital))


def test_team_query_count_is_constant(hospital, client_as):
    same_queries_few_and_many(
        client_as(hospital.head_nurse),
        "/team/",
        lambda: add_staff(hospital, manager=hospital.head_nurse),
    )


def test_departments_query_count_is_constant(hospital, client_as):
    same_queries_few_and_many(
        client_as(hospital.hr_partner), "/departments/", lambda: add_staff(hospital)
    )


def test_roles_query_count_is_constant(hospital, client_as):
    def add_roles() -> None:
        for _number in range(MANY):
            department = DepartmentFactory(parent=hospital.emergency)
            holder = EmployeeFactory(department=department, manager=hospital.zhao)
            assign_role(holder, role=Role.DEPARTMENT_HEAD, department=department, actor=None)

    same_queries_few_and_many(client_as(hospital.hr_partner), "/hr/roles/", add_roles)


def test_access_log_query_count_is_constant(hospital, client_as):
    def add_views() -> None:
        for viewer in (hospital.head, hospital.head_nurse, hospital.hr_partner, hospital.admin):
            for _time in range(MANY // 4):
                record(
                    "people.employee.viewed",
                    actor=viewer.user,
                    obj=hospital.nurse_wang,
                    subject_id=hospital.nurse_wang.pk,
                    organisation_id=hospital.organisation.pk,
                )

    client = client_as(hospital.nurse_wang)
    client_as(hospital.head).get(f"/people/{hospital.nurse_wang.pk}/")

    same_queries_few_and_many(client, "/me/access-log/", add_views)


def test_tokens_query_count_is_constant(hospital, client_as):
    def add_tokens() -> None:
        for _number in range(MANY):
            api_token_for(hospital.zhao)

    api_token_for(hospital.zhao)
    same_queries_few_and_many(client_as(hospital.zhao), "/accounts/tokens/", add_tokens)


def test_api_people_list_query_count_is_constant(hospital, client_as):
    same_queries_few_and_many(
        client_as(hospital.hr_partner), "/api/v1/people", lambda: add_staff(hospital)
    )


def test_api_departments_list_query_count_is_constant(hospital, client_as):
    def add_departments() -> None:
        for _number in range(MANY):
            DepartmentFactory(parent=hospital.emergency)

    same_queries_few_and_many(client_as(hospital.zhao), "/api/v1/departments", add_departments)
