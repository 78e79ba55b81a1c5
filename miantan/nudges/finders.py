"""Who each kind of rule nudges now: one set-based query (or a few) over the whole
organisation per rule, never a loop per employee or KPI. Each finder returns the nudges that
have not been queued yet: the query itself leaves out everyone whose notification key exists.

A nudge's key is `nudge:<rule>:<recipient>:<occasion>`; the occasion says what it is about
(a period, a talk's booked time, an action item and its due date, a window of weeks), so the
same occasion is never nudged twice, and a new one is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import CharField, Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from miantan.interviews.enums import BOOKED_STATES, HELD_STATES, OPEN_STATES, TalkState
from miantan.interviews.models import Talk
from miantan.metrics.enums import BriefTopic, Direction, PeriodKind
from miantan.metrics.gaps import COMPLETION_CAP
from miantan.metrics.models import Kpi, KpiAssignment, KpiValue, Period, TrainingRecord
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Employee
from miantan.plans.enums import ACTIVE_PLAN_STATES
from miantan.plans.models import OPEN_STATES as ACTION_OPEN_STATES
from miantan.plans.models import ActionItem, PlanMilestone

from .enums import NudgeKind
from .models import NudgeRule

# A nudge is checked for by its inbox row: every nudge has one, a mail only with an address.
CHECKED_CHANNEL = Channel.INBOX
TALK_REQUEST_PATH = "/talks/new/"


@dataclass(frozen=True)
class Nudge:
    """One message to queue: to whom, about what occasion, with which facts."""

    recipient_id: int
    email: str
    occasion: str
    context: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""


def key_prefix(rule: NudgeRule) -> str:
    return f"nudge:{rule.pk}:"


def nudge_key(rule: NudgeRule, recipient_id: int, occasion: str) -> str:
    return f"{key_prefix(rule)}{recipient_id}:{occasion}"


def _unqueued(queryset: Any, rule: NudgeRule, recipient: str, occasion: Any) -> Any:
    """`queryset` without the rows whose nudge is queued already: the key is built in SQL from
    the row's recipient and occasion, and looked up in the unique key's index."""
    key = Concat(
        Value(key_prefix(rule)),
        Cast(recipient, CharField()),
        Value(":"),
        occasion,
        Value(f"#{CHECKED_CHANNEL}"),
        output_field=CharField(),
    )
    queued = Notification.objects.filter(key=OuterRef("nudge_key"))
    return queryset.annotate(nudge_key=key).filter(~Exists(queued))


def _active(prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": EmploymentStatus.ACTIVE, f"{prefix}left_on__isnull": True})


def _today(now: datetime) -> date:
    return timezone.localdate(now)


# --- 1. KPIs behind before the period ends -----------------------------------------------------


def current_period(rule: NudgeRule, params: dict[str, Any], now: datetime) -> Period | None:
    """The period of the rule's kind that ends within its days, or None."""
    today = _today(now)
    period = (
        Period.objects.filter(
            organisation_id=rule.organisation_id,
            kind=params["period_kind"],
            start__lte=today,
            end__gt=today,
        )
        .order_by("-start")
        .first()
    )
    if period is None or (period.end - today).days > int(params["days_before"]):
        return None
    return period


def period_end_low_kpi(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """Employees with at least one KPI under the threshold in the period that is ending.

    Completion as metrics.gaps defines it, computed in SQL for everyone at once: the winning
    assignment per employee and KPI (position and department, then the deeper department, then
    the shorter period kind) by a window function, the person's own target over the
    assignment's, direction-aware, capped; only KPIs whose winning assignment counts in this
    kind of period."""
    period = current_period(rule, params, now)
    if period is None:
        return []
    # Only KPIs assigned for this kind of period can count; naming them lets the (KPI, period)
    # index find the period's values instead of reading the whole values table.
    kpi_ids = sorted(
        set(
            KpiAssignment.objects.filter(
                organisation_id=rule.organisation_id, period_kind=period.kind
            ).values_list("kpi_id", flat=True)
        )
    )
    if not kpi_ids:
        return []
    sql, values = _low_kpi_sql(rule, period, kpi_ids, float(params["threshold"]))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Compiling this one query took longer than a second on its own (JIT), and its
            # sort of a period's values spilled to disk with the default memory.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    return [
        Nudge(
            recipient_id=employee_id,
            email=email or "",
            occasion=period.label,
            context={
                "period": period.label,
                "period_end": (period.end - timedelta(days=1)).isoformat(),
                "behind": int(behind),
                "lowest": round(float(lowest), 1),
                "threshold": params["threshold"],
                "path": TALK_REQUEST_PATH,
            },
        )
        for employee_id, email, behind, lowest in rows
    ]


def _low_kpi_sql(
    rule: NudgeRule, period: Period, kpi_ids: list[int], threshold: float
) -> tuple[str, list[Any]]:
    value, kpi, assignment = (m._meta.db_table for m in (KpiValue, Kpi, KpiAssignment))
    employee, department = Employee._meta.db_table, Department._meta.db_table
    notification = Notification._meta.db_table
    cap = float(COMPLETION_CAP)
    target = "COALESCE(v.target, a.target)"
    kinds = list(PeriodKind.values)
    kind_order = " ".join(f"WHEN '{kind}' THEN {-i}" for i, kind in enumerate(kinds))
    # Only table names and constants are formatted in; every value is a parameter.
    sql = f"""
        WITH scored AS (
            SELECT v.employee_id AS employee_id,
                a.period_kind AS assigned_kind,
                CASE WHEN k.direction = %s THEN
                        CASE WHEN v.value <= 0 THEN {cap} ELSE {target} * 100.0 / v.value END
                    ELSE
                        CASE WHEN {target} = 0 THEN NULL ELSE v.value * 100.0 / {target} END
                END AS completion,
                ROW_NUMBER() OVER (
                    PARTITION BY v.employee_id, v.kpi_id
                    ORDER BY
                        CASE WHEN a.department_id IS NULL THEN 2
                             WHEN a.position_id IS NOT NULL THEN 3 ELSE 1 END DESC,
                        COALESCE(ad.depth, 0) DESC,
                        CASE a.period_kind {kind_order} ELSE -9 END DESC
                ) AS rank
            FROM {value} v
            JOIN {employee} e ON e.id = v.employee_id
            JOIN {department} ed ON ed.id = e.department_id
            JOIN {kpi} k ON k.id = v.kpi_id
            JOIN {assignment} a ON a.kpi_id = v.kpi_id
                AND a.organisation_id = e.organisation_id
                AND (a.position_id IS NULL OR a.position_id = e.position_id)
            LEFT JOIN {department} ad ON ad.id = a.department_id
            WHERE v.period_id = %s AND v.kpi_id IN ({", ".join(["%s"] * len(kpi_ids))})
                AND e.organisation_id = %s
                AND e.status = %s AND e.left_on IS NULL
                AND (a.department_id IS NULL OR ed.path LIKE ad.path || '%%')
        ),
        behind AS (
            SELECT employee_id, COUNT(*) AS behind, MIN(completion) AS lowest
            FROM scored
            WHERE rank = 1 AND assigned_kind = %s AND completion IS NOT NULL
                AND ROUND(CASE WHEN completion > {cap} THEN {cap} ELSE completion END, 1) < %s
            GROUP BY employee_id
        )
        SELECT b.employee_id, e.email, b.behind, b.lowest
        FROM behind b JOIN {employee} e ON e.id = b.employee_id
        WHERE NOT EXISTS (
            SELECT 1 FROM {notification} n
            WHERE n.key = %s || CAST(b.employee_id AS VARCHAR(20)) || %s
        )
        ORDER BY b.employee_id
    """  # noqa: S608
    values = [
        Direction.LOWER.value,
        period.pk,
        *kpi_ids,
        rule.organisation_id,
        EmploymentStatus.ACTIVE.value,
        period.kind,
        threshold,
        key_prefix(rule),
        f":{period.label}#{CHECKED_CHANNEL}",
    ]
    return sql, values


# --- 2. a request waiting too long -----------------------------------------------------------


def waiting_reminders(rule: NudgeRule, params: dict[str, Any], now: datetime) -> Any:
    """The talks' own SLA reminders (interviews.messages, one per step of a talk, queued when
    the talk started waiting for its counterpart) that the organisation's SLA makes due now:
    pending, unclaimed, queued at least `sla_hours` ago and still set for later."""
    return Notification.objects.filter(
        organisation_id=rule.organisation_id,
        kind="talk.reminder",
        sent_at__isnull=True,
        cancelled_at__isnull=True,
        failed_at__isnull=True,
        claimed_by="",
        due_at__gt=now,
        created_at__lte=now - timedelta(hours=int(params["sla_hours"])),
    )


# --- 3. a talk tomorrow ------------------------------------------------------------------------


def talk_tomorrow(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """Both people of every talk booked for tomorrow (local time) who have no preparation
    reminder for its current time yet (interviews queues one when a time is accepted early
    enough; a talk booked later gets it here). Occasion: the talk and its calendar sequence."""
    tomorrow = _today(now) + timedelta(days=1)
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(tomorrow, datetime.min.time()), zone)
    talks = Talk.objects.filter(
        organisation_id=rule.organisation_id,
        state=TalkState.SCHEDULED,
        scheduled_start__gte=start,
        scheduled_start__lt=start + timedelta(days=1),
    )
    occasion = Concat(
        Value("talk"), Cast("pk", CharField()), Value("."), Cast("sequence", CharField())
    )
    prepared_before = timedelta(hours=settings.MIANTAN_PREPARATION_HOURS)
    found: list[Nudge] = []
    for side in ("employee", "counterpart"):
        prepared = Notification.objects.filter(
            kind="talk.prepare",
            recipient_id=OuterRef(f"{side}_id"),
            object_type=Talk._meta.label_lower,
            object_id=Cast(OuterRef("pk"), CharField()),
            cancelled_at__isnull=True,
            due_at=OuterRef("scheduled_start") - prepared_before,
        )
        rows = _unqueued(
            talks.filter(_active(f"{side}__")).filter(~Exists(prepared)),
            rule,
            f"{side}_id",
            occasion,
        ).values_list(
            "pk",
            "sequence",
            f"{side}_id",
            f"{side}__email",
            "scheduled_start",
            "scheduled_end",
            "employee_id",
            "topic",
        )
        for pk, sequence, person, email, begins, ends, employee_id, topic in rows:
            found.append(
                Nudge(
                    recipient_id=person,
                    email=email or "",
                    occasion=f"talk{pk}.{sequence}",
                    context={
                        "event": "prepare",
                        "start": begins.isoformat(),
                        "end": ends.isoformat() if ends else None,
                        "brief": _brief_url(employee_id, topic),
                    },
                    object_type=Talk._meta.label_lower,
                    object_id=str(pk),
                )
            )
    return found


def _brief_url(employee_id: int, topic: str) -> str:
    """The data brief on the talk's employee, for the talk's topic when it has a brief."""
    query = f"?topic={topic}" if topic in BriefTopic.values else ""
    return f"{settings.MIANTAN_BASE_URL}/people/{employee_id}/brief/{query}"


# --- 6. no talk for weeks ----------------------------------------------------------------------


def no_talk_for(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """Managers with direct reports (employed for the whole window) they have had no talk with
    for `weeks`: none held or booked since, none booked ahead, none being arranged. One
    nudge per manager per window of `weeks` weeks, with how many reports it is about."""
    weeks = int(params["weeks"])
    since = now - timedelta(weeks=weeks)
    today = _today(now)
    window = today.toordinal() // (7 * weeks)

    def between(one: str, other: str) -> Exists:
        return Exists(
            Talk.objects.filter(
                **{"employee_id": OuterRef(one), "counterpart_id": OuterRef(other)}
            ).filter(
                Q(state__in=sorted(OPEN_STATES | BOOKED_STATES))
                | Q(state__in=sorted(HELD_STATES), scheduled_start__gte=since)
            )
        )

    occasion = f"weeks{weeks}.{window}"
    reports = (
        Employee.objects.filter(
            _active(),
            _active("manager__"),
            organisation_id=rule.organisation_id,
            manager__isnull=False,
        )
        .filter(Q(hire_date__isnull=True) | Q(hire_date__lte=today - timedelta(weeks=weeks)))
        .filter(~between("pk", "manager_id"), ~between("manager_id", "pk"))
    )
    rows = (
        _unqueued(reports, rule, "manager_id", Value(occasion))
        .values("manager_id", "manager__email")
        .annotate(reports=Count("pk"))
        .order_by("manager_id")
    )
    return [
        Nudge(
            recipient_id=row["manager_id"],
            email=row["manager__email"] or "",
            occasion=occasion,
            context={"reports": row["reports"], "weeks": weeks, "path": "/team/"},
        )
        for row in rows
    ]


# --- 7. a training finished ----------------------------------------------------------------------


def training_finished(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """Employees who finished a training within the last `days`: one nudge per training."""
    today = _today(now)
    occasion = Concat(Value("training"), Cast("pk", CharField()))
    trainings = TrainingRecord.objects.filter(
        _active("employee__"),
        organisation_id=rule.organisation_id,
        completed_on__gte=today - timedelta(days=int(params["days"])),
        completed_on__lte=today,
    )
    rows = (
        _unqueued(trainings, rule, "employee_id", occasion)
        .values_list("pk", "employee_id", "employee__email", "completed_on")
        .order_by("employee_id", "pk")
    )
    return [
        Nudge(
            recipient_id=employee_id,
            email=email or "",
            occasion=f"training{pk}",
            context={"completed_on": completed_on.isoformat(), "path": TALK_REQUEST_PATH},
        )
        for pk, employee_id, email, completed_on in rows
    ]


# --- 4. an action item due ----------------------------------------------------------------------


def action_due(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """Owners of open action items due within `days_before` days (today included). Occasion:
    the item and its due date, so a new due date is reminded again."""
    today = _today(now)
    occasion = Concat(
        Value("action"), Cast("pk", CharField()), Value("."), Cast("due_on", CharField())
    )
    items = ActionItem.objects.filter(
        _active("owner__"),
        organisation_id=rule.organisation_id,
        status__in=list(ACTION_OPEN_STATES),
        due_on__gte=today,
        due_on__lte=today + timedelta(days=int(params["days_before"])),
    )
    rows = (
        _unqueued(items, rule, "owner_id", occasion)
        .values_list("pk", "owner_id", "owner__email", "due_on", "employee_id")
        .order_by("owner_id", "pk")
    )
    return [
        Nudge(
            recipient_id=owner_id,
            email=email or "",
            occasion=f"action{pk}.{due_on.isoformat()}",
            context={
                "action": pk,
                "due_on": due_on.isoformat(),
                "employee": employee_id,
                "path": f"/plans/actions/{pk}/",
            },
        )
        for pk, owner_id, email, due_on, employee_id in rows
    ]


# --- 5. an improvement plan's milestone ----------------------------------------------------------


def plan_milestone(rule: NudgeRule, params: dict[str, Any], now: datetime) -> list[Nudge]:
    """The employee and the plan's manager (the employee's manager when the plan names none)
    of every open milestone of a plan in force due within `days_before` days."""
    today = _today(now)
    occasion = Concat(
        Value("milestone"), Cast("pk", CharField()), Value("."), Cast("due_on", CharField())
    )
    milestones = PlanMilestone.objects.filter(
        plan__organisation_id=rule.organisation_id,
        plan__state__in=list(ACTIVE_PLAN_STATES),
        done_at__isnull=True,
        due_on__gte=today,
        due_on__lte=today + timedelta(days=int(params["days_before"])),
    )
    sides = {
        "employee": F("plan__employee_id"),
        # The plan's manager, else the employee's.
        "manager": Coalesce("plan__manager_id", "plan__employee__manager_id"),
    }
    found: list[tuple[int, int, Any, int]] = []
    for person in sides.values():
        rows = _unqueued(
            milestones.annotate(person=person).filter(person__isnull=False),
            rule,
            "person",
            occasion,
        ).values_list("pk", "person", "due_on", "plan_id")
        found.extend((pk, person_id, due_on, plan_id) for pk, person_id, due_on, plan_id in rows)
    people = dict(
        Employee.objects.filter(_active(), pk__in={row[1] for row in found}).values_list(
            "pk", "email"
        )
    )
    return [
        Nudge(
            recipient_id=person_id,
            email=people[person_id] or "",
            occasion=f"milestone{pk}.{due_on.isoformat()}",
            context={
                "milestone": pk,
                "plan": plan_id,
                "due_on": due_on.isoformat(),
                "path": f"/plans/{plan_id}/",
            },
        )
        for pk, person_id, due_on, plan_id in found
        if person_id in people
    ]


Finder = Callable[[NudgeRule, dict[str, Any], datetime], list[Nudge]]
FINDERS: dict[str, Finder] = {
    NudgeKind.ACTION_DUE: action_due,
    NudgeKind.PLAN_MILESTONE: plan_milestone,
    NudgeKind.PERIOD_END_LOW_KPI: period_end_low_kpi,
    NudgeKind.TALK_TOMORROW: talk_tomorrow,
    NudgeKind.NO_TALK_FOR: no_talk_for,
    NudgeKind.TRAINING_FINISHED: training_finished,
}
