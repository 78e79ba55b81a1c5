"""Follow-up of the demo organisation (`seed_demo`): nurse 王晓燕's action items from her
archived quarterly review (one overdue, one under way, one done), two courses in the training
catalogue, and an improvement plan her head nurse drafted from her KPI gaps seven weeks ago,
which HR published and she acknowledged with her password, with the mid-term check-in recorded.
Made through the same services as in use."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from miantan.core.errors import DomainError
from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.people.models import Employee, Organisation
from miantan.records.demo import HEAD_NURSE, NURSE

from . import services
from .enums import ActionStatus
from .models import ImprovementPlan

HR_LOGIN = "h.hr"


def seed_plans(organisation: Organisation, *, password: str, today: date | None = None) -> int:
    """Returns how many action items and plans were made (0 without the three people)."""
    people = {
        e.user.username: e
        for e in Employee.objects.filter(
            organisation=organisation, user__username__in=(NURSE, HEAD_NURSE, HR_LOGIN)
        ).select_related("user", "department")
    }
    if len(people) < 3:
        return 0
    nurse, head_nurse, hr = people[NURSE], people[HEAD_NURSE], people[HR_LOGIN]
    today = today or timezone.localdate()
    talk = (
        Talk.objects.filter(employee=nurse, counterpart=head_nurse, state=TalkState.ARCHIVED)
        .order_by("scheduled_start")
        .first()
    )
    made = 0
    for title, due, status, specific in (
        ("交接单改为双人核对", -5, ActionStatus.IN_PROGRESS, "每班交接时两人核对输液余量"),
        ("带教一名新护士", 60, ActionStatus.OPEN, "带教期间每周一次反馈"),
        ("整理压疮预防经验分享", -20, ActionStatus.DONE, "在科室例会上分享"),
    ):
        item = services.create_action(
            head_nurse.user,
            employee=nurse,
            owner=nurse,
            talk=talk,
            title=title,
            due_on=today + timedelta(days=due),
            specific=specific,
        )
        if status != ActionStatus.OPEN:
            services.set_action_status(nurse.user, item, status)
        made += 1
    services.create_action(
        nurse.user,
        employee=nurse,
        title="报名静脉治疗专科护士培训",
        due_on=today + timedelta(days=30),
        support="护士长协调排班",
    )
    made += 1
    plan = _plan(nurse, head_nurse, hr, today)
    if plan is None:
        return made
    for title, link in (
        ("护理交接规范", "https://training.renhe-hospital.example/handover"),
        ("患者沟通与满意度提升", "https://training.renhe-hospital.example/communication"),
    ):
        course = services.save_course(hr.user, None, title=title, link=link)
        course.kpis.set([t.kpi_id for t in plan.targets.all() if t.kpi_id])
    services.publish_plan(hr.user, plan)
    services.acknowledge_plan(nurse.user, plan, password=password)
    check_in = plan.check_ins.filter(milestone__isnull=True).first() or plan.check_ins.first()
    values = {t.pk: round(t.baseline + (t.goal - t.baseline) * 0.4, 2) for t in plan.targets.all()}
    services.record_check_in(
        head_nurse.user,
        plan,
        values=values,
        check_in=check_in,
        evidence="交接单抽查记录",
        notes="已开始双人核对，效果初显。",
        today=today,
    )
    return made + 1


def _plan(
    nurse: Employee, head_nurse: Employee, hr: Employee, today: date
) -> ImprovementPlan | None:
    start = today - timedelta(days=49)
    try:
        return services.draft_plan_from_gaps(head_nurse.user, nurse, as_of=start)
    except DomainError:
        pass
    plan = services.create_plan(
        head_nurse.user,
        nurse,
        title="夜班交接改进计划",
        starts_on=start,
        ends_on=start + timedelta(days=services.DEFAULT_PLAN_DAYS),
    )
    services.update_plan(
        head_nurse.user,
        plan,
        targets=[
            {"label": "夜班交接遗漏", "baseline": 4, "goal": 0, "unit": "次", "direction": "lower"}
        ],
        milestones=[
            {"title": "期中回顾", "due_on": start + timedelta(days=45)},
            {"title": "期末回顾", "due_on": start + timedelta(days=services.DEFAULT_PLAN_DAYS)},
        ],
    )
    return plan


__all__ = ["seed_plans"]
