"""Pages about the signed-in user: own profile, who viewed my records."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from miantan.audit.queries import views_of_my_records
from miantan.people.queries import access_employee, roles_of
from miantan.people.scopes import scope_for

from .people import manager_viewable


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
            "manager_viewable": manager_viewable(request.user, employee),
        },
    )


@login_required
def access_log(request: HttpRequest) -> HttpResponse:
    own = scope_for(request.user).employee
    if own is None:
        raise Http404
    page = Paginator(views_of_my_records(request.user), 50).get_page(request.GET.get("page"))
    rows = [(event, *_name_and_number(event.actor_label)) for event in page]
    return render(request, "web/access_log.html", {"page": page, "rows": rows})


# How the audit trail names an actor: "张伟 (H0010)" (audit.services), kept as it was written.
_ACTOR_LABEL = re.compile(r"^(?P<name>.+) \((?P<number>[^()]+)\)$")


def _name_and_number(label: str) -> tuple[str, str]:
    """The name and the employee number of an audited actor, to be shown in the reader's
    language's punctuation; the whole label as the name when it has no number."""
    found = _ACTOR_LABEL.match(label or "")
    return (found["name"], found["number"]) if found else (label, "")
