"""Reads of talks, scoped to the viewer, and the slot search for a talk's two people."""

from __future__ import annotations

import contextvars
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.ids import as_id
from miantan.people.enums import EmploymentStatus, Role
from miantan.people.models import Employee, RoleAssignment
from miantan.people.scopes import scope_for
from miantan.scheduling.availability import Availability, load_availability
from miantan.scheduling.slots import HardConstraints, RankedSlot, SoftPreferences, TimeOfDay
from miantan.scheduling.slots import find_slots as search_slots

from .enums import BOOKED_STATES, OPEN_STATES
from .models import Talk
from .rules import can_act_on_talk, can_request_talk_with, can_view_talk

# How far ahead the slot search looks when a talk names no window.
SEARCH_DAYS = 28
_TALK_RELATED = ("employee__department", "counterpart__department", "requested_by", "cycle")


def talks_visible_to(user: Any) -> QuerySet[Talk]:
    """Talks the user takes part in; for HR partners also those of employees in their
    subtrees, for administrators every talk of the organisation."""
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active:
        return Talk.objects.none()
    talks = Talk.objects.filter(organisation_id=own.organisation_id)
    if scope.is_admin:
        return talks
    visible = Q(employee_id=own.pk) | Q(counterpart_id=own.pk)
    if scope.hr_paths:
        departments = scope.hr_department_ids_within
        if departments is None:
            return talks
        # Department ids, not a path match across two joins: the talk table is the big one.
        visible |= Q(employee__department_id__in=departments)
    return talks.filter(visible)


def access_talk(user: Any, talk_id: Any, *, audit: bool = True) -> Talk:
    """One talk the user may see, else 404. Both outcomes are audited (a talk is a personal
    record of its employee)."""
    own = scope_for(user).employee
    talk = None
    pk = as_id(talk_id)
    if own is not None and own.is_active and pk is not None:
        talk = (
            Talk.objects.filter(pk=pk, organisation_id=own.organisation_id)
            .select_related(*_TALK_RELATED)
            .first()
        )
    if talk is None or not can_view_talk.test(user, talk):
        if audit:
            record(
                "interviews.talk.viewed",
                actor=user,
                outcome=Outcome.DENIED,
                object_type="interviews.talk",
                object_id=str(talk_id)[:64],
                subject_id=talk.employee_id if talk is not None else None,
                organisation_id=own.organisation_id if own is not None else None,
            )
        raise Http404
    if audit:
        record(
            "interviews.talk.viewed",
            actor=user,
            obj=talk,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
    return talk


def access_talk_to_act_on(user: Any, talk_id: Any, *, action: str) -> Talk:
    """The talk, if the user takes part in it: 404 when out of sight, PermissionDenied
    (audited as `action` denied) for those who may only follow it (HR, administrators).
    Checked before anything sent with the request is read."""
    talk = access_talk(user, talk_id)
    if not can_act_on_talk.test(user, talk):
        record(
            action,
            actor=user,
            outcome=Outcome.DENIED,
            obj=talk,
            subject_id=talk.employee_id,
            organisation_id=talk.organisation_id,
        )
        raise PermissionDenied
    return talk


def access_person_to_ask(
    user: Any, employee_id: Any, *, action: str = "interviews.talk.requested"
) -> Employee:
    """The other person of a new talk: an active employee of the user's organisation, else
    404; PermissionDenied when the user may not ask them (rules.can_request_talk_with). Not
    `employees_visible_to`: an employee asks their manager, whose record they do not see.
    Refusals are audited as `action` denied."""
    own = scope_for(user).employee
    pk = as_id(employee_id)
    other = None
    if own is not None and own.is_active and pk is not None:
        other = (
            Employee.objects.filter(
                pk=pk, organisation_id=own.organisation_id, status=EmploymentStatus.ACTIVE
            )
            .select_related("department", "position", "organisation")
            .first()
        )
    if other is None or not can_request_talk_with.test(user, other):
        record(
            action,
            actor=user,
            outcome=Outcome.DENIED,
            object_type="people.employee",
            object_id=str(employee_id)[:64],
            subject_id=other.pk if other is not None else None,
            organisation_id=own.organisation_id if own is not None else None,
        )
        if other is None:
            raise Http404
        raise PermissionDenied
    return other


def last_talks_of(employee: Employee, *, viewer: Any, limit: int = 5) -> list[Talk]:
    """The employee's latest talks that the viewer may see (for the profile page): a manager
    who may open the profile sees the talks they took part in, HR all of them."""
    return list(
        talks_visible_to(viewer)
        .filter(employee_id=employee.pk)
        .select_related("counterpart")
        .order_by("-state_changed_at", "-pk")[:limit]
    )


def inbox_of(user: Any) -> QuerySet[Talk]:
    """Open talks waiting for the user's answer, oldest first (urgent ones on top)."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return Talk.objects.none()
    return (
        Talk.objects.filter(awaiting_id=own.pk, state__in=OPEN_STATES)
        .select_related(*_TALK_RELATED)
        .order_by("-urgency", "state_changed_at", "pk")
    )


def talks_of(user: Any, *, states: Sequence[str] | None = None) -> QuerySet[Talk]:
    """The user's own talks (as employee or counterpart), newest first."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return Talk.objects.none()
    talks = Talk.objects.filter(Q(employee_id=own.pk) | Q(counterpart_id=own.pk))
    if states:
        talks = talks.filter(state__in=states)
    return talks.select_related(*_TALK_RELATED).order_by("-state_changed_at", "-pk")


def upcoming_talks_of(user: Any, *, days: int = 28) -> QuerySet[Talk]:
    now = timezone.now()
    return (
        talks_of(user, states=sorted(BOOKED_STATES))
        .filter(scheduled_end__gt=now, scheduled_start__lt=now + timedelta(days=days))
        .order_by("scheduled_start", "pk")
    )


def people_to_ask(user: Any) -> list[Employee]:
    """Whom the user can ask for a talk about themself: the managers up their reporting line,
    the heads of their department and the departments above it, and HR partners for it.
    Two queries (managers; role holders)."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return []
    manager_ids = [int(part) for part in own.manager_path.strip("/").split("/")[:-1] if part]
    ancestors = [p for p in _prefixes(own.department.path)]
    found = {
        e.pk: e
        for e in Employee.objects.filter(
            pk__in=manager_ids, status=EmploymentStatus.ACTIVE
        ).select_related("department", "position")
    }
    holders = (
        RoleAssignment.objects.filter(
            organisation_id=own.organisation_id,
            role__in=[Role.DEPARTMENT_HEAD, Role.HR],
            department__path__in=ancestors,
            employee__status=EmploymentStatus.ACTIVE,
        )
        .exclude(employee_id=own.pk)
        .select_related("employee__department", "employee__position")
    )
    for holder in holders:
        found.setdefault(holder.employee_id, holder.employee)
    # The direct manager first, then up the line, then the role holders by name.
    order = {pk: index for index, pk in enumerate(reversed(manager_ids))}
    return sorted(found.values(), key=lambda e: (order.get(e.pk, len(order)), e.name))


def _prefixes(path: str) -> list[str]:
    parts = [part for part in path.strip("/").split("/") if part]
    return ["/" + "/".join(parts[: index + 1]) + "/" for index in range(len(parts))]


# --- the slot search --------------------------------------------------------------------------


def hard_constraints_of(talk: Talk) -> HardConstraints:
    chosen = talk.hard_constraints or {}
    return HardConstraints(
        within_working_hours=bool(chosen.get("within_working_hours", True)),
        avoid_duty_days=bool(chosen.get("avoid_duty_days", False)),
        rest_after_night=timedelta(hours=int(chosen.get("rest_after_night_hours", 8))),
        buffer=timedelta(minutes=int(chosen.get("buffer_minutes", 15))),
        max_talks_per_day=chosen.get("max_talks_per_day", 4),
    )


def soft_preferences_of(talk: Talk, zone: str) -> SoftPreferences:
    chosen = talk.soft_preferences or {}
    times = []
    before, after = _time(chosen.get("before")), _time(chosen.get("after"))
    if before or after:
        times.append(TimeOfDay(start=after, end=before, weight=10.0))
    return SoftPreferences(
        time_of_day=tuple(times),
        avoid_surgery_days=5.0 if chosen.get("avoid_surgery_days") else 0.0,
        earliest=3.0 if talk.urgency == "urgent" else 1.0,
        spread=1.0,
        time_zone=zone,
    )


def search_window(talk: Talk, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From now (or the talk's first day) to its last day, or SEARCH_DAYS ahead."""
    now = now or timezone.now()
    zone = ZoneInfo(talk.employee.time_zone)
    start = now
    if talk.not_before is not None:
        start = max(now, datetime.combine(talk.not_before, time(0), tzinfo=zone))
    end = start + timedelta(days=SEARCH_DAYS)
    if talk.not_after is not None:
        end = datetime.combine(talk.not_after + timedelta(days=1), time(0), tzinfo=zone)
    return start, max(start, end)


def availability_for(
    talk: Talk, *, window: tuple[datetime, datetime] | None = None, exclude_self: bool = True
) -> dict[int, Availability]:
    """Both people's availability in the talk's window; the talk's own booked time does not
    count as busy (so that a reschedule may keep a neighbouring time)."""
    window = window or search_window(talk)
    people = [talk.employee, talk.counterpart]
    token = _EXCLUDED.set(talk.pk if exclude_self else None)
    try:
        return load_availability(people, *window)
    finally:
        _EXCLUDED.reset(token)


@dataclass(frozen=True)
class SlotOffer:
    """The best times for a talk, and the years in its window that no holiday source knows
    (their days count as ordinary weekdays; only HR is told, so that they enter them)."""

    slots: list[RankedSlot]
    unknown_years: list[int]


def offer_slots(talk: Talk, *, limit: int = 5, now: datetime | None = None) -> SlotOffer:
    """The ranked slots, each with the reasons for its rank, from one availability load."""
    window = search_window(talk, now=now)
    people = availability_for(talk, window=window)
    slots = search_slots(
        [people[talk.employee_id], people[talk.counterpart_id]],
        duration=timedelta(minutes=talk.duration_minutes),
        window=window,
        hard=hard_constraints_of(talk),
        soft=soft_preferences_of(talk, talk.employee.time_zone),
        limit=limit,
        managers=[talk.counterpart_id],
    )
    unknown = sorted({year for person in people.values() for year in person.unknown_years})
    return SlotOffer(slots=slots, unknown_years=unknown)


def slots_for(talk: Talk, *, limit: int = 5, now: datetime | None = None) -> list[RankedSlot]:
    """The best times for the talk (`offer_slots` without the calendar's limits)."""
    return offer_slots(talk, limit=limit, now=now).slots


def conflicts_at(talk: Talk, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Why [start, end) does not suit the talk's people: busy time, time outside working
    hours, a duty day or the rest after a night shift. Empty when the time is fine."""
    people = availability_for(talk, window=(start - timedelta(days=1), end + timedelta(days=1)))
    hard = hard_constraints_of(talk)
    found: list[dict[str, Any]] = []
    for employee_id, person in people.items():
        found.extend(_person_conflicts(employee_id, person, hard, start, end))
    return found


def _person_conflicts(
    employee_id: int, person: Availability, hard: HardConstraints, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    found = []

    def add(reason: str, detail: str = "", a: datetime = start, b: datetime = end) -> None:
        found.append(
            {
                "employee": employee_id,
                "name": person.name,
                "reason": reason,
                "detail": detail,
                "start": a.isoformat(),
                "end": b.isoformat(),
            }
        )

    for busy in person.busy:
        if busy.start < end and start < busy.end:
            add(str(busy.reason), busy.detail, busy.start, busy.end)
    if hard.within_working_hours and not any(a <= start and end <= b for a, b in person.working):
        add("outside_hours")
    local_day = start.astimezone(person.zone).date()
    if hard.avoid_duty_days and local_day in person.duty_days:
        add("duty_day")
    rest = hard.rest_after_night
    for night_end in person.night_shift_ends:
        if night_end <= start < night_end + rest or (start < night_end + rest and night_end < end):
            add("rest_after_night", "", night_end, night_end + rest)
            break
    return found


# --- talks as busy time -----------------------------------------------------------------------

_EXCLUDED: contextvars.ContextVar[int | None] = contextvars.ContextVar("excluded", default=None)


def scheduled_talk_spans(
    employee_ids: Sequence[int], start: datetime, end: datetime
) -> Mapping[int, Sequence[tuple[datetime, datetime]]]:
    """Booked talks of these employees that overlap [start, end), for availability. One
    query. Open requests do not block time: only an accepted time is busy."""
    rows = Talk.objects.filter(
        Q(employee_id__in=employee_ids) | Q(counterpart_id__in=employee_ids),
        state__in=sorted(BOOKED_STATES),
        scheduled_start__lt=end,
        scheduled_end__gt=start,
    )
    excluded = _EXCLUDED.get()
    if excluded is not None:
        rows = rows.exclude(pk=excluded)
    wanted = set(employee_ids)
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for employee_id, counterpart_id, begins, ends in rows.values_list(
        "employee_id", "counterpart_id", "scheduled_start", "scheduled_end"
    ):
        for person in (employee_id, counterpart_id):
            if person in wanted and begins is not None and ends is not None:
                spans[person].append((begins, ends))
    return spans


def _time(value: Any) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None
