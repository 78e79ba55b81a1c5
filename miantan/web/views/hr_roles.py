"""HR and administrators assign and revoke roles (department head, HR, executive, admin).

Who may grant or revoke which role is decided by the services (people.rules.may_grant_role,
can_revoke_role); the form offers only the roles, people and departments the same rules allow.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from miantan.core.errors import DomainError
from miantan.people.enums import Role
from miantan.people.models import Department
from miantan.people.queries import (
    departments_visible_to,
    employees_visible_to,
    role_assignments_visible_to,
)
from miantan.people.rules import can_manage_organisation, can_revoke_role
from miantan.people.scopes import scope_for
from miantan.people.services import assign_role
from miantan.people.services import revoke_role as revoke_role_service

from ..forms import RoleAssignmentForm


def _require_org_manager(request: HttpRequest) -> None:
    if not can_manage_organisation.test(request.user):
        raise PermissionDenied


@login_required
def roles(request: HttpRequest) -> HttpResponse:
    _require_org_manager(request)
    scope = scope_for(request.user)
    form = RoleAssignmentForm(
        request.POST or None,
        allowed_roles=Role.values if scope.is_admin else [Role.DEPARTMENT_HEAD, Role.HR],
        employees=employees_visible_to(request.user),
        departments=_assignable_departments(request),
    )
    if request.method == "POST" and form.is_valid():
        try:
            assign_role(
                form.cleaned_data["employee"],
                role=form.cleaned_data["role"],
                department=form.cleaned_data.get("department"),
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("The role was assigned."))
            return redirect("web:roles")
    assignments = role_assignments_visible_to(request.user).order_by(
        "role", "department__path", "employee__name"
    )
    page = Paginator(assignments, 50).get_page(request.GET.get("page"))
    revocable = {a.pk for a in page if can_revoke_role.test(request.user, a)}
    return render(request, "web/roles.html", {"form": form, "page": page, "revocable": revocable})


@login_required
@require_POST
def revoke_role(request: HttpRequest, assignment_id: int) -> HttpResponse:
    _require_org_manager(request)
    assignment = role_assignments_visible_to(request.user).filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404
    try:
        revoke_role_service(assignment, actor=request.user)
    except PermissionDenied as denied:
        # A role wider than the viewer's own is out of reach, like any other record.
        raise Http404 from denied
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The role was revoked."))
    return redirect("web:roles")


def _assignable_departments(request: HttpRequest) -> QuerySet[Department]:
    """HR may hand out scopes only inside its own subtrees; admins anywhere."""
    scope = scope_for(request.user)
    departments = departments_visible_to(request.user)
    if scope.is_admin:
        return departments
    within = Q(pk__in=[])
    for path in scope.hr_paths:
        within |= Q(path__startswith=path)
    return departments.filter(within)
