"""Data the nudge tests build on: the hospital's KPIs for 2026-Q4, talks, action items,
improvement plans and trainings, made directly (the rules read them, nothing here is about
how they were written)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from miantan.interviews.enums import TalkState, Topic
from miantan.interviews.models import Talk
from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment, KpiValue, Period, TrainingRecord
from miantan.nudges.models import NudgeRule
from miantan.nudges.queries import ensure_rules
from miantan.people.models import Employee, Organisation
from miantan.plans.enums import ActionStatus, PlanState
from miantan.plans.models import ActionItem, ImprovementPlan, PlanMilestone

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 15 days before the end of 2026-Q4 (the period ends on 2027-01-01, exclusive).
NOW = datetime(2026, 12, 17, 9, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()


def rule_of(organisation: Organisation, kind: str) -> NudgeRule:
    ensure_rules([organisation.pk])
    return NudgeRule.objects.get(organisation=organisation, kind=kind)


def only(organisation: Organisation, kind: str) -> NudgeRule:
    """Switch every rule of the organisation off but the one of `kind`."""
    ensure_rules([organisation.pk])
    NudgeRule.objects.filter(organisation=organisation).exclude(kind=kind).update(enabled=False)
    return rule_of(organisation, kind)


def switch_nudges_off(hospital) -> None:
    """For tests of the worker round about something else: the round also runs the rules."""
    ensure_rules([hospital.organisation.pk])
    NudgeRule.objects.filter(organisation=hospital.organisation).update(enabled=False)


def quarter(organisation: Organisation, start: date = date(2026, 10, 1)) -> Period:
    end = date(start.year + (start.month + 2) // 12, (start.month + 2) % 12 + 1, 1)
    label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return Period.objects.create(
        organisation=organisation, kind=PeriodKind.QUARTER, start=start, end=end, label=label
    )


def kpi(organisation: Organisation, code: str, direction: str = Direction.HIGHER) -> Kpi:
    return Kpi.objects.create(organisation=organisation, code=code, name=code, direction=direction)


def assign(kpi_: Kpi, target: float, *, kind: str = PeriodKind.QUARTER, **scope) -> KpiAssignment:
    return KpiAssignment.objects.create(
        organisation=kpi_.organisation,
        kpi=kpi_,
        period_kind=kind,
        target=Decimal(str(target)),
        **scope,
    )


def value(employee: Employee, kpi_: Kpi, period: Period, actual: float, target=None) -> KpiValue:
    return KpiValue.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        kpi=kpi_,
        period=period,
        value=Decimal(str(actual)),
        target=Decimal(str(target)) if target is not None else None,
    )


def talk(employee: Employee, counterpart: Employee, state: str, start: datetime | None = None):
    return Talk.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        counterpart=counterpart,
        requested_by=employee,
        topic=Topic.QUARTERLY_REVIEW,
        state=state,
        scheduled_start=start,
        scheduled_end=start + timedelta(minutes=45) if start else None,
    )


def action(owner: Employee, employee: Employee, due_on: date, status=ActionStatus.OPEN):
    return ActionItem.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        owner=owner,
        title="完成静脉输液培训",
        due_on=due_on,
        status=status,
    )


def plan(employee: Employee, manager: Employee | None, state=PlanState.ACKNOWLEDGED):
    return ImprovementPlan.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        manager=manager,
        state=state,
        title="护理质量改进",
        starts_on=TODAY - timedelta(days=30),
        ends_on=TODAY + timedelta(days=60),
    )


def milestone(plan_: ImprovementPlan, due_on: date, done: bool = False) -> PlanMilestone:
    return PlanMilestone.objects.create(
        plan=plan_, title="独立完成夜班交接", due_on=due_on, done_at=NOW if done else None
    )


def training(employee: Employee, completed_on: date) -> TrainingRecord:
    return TrainingRecord.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        course="危重症护理",
        completed_on=completed_on,
    )


__all__ = ["TalkState"]
