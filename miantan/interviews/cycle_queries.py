"""Reads of review cycles, scoped to the viewer: HR partners see the cycles whose departments
all lie in their subtrees, administrators every cycle of their organisation. And a cycle's
progress, counted in one grouped query."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.ids import as_id
from miantan.people.models import Department, Employee
from miantan.people.queries import under
from miantan.people.scopes import scope_for

from .cycle_placement import infeasible_reason
from .enums import HELD_STATES, OPEN_STATES, ProposalState, TalkState
from .models import Proposal, ReviewCycle, Talk


def cycles_visible_to(user: Any) -> QuerySet[ReviewCycle]:
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active or not (scope.is_admin or scope.is_hr):
        return ReviewCycle.objects.none()
    cycles = ReviewCycle.objects.filter(organisation_id=own.organisation_id)
    if scope.is_admin:
        return cycles
    # A cycle with one department outside the user's subtrees is not theirs to see.
    return cycles.exclude(departments__in=_outside(own.organisation_id, scope.hr_paths))


def _outside(organisation_id: int, paths: tuple[str, ...]) -> QuerySet[Department]:
    within = Q()
    for path in paths:
        within |= under("path", path)
    return Department.objects.filter(organisation_id=organisation_id).exclude(within)


def cycle_departments_for(user: Any) -> QuerySet[Department]:
    """The departments the user may launch a cycle for."""
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active:
        return Department.objects.none()
    departments = Department.objects.filter(organisation_id=own.organisation_id)
    if scope.is_admin:
        return departments
    if not scope.hr_paths:
        return Department.objects.none()
    within = Q()
    for path in scope.hr_paths:
        within |= under("path", path)
    return departments.filter(within)


def cycles_with_counts(user: Any) -> QuerySet[ReviewCycle]:
    """The visible cycles, newest window first, with their number of talks and of talks held
    (one query; the departments in a second)."""
    return (
        cycles_visible_to(user)
        .annotate(
            talk_count=Count("talks"),
            held_count=Count("talks", filter=Q(talks__state__in=sorted(HELD_STATES))),
        )
        .prefetch_related("departments")
        .order_by("-window_start", "-pk")
    )


def access_cycle(user: Any, cycle_id: Any, *, audit: bool = True) -> ReviewCycle:
    """One cycle the user may follow, else 404 (also for another organisation's or an unknown
    id). Both outcomes are audited: the cycle page names people and why they got no time."""
    cycle = None
    pk = as_id(cycle_id)
    if pk is not None:
        cycle = (
            cycles_visible_to(user)
            .filter(pk=pk)
            .select_related("organisation", "created_by")
            .prefetch_related("departments")
            .first()
        )
    if audit:
        record(
            "interviews.cycle.viewed",
            actor=user,
            outcome=Outcome.OK if cycle is not None else Outcome.DENIED,
            object_type="interviews.reviewcycle",
            object_id=str(cycle_id)[:64],
            organisation_id=scope_for(user).organisation_id,
        )
    if cycle is None:
        raise Http404
    return cycle


def infeasible_pairs(cycle: ReviewCycle, *, limit: int = 500) -> list[dict[str, Any]]:
    """The pairs the launch found no time for, with both names and the reason in the active
    language (one query for the names)."""
    entries = list((cycle.report or {}).get("infeasible", []))[:limit]
    ids = {entry[key] for entry in entries for key in ("employee", "manager")}
    people = {
        person.pk: person
        for person in Employee.objects.filter(pk__in=ids).only("name", "employee_number")
    }
    return [
        {
            **entry,
            "employee_person": people.get(entry["employee"]),
            "manager_person": people.get(entry["manager"]),
            "reason_text": infeasible_reason(entry.get("reason", "")),
        }
        for entry in entries
    ]


# --- progress ---------------------------------------------------------------------------------

BUCKETS = (
    "proposed",
    "waiting",
    "accepted",
    "held",
    "declined",
    "cancelled",
    "expired",
    "overdue",
)


def cycle_progress(cycle: ReviewCycle, *, now: datetime | None = None) -> dict[str, Any]:
    """The cycle's talks counted per bucket, in total and per manager (the counterpart), in
    one grouped query. `proposed`: open with a proposed time; `waiting`: open without one;
    `accepted`: scheduled; `held`: started or later; `overdue` (counted besides its bucket):
    still open after the window, or scheduled and not started after its time."""
    now = now or timezone.now()
    zone = ZoneInfo(cycle.organisation.time_zone)
    window_over = now >= datetime.combine(cycle.window_end + timedelta(days=1), clock(0), zone)
    proposed = Exists(Proposal.objects.filter(talk_id=OuterRef("pk"), state=ProposalState.OPEN))
    is_open = Q(state__in=sorted(OPEN_STATES))
    overdue = Q(state=TalkState.SCHEDULED, scheduled_start__lt=now)
    if window_over:
        overdue |= is_open
    rows = (
        Talk.objects.filter(cycle=cycle)
        .values("counterpart_id", "counterpart__name", "counterpart__employee_number")
        .annotate(
            total=Count("pk"),
            proposed=Count("pk", filter=is_open & Q(proposed)),
            waiting=Count("pk", filter=is_open & ~Q(proposed)),
            accepted=Count("pk", filter=Q(state=TalkState.SCHEDULED)),
            held=Count("pk", filter=Q(state__in=sorted(HELD_STATES))),
            declined=Count("pk", filter=Q(state=TalkState.DECLINED)),
            cancelled=Count("pk", filter=Q(state=TalkState.CANCELLED)),
            expired=Count("pk", filter=Q(state=TalkState.EXPIRED)),
            overdue=Count("pk", filter=overdue),
        )
        .order_by("counterpart__name", "counterpart_id")
    )
    managers = [
        {
            "id": row["counterpart_id"],
            "name": row["counterpart__name"],
            "employee_number": row["counterpart__employee_number"],
            "total": row["total"],
            **{bucket: row[bucket] for bucket in BUCKETS},
        }
        for row in rows
    ]
    totals = {bucket: sum(m[bucket] for m in managers) for bucket in BUCKETS}
    return {"total": sum(m["total"] for m in managers), "buckets": totals, "managers": managers}
