"""Review cycles (PRODUCT.md A10): HR creates a cycle for departments and a window of dates;
launching it creates a talk for every employee–manager pair in scope at once and proposes a
time for each, so that nobody is double-booked and the hard constraints hold.

The participants are frozen at launch: the talks created then are the cycle, and later
changes to the organisation add nobody. Launching writes everything in one transaction:
the talks (in bulk), their proposals and activities, one batch of audit events
(`interviews.cycle.launched` and `interviews.talk.requested` per talk) and the notifications.
Where the times come from is `cycle_placement`; who sees a cycle and its progress,
`cycle_queries`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from miantan.audit.enums import Outcome
from miantan.audit.services import batched, record
from miantan.core.errors import ConflictError, InvalidFields
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Employee
from miantan.people.queries import under
from miantan.people.scopes import scope_for

from .cycle_placement import (
    BUFFER_MINUTES,
    REST_AFTER_NIGHT_HOURS,
    Pair,
    infeasible_reason,
    place_pairs,
)
from .cycle_queries import cycle_progress
from .cycle_rules import can_manage_cycle, can_manage_cycles, covers_departments
from .enums import (
    BOOKED_STATES,
    OPEN_STATES,
    CycleState,
    Initiation,
    TalkEvent,
    TalkState,
    Topic,
)
from .models import Proposal, ReviewCycle, Talk, TalkActivity
from .services import MAX_MINUTES, MIN_MINUTES, _expiry
from .signals import talk_changed

__all__ = [
    "DEFAULT_MAX_TALKS_PER_DAY",
    "MAX_WINDOW_DAYS",
    "CycleReport",
    "InvalidCycle",
    "create_cycle",
    "cycle_progress",
    "infeasible_reason",
    "launch_cycle",
]

MAX_WINDOW_DAYS = 60
DEFAULT_MAX_TALKS_PER_DAY = 6


class InvalidCycle(InvalidFields):
    """The cycle was refused."""

    error_code = "invalid_cycle"


@dataclass(frozen=True)
class CycleReport:
    """What a launch did: pairs in scope, pairs with a proposed time, the others with the
    reason (code and message), and how long it took (in total and per phase)."""

    pairs: int
    placed: int
    infeasible: list[dict[str, Any]]
    seconds: float
    skipped: int = 0
    # Seconds per phase: placing, writing, auditing, notifying.
    phases: dict[str, float] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --- creating ---------------------------------------------------------------------------------


def create_cycle(
    *,
    actor: Any,
    name: str,
    topic: str,
    period: str,
    departments: Sequence[Department],
    window_start: date,
    window_end: date,
    duration_minutes: int,
) -> ReviewCycle:
    """A draft cycle. HR partners covering every chosen department, and administrators, may
    create one; the window starts today or later and lasts at most MAX_WINDOW_DAYS days."""
    if not can_manage_cycles.test(actor):
        _deny("interviews.cycle.created", actor)
    own = _own(actor)
    chosen = list(departments)
    _validate(actor, own, name, topic, period, chosen, window_start, window_end, duration_minutes)
    with transaction.atomic():
        cycle = ReviewCycle.objects.create(
            organisation_id=own.organisation_id,
            name=name.strip(),
            topic=topic,
            period=(period or "").strip(),
            window_start=window_start,
            window_end=window_end,
            duration_minutes=duration_minutes,
            created_by=own,
        )
        cycle.departments.set(chosen)
        record(
            "interviews.cycle.created",
            actor=actor,
            obj=cycle,
            organisation_id=own.organisation_id,
            data={
                "departments": sorted(d.pk for d in chosen),
                "window": [window_start.isoformat(), window_end.isoformat()],
            },
        )
    return cycle


def _validate(
    actor: Any,
    own: Employee,
    name: str,
    topic: str,
    period: str,
    departments: list[Department],
    window_start: date,
    window_end: date,
    duration_minutes: int,
) -> None:
    errors: dict[str, Any] = {}
    if not (name or "").strip():
        errors["name"] = _("Give the cycle a name.")
    elif len(name.strip()) > 200:
        errors["name"] = _("Keep the name to 200 characters.")
    if topic not in Topic.values:
        errors["topic"] = _("Choose a topic.")
    if len((period or "").strip()) > 50:
        errors["period"] = _("Keep the period to 50 characters.")
    if not departments:
        errors["departments"] = _("Choose at least one department.")
    elif not covers_departments.test(actor, departments):
        errors["departments"] = _("Choose departments of your organisation within your HR scope.")
    today = timezone.now().astimezone(ZoneInfo(own.organisation.time_zone)).date()
    if window_start < today:
        errors["window_start"] = _("The first day is today or later.")
    if window_end < window_start:
        errors["window_end"] = _("The last day is before the first day.")
    elif (window_end - window_start).days + 1 > MAX_WINDOW_DAYS:
        errors["window_end"] = _("A cycle lasts at most %(days)s days.") % {"days": MAX_WINDOW_DAYS}
    if not isinstance(duration_minutes, int) or not (
        MIN_MINUTES <= duration_minutes <= MAX_MINUTES
    ):
        errors["duration_minutes"] = _("A talk lasts between %(low)s and %(high)s minutes.") % {
            "low": MIN_MINUTES,
            "high": MAX_MINUTES,
        }
    if errors:
        raise InvalidCycle(errors)


# --- launching --------------------------------------------------------------------------------


def launch_cycle(
    cycle: ReviewCycle, *, actor: Any, max_talks_per_day: int = DEFAULT_MAX_TALKS_PER_DAY
) -> CycleReport:
    """Create the cycle's talks and propose a time for each pair (see the module docstring).

    Pairs are every active employee in the departments' subtrees who has an active manager,
    with that direct manager; employees who already have an open or booked talk in the cycle
    are skipped. Availability is loaded once for everybody; the pairs with the least common
    free time are placed first, each in its best slot, which then counts as busy for both.
    A pair without a feasible slot still gets a talk, waiting for the manager to propose a
    time, and is reported with the reason. Launching twice raises ConflictError."""
    clock = _Laps()
    if not can_manage_cycle.test(actor, cycle):
        _deny("interviews.cycle.launched", actor, cycle)
    own = _own(actor)
    with transaction.atomic():
        locked = ReviewCycle.objects.select_for_update().get(pk=cycle.pk)
        if locked.state != CycleState.DRAFT:
            raise ConflictError(_("This cycle has already been launched."), code="launched")
        pairs, skipped = _pairs(cycle)
        _lock_people(pairs)
        zone = ZoneInfo(cycle.organisation.time_zone)
        place_pairs(pairs, _window(cycle, zone), cycle.duration_minutes, max_talks_per_day, zone)
        clock.lap("placing")
        now = timezone.now()
        talks = _write(cycle, own, pairs, max_talks_per_day, now)
        infeasible = _infeasible(talks, pairs, own)
        summary = {"pairs": len(pairs), "placed": len(pairs) - len(infeasible), "skipped": skipped}
        clock.lap("writing")
        _audit(cycle, talks, pairs, actor, summary | {"infeasible": len(infeasible)})
        clock.lap("auditing")
        _notify(talks, own)
        clock.lap("notifying")
        report = CycleReport(
            **summary, infeasible=infeasible, seconds=clock.total(), phases=clock.laps
        )
        cycle.state, cycle.launched_at = CycleState.LAUNCHED, now
        cycle.report = report.as_json() | {"max_talks_per_day": max_talks_per_day}
        cycle.save(update_fields=["state", "launched_at", "report", "updated_at"])
        transaction.on_commit(lambda: _announce(talks, own))
    return report


class _Laps:
    """Seconds spent in each phase of a launch, for the report."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now

    def total(self) -> float:
        return round(time.perf_counter() - self.started, 3)


def _lock_people(pairs: list[Pair]) -> None:
    """Serialise with other launches and bookings of the same people (PostgreSQL; SQLite writes
    one at a time). Availability is read after the locks, so whatever they committed is seen.
    In primary key order, as bookings lock them, so the two cannot wait for each other."""
    ids = sorted({person.pk for pair in pairs for person in (pair.employee, pair.manager)})
    list(
        Employee.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _pairs(cycle: ReviewCycle) -> tuple[list[Pair], int]:
    """The employees in scope with their direct managers (two queries), minus those who
    already have an open or booked talk in the cycle (one query)."""
    paths = list(cycle.departments.values_list("path", flat=True))
    scope = Q()
    for path in paths:
        scope |= under("department__path", path)
    employees = (
        Employee.objects.filter(
            scope,
            organisation_id=cycle.organisation_id,
            status=EmploymentStatus.ACTIVE,
            manager__status=EmploymentStatus.ACTIVE,
            manager__organisation_id=cycle.organisation_id,
        )
        .select_related("manager")
        .order_by("pk")
    )
    taken = set(
        Talk.objects.filter(cycle=cycle, state__in=sorted(OPEN_STATES | BOOKED_STATES)).values_list(
            "employee_id", flat=True
        )
    )
    pairs, skipped = [], 0
    for employee in employees:
        assert employee.manager is not None
        if employee.pk in taken:
            skipped += 1
        else:
            pairs.append(Pair(employee, employee.manager))
    return pairs, skipped


def _window(cycle: ReviewCycle, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(cycle.window_start, clock(0), tzinfo=zone)
    end = datetime.combine(cycle.window_end + timedelta(days=1), clock(0), tzinfo=zone)
    return start, end


def _write(
    cycle: ReviewCycle,
    own: Employee,
    pairs: list[Pair],
    cap: int,
    now: datetime,
) -> list[Talk]:
    """The talks, their proposals and activities, in bulk; talks in the pairs' order."""
    hard = {
        "avoid_duty_days": True,
        "rest_after_night_hours": REST_AFTER_NIGHT_HOURS,
        "within_working_hours": True,
        "buffer_minutes": BUFFER_MINUTES,
        "max_talks_per_day": cap,
    }
    expiry = now + _expiry()
    talks = [
        Talk(
            organisation_id=cycle.organisation_id,
            employee=pair.employee,
            counterpart=pair.manager,
            requested_by=own,
            initiation=Initiation.CYCLE,
            topic=cycle.topic,
            duration_minutes=cycle.duration_minutes,
            hard_constraints=hard,
            soft_preferences={"avoid_surgery_days": False, "before": None, "after": None},
            not_before=cycle.window_start,
            not_after=cycle.window_end,
            state=TalkState.NEGOTIATING if pair.slot else TalkState.REQUESTED,
            state_changed_at=now,
            awaiting=pair.employee if pair.slot else pair.manager,
            expires_at=min(expiry, pair.slot[0]) if pair.slot else expiry,
            cycle=cycle,
        )
        for pair in pairs
    ]
    Talk.objects.bulk_create(talks, batch_size=500)
    if any(talk.pk is None for talk in talks):
        ids = dict(Talk.objects.filter(cycle=cycle).values_list("uid", "pk"))
        for talk in talks:
            talk.pk = ids[talk.uid]
    Proposal.objects.bulk_create(
        [
            Proposal(
                talk=talk,
                proposed_by=pair.manager,
                start=pair.slot[0],
                end=pair.slot[1],
                created_at=now,
            )
            for talk, pair in zip(talks, pairs, strict=True)
            if pair.slot
        ],
        batch_size=500,
    )
    TalkActivity.objects.bulk_create(
        [
            TalkActivity(
                talk=talk,
                actor=own,
                event=TalkEvent.REQUESTED,
                to_state=talk.state,
                data={"cycle": cycle.pk},
                at=now,
            )
            for talk in talks
        ],
        batch_size=500,
    )
    return talks


def _infeasible(talks: list[Talk], pairs: list[Pair], own: Employee) -> list[dict[str, Any]]:
    """The pairs without a time, each with its reason (the message in the actor's language)."""
    found = []
    with translation.override(own.language):
        for talk, pair in zip(talks, pairs, strict=True):
            if pair.slot is None:
                found.append(
                    {
                        "talk": talk.pk,
                        "employee": pair.employee.pk,
                        "manager": pair.manager.pk,
                        "reason": pair.reason,
                        "message": str(infeasible_reason(pair.reason)),
                    }
                )
    return found


def _audit(
    cycle: ReviewCycle,
    talks: list[Talk],
    pairs: list[Pair],
    actor: Any,
    summary: dict[str, int],
) -> None:
    """The launch and every request, appended to the audit trail in one batch."""
    with batched():
        record(
            "interviews.cycle.launched",
            actor=actor,
            obj=cycle,
            organisation_id=cycle.organisation_id,
            data=summary,
        )
        for talk, pair in zip(talks, pairs, strict=True):
            record(
                "interviews.talk.requested",
                actor=actor,
                obj=talk,
                subject_id=talk.employee_id,
                organisation_id=talk.organisation_id,
                data={
                    "initiation": talk.initiation,
                    "topic": talk.topic,
                    "urgency": talk.urgency,
                    "cycle": cycle.pk,
                    "start": pair.slot[0].isoformat() if pair.slot else None,
                },
            )


def _notify(talks: list[Talk], own: Employee) -> None:
    from .messages import queue_new_talks

    queue_new_talks(talks, actor=own)


def _announce(talks: list[Talk], own: Employee) -> None:
    for talk in talks:
        talk_changed.send(sender=Talk, talk=talk, event=TalkEvent.REQUESTED, actor=own)


# --- helpers ----------------------------------------------------------------------------------


def _own(actor: Any) -> Employee:
    own = scope_for(actor).employee
    assert own is not None  # can_manage_cycles needs an active employee
    return own


def _deny(action: str, actor: Any, cycle: ReviewCycle | None = None) -> NoReturn:
    record(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=cycle,
        object_type="" if cycle is not None else "interviews.reviewcycle",
        organisation_id=scope_for(actor).organisation_id,
    )
    raise PermissionDenied
