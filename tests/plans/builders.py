"""A complaint rate (客户投诉率, lower is better, in %) for 李明 by quarter: 22 % in 2026-Q2 and
20 % in 2026-Q3 against a target of 10 %, and a plan drafted from it on 2026-10-15."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import time_machine
from django.utils import timezone

from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.models import Kpi, KpiValue, Period
from miantan.metrics.periods import period_for
from miantan.people.models import Employee
from miantan.plans import services
from miantan.plans.models import ImprovementPlan, Recommendation, TrainingCourse
from tests.metrics.kpi_builders import assign, kpi
from tests.personas import Hospital

PLAN_DAY = date(2026, 10, 15)


def quarter(hospital: Hospital, day: date) -> Period:
    return period_for(hospital.organisation, PeriodKind.QUARTER, day)


def complaint_rate(hospital: Hospital) -> Kpi:
    rate = kpi(
        hospital.organisation,
        "complaint_rate",
        "客户投诉率",
        name_en="Complaint rate",
        direction=Direction.LOWER,
        unit="%",
    )
    assign(rate, 10, position=hospital.doctor_li.position, kind=PeriodKind.QUARTER)
    for day, value in ((date(2026, 4, 1), 22), (date(2026, 7, 1), 20)):
        record_value(hospital, rate, day, value)
    return rate


def record_value(hospital: Hospital, rate: Kpi, day: date, value: float) -> KpiValue:
    return KpiValue.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        kpi=rate,
        period=quarter(hospital, day),
        value=value,
    )


def drafted_plan(hospital: Hospital, **kwargs: Any) -> ImprovementPlan:
    """Drafted by HR from 李明's gaps on PLAN_DAY."""
    complaint_rate(hospital)
    with time_machine.travel(date(2026, 10, 15), tick=False):
        return services.draft_plan_from_gaps(
            hospital.hr_partner.user, hospital.doctor_li, as_of=PLAN_DAY, **kwargs
        )


def plan_of_wang(
    hospital: Hospital, *, published: bool = False, recommendation: str = ""
) -> ImprovementPlan:
    """周敏's plan for 王芳 (夜班交接差错 from 4 to 0 a month, milestones at mid-term and end),
    published by 孙丽 when `published`; with a course recommendation ("course") or a salary
    review flag ("salary_review") on it."""
    today = timezone.localdate()
    plan = services.create_plan(
        hospital.head_nurse.user,
        hospital.nurse_wang,
        title="夜班交接改进计划",
        starts_on=today,
        ends_on=today + timedelta(days=90),
    )
    services.update_plan(
        hospital.head_nurse.user,
        plan,
        targets=[
            {"label": "夜班交接差错", "baseline": 4, "goal": 0, "unit": "次", "direction": "lower"}
        ],
        milestones=[
            {"title": "期中回顾", "due_on": today + timedelta(days=45)},
            {"title": "期末回顾", "due_on": today + timedelta(days=90)},
        ],
    )
    if published:
        services.publish_plan(hospital.hr_partner.user, plan)
    if recommendation:
        course = None
        if recommendation == "course":
            course = TrainingCourse.objects.create(
                organisation=hospital.organisation, title="交接班规范"
            )
        Recommendation.objects.create(
            organisation=hospital.organisation,
            plan=plan,
            kind=recommendation,
            course=course,
            reason="进度落后于时间",
        )
    return plan


def foreign_plan(employee: Employee) -> ImprovementPlan:
    """A draft plan of another organisation's employee."""
    today = timezone.localdate()
    return ImprovementPlan.objects.create(
        organisation_id=employee.organisation_id,
        employee=employee,
        title="改进计划",
        starts_on=today,
        ends_on=today + timedelta(days=90),
    )
