"""Pages about the signed-in user: home, own profile, who viewed my records."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from miantan.audit.queries import views_of_my_records
from miantan.people.queries import access_employee, roles_of
from miantan.people.scopes import scope_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:me")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    own = scope_for(request.user).employee
    if own is None:
        raise Http404
    employee = access_employee(request.user, own.pk)
    return render(
        request,
        "web/person.html",
        {
            "employee": employee,
            "roles": roles_of(employee),
            "is_me": True,
        },
    )


@login_required
def access_log(request: HttpRequest) -> HttpResponse:
    own = scope_for(request.user).employee
    if own is None:
        raise Http404
    page = Paginator(views_of_my_records(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "web/access_log.html", {"page": page})
