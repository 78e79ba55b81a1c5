"""The start pages, one per role (homes.py decides who has which): the employee's (request a
talk, what waits for me, what comes up, open points), the manager's (the team and who has not
had a talk lately), HR's (review cycles, failed imports, requests waiting past the SLA), the
overview of aggregates and the administrator's set-up page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from miantan.interviews.cycle_queries import cycles_with_counts
from miantan.interviews.enums import CycleState, ProposalState
from miantan.interviews.models import Proposal
from miantan.interviews.overview_queries import (
    open_points_of,
    overdue_requests,
    participation_by_department,
    team_overview,
)
from miantan.interviews.queries import inbox_of, upcoming_talks_of
from miantan.interviews.rules import can_request_talk_with, can_view_talk
from miantan.people.rules import can_import_org, can_view_employee, is_installation_admin
from miantan.people.scopes import scope_for
from miantan.scheduling.queries import holiday_notices
from miantan.scheduling.rules import can_view_holidays

from .. import homes
from ..checklist import setup_checklist
from ..context_processors import NavItem, management_items
from ..homes import ADMIN, EMPLOYEE, EXECUTIVE, HR, MANAGER, failed_imports

SHOWN = 10
TEAM_SHOWN = 20
CYCLES_SHOWN = 5
# Failed imports older than this are no longer news on HR's start page.
IMPORT_DAYS = 30
# The periods the overview can count over, in days; the first is the default.
OVERVIEW_PERIODS = (90, 365)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page: the signed-in person's most specific home; for the installation's
    administrator without an employee record, the page that sets up organisations."""
    landing = homes.landing_home(request.user)
    if landing is not None:
        return redirect(landing.url_name)
    if is_installation_admin.test(request.user) and scope_for(request.user).employee is None:
        return redirect("web:setup")
    raise Http404


def _home(key: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., HttpResponse]]:
    """A start page: 403 for someone who does not have it, else its template with the tabs."""

    def wrap(build: Callable[[HttpRequest], dict[str, Any]]) -> Callable[..., HttpResponse]:
        @login_required
        @require_GET
        def view(request: HttpRequest) -> HttpResponse:
            available = homes.homes_of(request.user)
            if key not in {h.key for h in available}:
                raise PermissionDenied
            context = {
                "homes": available if len(available) > 1 else [],
                "current_home": key,
                "own": scope_for(request.user).employee,
                **build(request),
            }
            return render(request, f"web/home/{key}.html", context)

        view.__name__ = view.__qualname__ = build.__name__
        view.__doc__ = build.__doc__
        return view

    return wrap


def _waiting_and_upcoming(request: HttpRequest) -> dict[str, Any]:
    open_proposals = Prefetch(
        "proposals",
        queryset=Proposal.objects.filter(state=ProposalState.OPEN),
        to_attr="open_proposals",
    )
    inbox = inbox_of(request.user)
    return {
        "inbox": list(inbox.prefetch_related(open_proposals)[:SHOWN]),
        "inbox_count": inbox.count(),
        "upcoming": list(upcoming_talks_of(request.user)[:SHOWN]),
    }


@_home(EMPLOYEE)
def home_employee(request: HttpRequest) -> dict[str, Any]:
    return {**_waiting_and_upcoming(request), "open_points": open_points_of(request.user)}


@_home(MANAGER)
def home_manager(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    team = team_overview(user, weeks=settings.MIANTAN_TEAM_TALK_WEEKS, limit=TEAM_SHOWN)
    # Decided from the scope, without queries: names link only where the page opens.
    viewable = {m.pk for m in (*team.members, *team.not_lately) if can_view_employee.test(user, m)}
    askable = {
        m.pk for m in (*team.members, *team.not_lately) if can_request_talk_with.test(user, m)
    }
    return {
        **_waiting_and_upcoming(request),
        "team": team,
        "viewable": viewable,
        "askable": askable,
    }


@_home(HR)
def home_hr(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    overdue = overdue_requests(user, hours=settings.MIANTAN_REQUEST_SLA_HOURS)
    overdue_rows = list(overdue[:SHOWN])
    cycles = list(cycles_with_counts(user).exclude(state=CycleState.CLOSED)[:CYCLES_SHOWN])
    return {
        "cycles": [{"cycle": cycle, "percent": _held_percent(cycle)} for cycle in cycles],
        "may_import": can_import_org.test(user),
        "failed_imports": failed_imports(user, days=IMPORT_DAYS),
        "import_days": IMPORT_DAYS,
        "overdue": overdue_rows,
        "overdue_count": overdue.count(),
        "overdue_viewable": {t.pk for t in overdue_rows if can_view_talk.test(user, t)},
        "sla_hours": settings.MIANTAN_REQUEST_SLA_HOURS,
        "holiday_notices": _holiday_notices(request),
    }


@_home(EXECUTIVE)
def home_executive(request: HttpRequest) -> dict[str, Any]:
    days = _period(request.GET.get("days"))
    since = timezone.now() - timedelta(days=days)
    participation = participation_by_department(
        request.user, since=since, min_group=settings.MIANTAN_AGGREGATE_MIN_GROUP
    )
    return {"participation": participation, "days": days, "periods": OVERVIEW_PERIODS}


@_home(ADMIN)
def home_admin(request: HttpRequest) -> dict[str, Any]:
    links = [
        *management_items(request.user),
        NavItem("departments", _("Departments"), reverse("web:departments")),
    ]
    own = scope_for(request.user).employee
    assert own is not None  # homes_of gives the set-up page to active administrators only
    return {
        "checklist": setup_checklist(own.organisation, viewer=request.user),
        "holiday_notices": _holiday_notices(request),
        "links": links,
    }


def _holiday_notices(request: HttpRequest) -> list[dict[str, Any]]:
    """What HR and administrators should do about the holiday calendar, with the page for it
    (never shown to anyone else)."""
    own = scope_for(request.user).employee
    if own is None or not can_view_holidays.test(request.user):
        return []
    page = reverse("web:holidays")
    return [
        {"notice": notice, "url": f"{page}?year={notice.year}"}
        for notice in holiday_notices(own.organisation_id, timezone.localdate())
    ]


def _held_percent(cycle: Any) -> int:
    """The share of the cycle's talks held (counted by cycles_with_counts)."""
    total, held = cycle.talk_count, cycle.held_count
    return round(100 * held / total) if total else 0


def _period(value: str | None) -> int:
    try:
        days = int(value or OVERVIEW_PERIODS[0])
    except ValueError:
        return OVERVIEW_PERIODS[0]
    return days if days in OVERVIEW_PERIODS else OVERVIEW_PERIODS[0]
