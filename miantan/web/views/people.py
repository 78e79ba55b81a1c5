"""The directory, the person page, my team and the department tree."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from miantan.core.paging import IdPaginator
from miantan.interviews.rules import can_request_talk_with
from miantan.metrics.profiles import can_see_department_profile
from miantan.people.models import Employee
from miantan.people.queries import (
    access_employee,
    departments_visible_to,
    headcount_by_department,
    positions_visible_to,
    reports_of,
    roles_of,
    search_people,
    with_directory_details,
)
from miantan.people.rules import can_view_employee
from miantan.people.scopes import scope_for

from ..forms import PeopleSearchForm

PAGE_SIZE = 25


@login_required
def people(request: HttpRequest) -> HttpResponse:
    form = PeopleSearchForm(
        request.GET or None,
        departments=departments_visible_to(request.user),
        positions=positions_visible_to(request.user),
        language=get_language(),
    )
    filters = form.to_filter()
    people = (
        search_people(request.user, filters) if filters is not None else Employee.objects.none()
    )
    paginator = IdPaginator(people, PAGE_SIZE, load=with_directory_details)
    page = paginator.get_page(request.GET.get("page"))
    template = (
        "web/_people_results.html" if request.headers.get("HX-Request") else "web/people.html"
    )
    return render(request, template, {"form": form, "page": page})


@login_required
def person(request: HttpRequest, employee_id: int) -> HttpResponse:
    employee = access_employee(request.user, employee_id)
    return render(
        request,
        "web/person.html",
        {
            "employee": employee,
            "roles": roles_of(employee),
            "is_me": scope_for(request.user).employee == employee,
            "can_request_talk": can_request_talk_with.test(request.user, employee),
            "manager_viewable": manager_viewable(request.user, employee),
        },
    )


def manager_viewable(user: Any, employee: Employee) -> bool:
    """The person page links to the manager's only where the viewer may open it (an employee
    does not see their manager's record)."""
    manager = employee.manager
    return manager is not None and bool(can_view_employee.test(user, manager))


@login_required
def team(request: HttpRequest) -> HttpResponse:
    direct_only = request.GET.get("scope") == "direct"
    page = Paginator(reports_of(request.user, direct_only=direct_only), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "web/team.html", {"page": page, "direct_only": direct_only})


@login_required
def departments(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    tree = departments_visible_to(request.user).order_by("path")
    can_search = scope.has_reports or bool(scope.department_paths) or scope.is_admin
    headcount = headcount_by_department(request.user, include_subtree=True) if can_search else {}
    rows = [(department, headcount.get(department.pk, 0)) for department in tree]
    # Departments whose performance profile the user may open (no queries: the scope decides).
    profiles = {d.pk for d, _count in rows if can_see_department_profile(request.user, d)}
    return render(
        request,
        "web/departments.html",
        {"rows": rows, "can_search": can_search, "profile_ids": profiles},
    )
