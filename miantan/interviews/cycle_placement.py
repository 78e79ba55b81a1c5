"""Placing a review cycle's pairs in time (PRODUCT.md A10): every pair gets the best slot
left for both, or the reason it has none. Pure computation on availability loaded once for
everybody (plus one query for times already proposed for other talks); nothing is written.

Hard constraints: within working hours, not on a duty day, not within 8 hours after a night
shift, a buffer between talks, and at most `cap` talks a day for the manager. The pairs with
the least common free time go first; each placed talk counts as busy for both people at once,
so nobody is double-booked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.people.models import Employee
from miantan.scheduling import intervals
from miantan.scheduling.availability import Availability, load_availability
from miantan.scheduling.enums import BusyReason
from miantan.scheduling.slots import HardConstraints, RankedSlot, SoftPreferences, find_slots

from .enums import OPEN_STATES, ProposalState
from .models import Proposal

BUFFER_MINUTES = 15
REST_AFTER_NIGHT_HOURS = 8
# A time proposed at launch is at least this far ahead, so that nobody is asked for a talk
# that starts while they read the message.
LEAD_TIME = timedelta(hours=1)

INFEASIBLE_REASONS: dict[str, Any] = {
    "no_common_time": _(
        "The employee and the manager are never free at the same time in the window."
    ),
    "manager_at_cap": _(
        "The manager already has the most talks allowed on every day both are free."
    ),
    "taken_by_cycle": _("The cycle's other talks took all the time the two had in common."),
    "employee_on_leave": _("The employee is on leave for the whole window."),
    "manager_on_leave": _("The manager is on leave for the whole window."),
    "employee_unavailable": _(
        "The employee has no free time in the window (shifts, rest after night shifts, "
        "calendar, holidays)."
    ),
    "manager_unavailable": _(
        "The manager has no free time in the window (shifts, rest after night shifts, "
        "calendar, holidays)."
    ),
}


def infeasible_reason(code: str) -> Any:
    """The reason a pair got no time, in the active language."""
    return INFEASIBLE_REASONS.get(code, INFEASIBLE_REASONS["no_common_time"])


@dataclass
class Pair:
    """An employee and their direct manager; placing sets the slot or the reason for none."""

    employee: Employee
    manager: Employee
    slot: tuple[datetime, datetime] | None = None
    reason: str = ""


def place_pairs(
    pairs: list[Pair],
    window: tuple[datetime, datetime],
    minutes: int,
    cap: int,
    zone: ZoneInfo,
) -> None:
    """Give each pair a slot (pair.slot) or the reason it has none (pair.reason)."""
    people = {p.pk: p for pair in pairs for p in (pair.employee, pair.manager)}
    loaded = load_availability(list(people.values()), *window)
    _add_open_proposals(loaded, window)
    pristine = {pk: (list(a.busy), list(a.talks)) for pk, a in loaded.items()}
    hard = HardConstraints(
        within_working_hours=True,
        avoid_duty_days=True,
        rest_after_night=timedelta(hours=REST_AFTER_NIGHT_HOURS),
        buffer=timedelta(minutes=BUFFER_MINUTES),
        max_talks_per_day=cap,
    )
    soft = SoftPreferences(earliest=1.0, spread=1.0, time_zone=str(zone))
    search_window = (max(window[0], timezone.now() + LEAD_TIME), window[1])

    def search(
        people_: list[Availability], manager: int, *, capped: bool = True
    ) -> list[RankedSlot]:
        return find_slots(
            people_,
            duration=timedelta(minutes=minutes),
            window=search_window,
            hard=hard if capped else dataclasses.replace(hard, max_talks_per_day=None),
            soft=soft,
            limit=1,
            managers=[manager],
        )

    def original(person: Availability) -> Availability:
        """The person as loaded, before this launch placed any talk."""
        busy, talks = pristine[person.employee_id]
        return dataclasses.replace(person, busy=list(busy), talks=list(talks))

    for pair in _most_constrained_first(pairs, loaded):
        employee, manager = loaded[pair.employee.pk], loaded[pair.manager.pk]
        found = search([employee, manager], manager.employee_id)
        if found:
            pair.slot = (found[0].start, found[0].end)
            employee.add_talk(*pair.slot)
            manager.add_talk(*pair.slot)
        else:
            pair.reason = _why(employee, manager, original, search)


def _add_open_proposals(loaded: dict[int, Availability], window: tuple[datetime, datetime]) -> None:
    """Times proposed for other talks are held for their people: one query."""
    ids = list(loaded)
    rows = Proposal.objects.filter(
        Q(talk__employee_id__in=ids) | Q(talk__counterpart_id__in=ids),
        state=ProposalState.OPEN,
        talk__state__in=sorted(OPEN_STATES),
        start__lt=window[1],
        end__gt=window[0],
    ).values_list("talk__employee_id", "talk__counterpart_id", "start", "end")
    for employee_id, counterpart_id, start, end in rows:
        for person in (employee_id, counterpart_id):
            if person in loaded:
                loaded[person].add_talk(start, end)


def _most_constrained_first(pairs: list[Pair], loaded: dict[int, Availability]) -> list[Pair]:
    """Pairs by the length of the time both are free and allowed (fewest minutes first)."""
    rest = REST_AFTER_NIGHT_HOURS * 3600
    allowed: dict[int, list[tuple[int, int]]] = {}
    for pk, person in loaded.items():
        facts = person.seconds
        removed = intervals.merge(
            [*facts.duty_days, *((end, end + rest) for end in facts.night_ends)]
        )
        allowed[pk] = intervals.subtract(facts.free, removed) if removed else facts.free

    def free_seconds(pair: Pair) -> tuple[int, int]:
        common = intervals.intersect(allowed[pair.employee.pk], allowed[pair.manager.pk])
        return sum(end - start for start, end in common), pair.employee.pk

    return sorted(pairs, key=free_seconds)


def _why(
    employee: Availability,
    manager: Availability,
    original: Callable[[Availability], Availability],
    search: Callable[..., Any],
) -> str:
    """The reason code for a pair without a slot, from the most basic cause on."""
    roles = (("employee", employee), ("manager", manager))
    for role, person in roles:
        if _on_leave_throughout(person):
            return f"{role}_on_leave"
    first_employee, first_manager = original(employee), original(manager)
    for role, person in (("employee", first_employee), ("manager", first_manager)):
        if not search([person], manager.employee_id, capped=False):
            return f"{role}_unavailable"
    if not search([first_employee, first_manager], manager.employee_id, capped=False):
        return "no_common_time"
    if search([employee, manager], manager.employee_id, capped=False):
        return "manager_at_cap"
    return "taken_by_cycle"


def _on_leave_throughout(person: Availability) -> bool:
    leave = intervals.merge(
        (item.start, item.end) for item in person.busy if item.reason == BusyReason.LEAVE
    )
    return bool(leave and person.working) and not intervals.subtract(person.working, leave)
