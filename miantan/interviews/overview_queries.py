"""Reads behind the start pages: a manager's team with the last and next talk of each person,
the requests that have waited longer than the SLA, the open points of the user's coming talks,
and participation counted by department for those who see aggregates only (PRODUCT.md G1,
G5). Each answers in a fixed number of queries, whatever the number of people and talks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Employee
from miantan.people.queries import departments_visible_to, reports_of
from miantan.people.rules import can_see_organisation_aggregates
from miantan.people.scopes import scope_for

from .enums import BOOKED_STATES, HELD_STATES, OPEN_STATES, Initiation
from .models import Talk
from .queries import talks_of, talks_visible_to

# Agenda points that are the same in every talk of a topic are not "open points".
_OWN_POINT_SOURCES = frozenset({"flag", "action", "own"})


# --- a manager's team -------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamOverview:
    """The direct reports, those talked with longest ago first, and who has had no talk with
    the manager for `weeks` weeks and has none booked or asked for."""

    members: list[Employee]
    total: int
    not_lately: list[Employee]
    not_lately_count: int
    weeks: int


def team_overview(
    user: Any, *, weeks: int, limit: int = 20, now: datetime | None = None
) -> TeamOverview:
    """Each member carries `last_talk_at` (the start of the latest talk held with the user),
    `next_talk_at` (the next booked one) and `talk_asked` (one of them asked for a talk that
    is still open), read from the talks the user may see. Four queries."""
    now = now or timezone.now()
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return TeamOverview([], 0, [], 0, weeks)
    with_user = talks_visible_to(user).filter(employee_id=OuterRef("pk"), counterpart_id=own.pk)
    last = with_user.filter(state__in=sorted(HELD_STATES)).order_by("-scheduled_start")
    upcoming = with_user.filter(state__in=sorted(BOOKED_STATES), scheduled_end__gt=now)
    team = reports_of(user, direct_only=True).annotate(
        last_talk_at=Subquery(last.values("scheduled_start")[:1]),
        next_talk_at=Subquery(upcoming.order_by("scheduled_start").values("scheduled_start")[:1]),
        talk_asked=Exists(with_user.filter(state__in=sorted(OPEN_STATES))),
    )
    cutoff = now - timedelta(weeks=weeks)
    lagging = team.filter(
        Q(last_talk_at__isnull=True) | Q(last_talk_at__lt=cutoff),
        next_talk_at__isnull=True,
        talk_asked=False,
    )
    members = team.order_by(F("last_talk_at").asc(nulls_first=True), "name", "pk")
    return TeamOverview(
        members=list(members[:limit]),
        total=team.count(),
        not_lately=list(lagging.order_by(F("last_talk_at").asc(nulls_first=True), "name")[:limit]),
        not_lately_count=lagging.count(),
        weeks=weeks,
    )


# --- requests waiting too long ----------------------------------------------------------------


def overdue_requests(user: Any, *, hours: int, now: datetime | None = None) -> QuerySet[Talk]:
    """Open talks the user may see whose last step is older than `hours` (the SLA after which
    the waiting side is reminded), the longest waiting first."""
    now = now or timezone.now()
    return (
        talks_visible_to(user)
        .filter(state__in=sorted(OPEN_STATES), updated_at__lt=now - timedelta(hours=hours))
        .select_related("employee__department", "counterpart", "awaiting")
        .order_by("updated_at", "pk")
    )


# --- open points of my coming talks ---------------------------------------------------------


@dataclass(frozen=True)
class OpenPoints:
    talk: Talk
    points: list[str]


def open_points_of(user: Any, *, limit: int = 5) -> list[OpenPoints]:
    """The points still to be talked about in the user's own open and booked talks as the
    employee: flagged KPIs, action items carried over from earlier talks and points either side
    added; the fixed points of a topic are left out. One query."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return []
    talks = (
        talks_of(user, states=sorted(OPEN_STATES | BOOKED_STATES))
        .filter(employee_id=own.pk)
        .order_by(F("scheduled_start").asc(nulls_last=True), "-state_changed_at", "-pk")
    )
    found = []
    for talk in talks[:limit]:
        points = [
            str(item.get("text", "")).strip()
            for item in talk.agenda or []
            if item.get("source") in _OWN_POINT_SOURCES and str(item.get("text", "")).strip()
        ]
        if points:
            found.append(OpenPoints(talk=talk, points=points))
    return found


# --- participation by department (aggregates only) ------------------------------------------


@dataclass
class ParticipationGroup:
    """Counts for a top-level department with everything below it; `hidden` when fewer than
    the minimum group size work there, so that nobody can be picked out."""

    department: Department | None
    headcount: int = 0
    people_talked: int = 0
    talks_held: int = 0
    requests: int = 0
    requests_by_employees: int = 0
    hidden: bool = False
    groups: int = 1

    @property
    def share_talked(self) -> int:
        return round(100 * self.people_talked / self.headcount) if self.headcount else 0

    @property
    def share_by_employees(self) -> int:
        return round(100 * self.requests_by_employees / self.requests) if self.requests else 0

    def add(self, other: ParticipationGroup) -> None:
        self.headcount += other.headcount
        self.people_talked += other.people_talked
        self.talks_held += other.talks_held
        self.requests += other.requests
        self.requests_by_employees += other.requests_by_employees


@dataclass(frozen=True)
class Participation:
    since: datetime
    min_group: int
    groups: list[ParticipationGroup]
    # Departments too small to show alone, counted together (hidden too when still too small).
    small: ParticipationGroup | None
    # None when showing it would let the hidden small groups be worked out.
    total: ParticipationGroup | None
    suppressed: list[Department] = field(default_factory=list)


def participation_by_department(
    user: Any, *, since: datetime, min_group: int
) -> Participation | None:
    """Active head count, people with a talk held since `since`, talks held and requests made
    (and how many of those the employees asked for) per top-level department; None for a user
    who may not see the organisation's aggregates. Three queries; no names of people."""
    if not can_see_organisation_aggregates.test(user):
        return None
    organisation_id = scope_for(user).organisation_id
    if organisation_id is None:
        return None
    departments = list(departments_visible_to(user).order_by("path"))
    top = _top_level(departments)
    groups: dict[int, ParticipationGroup] = {}
    for department in departments:
        if top[department.pk] == department.pk:
            groups[department.pk] = ParticipationGroup(department=department)
    heads = (
        Employee.objects.filter(organisation_id=organisation_id, status=EmploymentStatus.ACTIVE)
        .values("department_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in heads:
        groups[top[row["department_id"]]].headcount += row["n"]
    held = Q(state__in=sorted(HELD_STATES), scheduled_start__gte=since)
    asked = Q(created_at__gte=since)
    talks = (
        Talk.objects.filter(organisation_id=organisation_id)
        .filter(held | asked)
        .values("employee__department_id")
        .annotate(
            people=Count("employee_id", filter=held, distinct=True),
            held=Count("pk", filter=held),
            requests=Count("pk", filter=asked),
            by_employees=Count("pk", filter=asked & Q(initiation=Initiation.EMPLOYEE)),
        )
        .order_by()
    )
    for row in talks:
        group = groups[top[row["employee__department_id"]]]
        group.people_talked += row["people"]
        group.talks_held += row["held"]
        group.requests += row["requests"]
        group.requests_by_employees += row["by_employees"]
    return _anonymised(list(groups.values()), since=since, min_group=min_group)


def _top_level(departments: Iterable[Department]) -> dict[int, int]:
    """Each department's top-level department: the child of a root, or the root itself."""
    by_path: dict[int, int] = {}
    for department in departments:
        parts = [int(part) for part in department.path.strip("/").split("/") if part]
        by_path[department.pk] = parts[1] if len(parts) > 1 else parts[0]
    return by_path


def _anonymised(
    groups: list[ParticipationGroup], *, since: datetime, min_group: int
) -> Participation:
    shown = [g for g in groups if g.headcount >= min_group]
    small_groups = [g for g in groups if 0 < g.headcount < min_group]
    small = None
    if small_groups:
        small = ParticipationGroup(department=None, groups=len(small_groups))
        for group in small_groups:
            small.add(group)
        small.hidden = small.headcount < min_group
    total = ParticipationGroup(department=None, groups=len(groups))
    for group in groups:
        total.add(group)
    # A total next to one hidden remainder would give the remainder away by subtraction.
    reveals = small is not None and small.hidden
    total_shown = None if total.headcount < min_group or reveals else total
    return Participation(
        since=since,
        min_group=min_group,
        groups=sorted(shown, key=lambda g: g.department.path if g.department else ""),
        small=small,
        total=total_shown,
        suppressed=[g.department for g in small_groups if g.department is not None],
    )
