"""Demo performance data for the demo organisations: KPIs, targets, a year of monthly values,
and projects, trainings, attendance and evidence for the demo logins.

The same seed and day give the same data. A few weaknesses are planted so that the profile and
the brief have something to show: doctor 李明远 (h.doctor.li) has a patient satisfaction near 60
where his team is near 85, and line operator 宋小龙 (f.worker.song) has a defect rate that rose
four months in a row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from miantan.people.demo import demo_logins
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Employee, Organisation, Position

from .enums import Direction, EvidenceKind, PeriodKind
from .gaps import winning_assignments
from .models import (
    AttendanceSummary,
    EvidenceEntry,
    Kpi,
    KpiAssignment,
    KpiValue,
    Period,
    ProjectContribution,
    TrainingRecord,
)
from .packs import load_pack
from .periods import period_for

DEFAULT_SEED = 2026


@dataclass(frozen=True)
class Target:
    """(KPI code, department code or "", position code or "", target, weight)."""

    kpi: str
    department: str
    position: str
    target: float
    weight: float = 1


_DOCTORS = ("CHIEF", "ASSOC", "ATTEND", "RESID")
_NURSES = ("HEADN", "NIC", "SENN", "NURSE")

HOSPITAL_TARGETS = (
    Target("outpatient_visits", "IM", "", 420, 2),
    Target("outpatient_visits", "SURG", "", 260, 1),
    Target("outpatient_visits", "ER", "", 650, 2),
    Target("surgeries", "SURG", "", 28, 2),
    *(
        Target("patient_satisfaction", "", code, target, 2)
        for code, target in zip(_DOCTORS, (90, 88, 85, 82), strict=True)
    ),
    *(Target("patient_satisfaction", "", code, 90, 2) for code in _NURSES),
    *(Target("medical_record_quality", "", code, 90) for code in _DOCTORS),
    # 护理病历: nursing records are judged by the same quality score.
    *(Target("medical_record_quality", "", code, 92) for code in _NURSES),
)
# Generated campuses (metrics.demo.fill_generated): outpatient visits per doctor, by position.
CAMPUS_OUTPATIENT_TARGETS = {"CHIEF": 180, "ASSOC": 300, "ATTEND": 380, "RESID": 260}

FACTORY_TARGETS = (
    Target("defect_rate", "PROD", "", 2.0, 2),
    Target("capacity_utilisation", "PROD", "", 85, 1),
    Target("process_skill_level", "", "OP", 4, 1),
    Target("process_skill_level", "", "TL", 5, 1),
)

PACKS = {"hospital": ("hospital", HOSPITAL_TARGETS), "factory": ("manufacturing", FACTORY_TARGETS)}

# (username, KPI code) → the series to plant instead of the generated one, oldest month first.
WEAK_SPOTS = {
    ("h.doctor.li", "patient_satisfaction"): (
        72, 71, 70.5, 69, 68, 66.5, 66, 64, 63.5, 62, 61, 60,
    ),
    ("f.worker.song", "defect_rate"): (1.3, 1.2, 1.4, 1.3, 1.2, 1.3, 1.4, 1.3, 1.7, 2.2, 2.8, 3.4),
}  # fmt: skip

PROJECTS = {
    "hospital": (
        ("胸痛中心认证", "骨干", "通过国家胸痛中心认证，门球时间缩短到 62 分钟", 100),
        ("日间手术流程优化", "成员", "平均住院日缩短 0.8 天", 85),
        ("护理质量改进（降低跌倒率）", "组长", "病区跌倒率下降 30 %", 100),
        ("电子病历四级评审", "成员", "病历首页填写完整率达到 98 %", 70),
    ),
    "factory": (
        ("二号线自动化改造", "骨干", "节拍缩短 12 %", 90),
        ("次品率专项治理", "成员", "焊点不良下降 40 %", 100),
        ("精益生产 5S 推行", "组长", "车间 5S 评分 92 分", 100),
        ("新品试产", "成员", "试产合格率 96 %", 60),
    ),
}

TRAININGS = {
    "hospital": (
        ("心脏超声进阶", "心脏超声", 16),
        ("医患沟通技巧", "医患沟通", 8),
        ("急危重症护理", "重症护理", 12),
        ("病历书写规范", "病历书写", 6),
        ("医疗质量与安全", "质量安全", 4),
    ),
    "factory": (
        ("SMT 设备操作认证", "设备操作", 24),
        ("质量意识与 8D 方法", "质量改进", 8),
        ("班组长管理基础", "班组管理", 16),
        ("安全生产培训", "安全生产", 4),
        ("Python 自动化测试", "自动化测试", 20),
    ),
}

EVIDENCE = {
    ("h.doctor.li", EvidenceKind.NEGATIVE): (
        "patient_satisfaction",
        "两名患者投诉候诊时间过长、病情解释不够耐心",
    ),
    ("h.doctor.li", EvidenceKind.POSITIVE): ("", "夜班成功抢救一名急性心梗患者，处置及时规范"),
    ("f.worker.song", EvidenceKind.NEGATIVE): ("defect_rate", "连续两批次焊点不良超标，已返工"),
    ("f.worker.song", EvidenceKind.POSITIVE): ("", "主动提出治具改进建议，被车间采纳"),
}
POSITIVE_NOTE = "本月工作认真负责，得到同事和服务对象好评"


def seed_metrics(
    organisation: Organisation,
    *,
    months: int = 12,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
) -> int:
    """Load the organisation's pack, targets, `months` monthly values for every active employee
    with a KPI, and the demo logins' projects, trainings, attendance and evidence. The months
    are the complete ones before `today`. Returns the number of KPI values written."""
    if organisation.slug not in PACKS:
        return 0
    pack, targets = PACKS[organisation.slug]
    rng = random.Random(f"{seed}:{organisation.slug}")
    today = today or timezone.localdate()
    with transaction.atomic():
        kpis = {kpi.code: kpi for kpi in load_pack(organisation, pack, actor=None)}
        _assign(organisation, kpis, targets)
        periods = _months(organisation, months, today)
        employees = list(
            Employee.objects.filter(organisation=organisation, status=EmploymentStatus.ACTIVE)
            .select_related("department", "position", "user")
            .order_by("employee_number")
        )
        written = _values(organisation, employees, periods, rng)
        usernames = {login.person.username for login in demo_logins()}
        logins = [e for e in employees if e.user.username in usernames]
        _facts(organisation, logins, periods, kpis, rng, today)
    return written


def fill_generated(
    organisation: Organisation, *, after_id: int, months: int, today: date | None = None
) -> int:
    """Monthly KPI values for generated benchmark staff (employees with an id above
    `after_id`): `months` complete months before `today`, written set-based (one INSERT …
    SELECT per assignment), so that 10,000,000 values take minutes, not hours. Doctors get
    outpatient visits (an assignment per campus and doctor position), patient satisfaction and
    record quality; nurses satisfaction and record quality. Values spread deterministically
    from 70 % to 106 % of the target, with a level per person. Returns the values written."""
    if organisation.slug != "hospital" or months <= 0:
        return 0
    today = today or timezone.localdate()
    with transaction.atomic():
        kpis = {k.code: k for k in Kpi.objects.filter(organisation=organisation)}
        positions = {p.code: p for p in Position.objects.filter(organisation=organisation)}
        campuses = list(
            Department.objects.filter(
                organisation=organisation, depth=1, employees__id__gt=after_id
            ).distinct()
        )
        KpiAssignment.objects.bulk_create(
            KpiAssignment(
                organisation=organisation,
                kpi=kpis["outpatient_visits"],
                department=campus,
                position=positions[code],
                period_kind=PeriodKind.MONTH,
                target=Decimal(target),
                weight=Decimal(2),
            )
            for campus in campuses
            for code, target in CAMPUS_OUTPATIENT_TARGETS.items()
        )
        period_ids = [p.pk for p in _months(organisation, months, today)]
        written = 0
        for assignment in KpiAssignment.objects.filter(
            organisation=organisation, position__isnull=False
        ).select_related("kpi", "department"):
            if assignment.department is not None and assignment.department not in campuses:
                continue
            written += _insert_generated(
                assignment, after_id, period_ids, timezone.now().isoformat()
            )
    # Fresh statistics, or the planners take the big table for an empty one.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {KpiValue._meta.db_table}")
    return written


def _insert_generated(
    assignment: KpiAssignment, after_id: int, period_ids: list[int], now: str
) -> int:
    """One assignment's values for every generated employee it applies to, in one statement.
    Position-only assignments skip people whose department assignment for the same KPI is
    more specific (there is none among generated departments but the campus ones, below)."""
    value = KpiValue._meta.db_table
    employee = Employee._meta.db_table
    department = Department._meta.db_table
    where = ["e.organisation_id = %s", "e.id > %s", "e.position_id = %s"]
    params: list[Any] = [assignment.organisation_id, after_id, assignment.position_id]
    if assignment.department is not None:
        where.append("d.path LIKE %s")
        params.append(assignment.department.path + "%")
    placeholders = ", ".join(["%s"] * len(period_ids))
    sql = f"""
        INSERT INTO {value}
            (organisation_id, employee_id, kpi_id, period_id, value, target, source, updated_at)
        SELECT e.organisation_id, e.id, %s, p.id,
               ROUND(%s * (0.70 + (e.id %% 17) * 0.013
                           + ((e.id * 7919 + p.id * 104729 + %s) %% 997) * 0.15 / 997.0), %s),
               NULL, 'demo', %s
        FROM {employee} e
        JOIN {department} d ON d.id = e.department_id
        JOIN metrics_period p ON p.id IN ({placeholders})
        WHERE {" AND ".join(where)}
    """  # noqa: S608 - table names from the models, every value a parameter
    head: list[Any] = [
        assignment.kpi_id,
        float(assignment.target),
        assignment.kpi_id,
        assignment.kpi.decimals,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*head, *period_ids, *params])
        return max(cursor.rowcount, 0)


def _assign(organisation: Organisation, kpis: dict[str, Kpi], targets: tuple[Target, ...]) -> None:
    departments = {d.code: d for d in Department.objects.filter(organisation=organisation)}
    positions = {p.code: p for p in Position.objects.filter(organisation=organisation)}
    KpiAssignment.objects.bulk_create(
        KpiAssignment(
            organisation=organisation,
            kpi=kpis[t.kpi],
            department=departments[t.department] if t.department else None,
            position=positions[t.position] if t.position else None,
            period_kind=PeriodKind.MONTH,
            target=Decimal(str(t.target)),
            weight=Decimal(str(t.weight)),
        )
        for t in targets
    )


def _months(organisation: Organisation, count: int, today: date) -> list[Period]:
    first_of_this_month = today.replace(day=1)
    starts = []
    day = first_of_this_month
    for _ in range(count):
        day = (day - timedelta(days=1)).replace(day=1)
        starts.append(day)
    return [period_for(organisation, PeriodKind.MONTH, start) for start in reversed(starts)]


def _values(
    organisation: Organisation,
    employees: list[Employee],
    periods: list[Period],
    rng: random.Random,
) -> int:
    assignments = list(
        KpiAssignment.objects.filter(organisation=organisation).select_related("kpi", "department")
    )
    rows = []
    for employee in employees:
        for assignment in winning_assignments(employee, assignments).values():
            kpi = assignment.kpi
            planted = WEAK_SPOTS.get((employee.user.username, kpi.code))
            series = planted or _series(kpi, float(assignment.target), len(periods), rng)
            for period, value in zip(periods, series[-len(periods) :], strict=False):
                rows.append(
                    KpiValue(
                        organisation=organisation,
                        employee=employee,
                        kpi=kpi,
                        period=period,
                        value=Decimal(str(round(value, kpi.decimals))),
                        source="demo",
                    )
                )
    KpiValue.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _series(kpi: Kpi, target: float, count: int, rng: random.Random) -> list[float]:
    """A believable year for one person: a personal level near the target, monthly noise."""
    if kpi.code == "process_skill_level":
        grade = max(1, round(target + rng.choice((-2, -1, -1, 0, 0, 1))))
        rise = rng.randrange(count) if grade < target + 1 else count
        return [float(grade + (1 if month >= rise else 0)) for month in range(count)]
    if kpi.direction == Direction.LOWER:
        level = target * rng.uniform(0.55, 0.95)
    else:
        level = target * rng.gauss(1.03, 0.05)
    ceiling = 100.0 if kpi.unit in {"%", "分"} else None
    series = []
    for _ in range(count):
        value = max(0.0, level * rng.gauss(1.0, 0.04))
        series.append(min(ceiling, value) if ceiling is not None else value)
    return series


def _facts(
    organisation: Organisation,
    logins: list[Employee],
    periods: list[Period],
    kpis: dict[str, Kpi],
    rng: random.Random,
    today: date,
) -> None:
    projects, trainings, attendance, evidence = [], [], [], []
    for employee in logins:
        key = organisation.slug
        for name, role, result, completion in rng.sample(PROJECTS[key], 2):
            started = today - timedelta(days=rng.randint(120, 330))
            projects.append(
                ProjectContribution(
                    organisation=organisation,
                    employee=employee,
                    project=name,
                    role=role,
                    result=result,
                    completion=completion,
                    started_on=started,
                    finished_on=started + timedelta(days=90) if completion == 100 else None,
                )
            )
        for course, skill, hours in rng.sample(TRAININGS[key], 3):
            trainings.append(
                TrainingRecord(
                    organisation=organisation,
                    employee=employee,
                    course=course,
                    skill=skill,
                    hours=hours,
                    completed_on=today - timedelta(days=rng.randint(10, 300)),
                )
            )
        for period in periods:
            leave = rng.choice((0, 0, 0, 1, 2))
            attendance.append(
                AttendanceSummary(
                    organisation=organisation,
                    employee=employee,
                    period=period,
                    work_days=21 - leave,
                    leave_days=leave,
                    late_count=rng.choice((0, 0, 0, 1, 2)),
                    absence_days=0,
                )
            )
        evidence += _evidence(organisation, employee, kpis, today)
    ProjectContribution.objects.bulk_create(projects)
    TrainingRecord.objects.bulk_create(trainings)
    AttendanceSummary.objects.bulk_create(attendance)
    EvidenceEntry.objects.bulk_create(evidence)


def _evidence(
    organisation: Organisation, employee: Employee, kpis: dict[str, Kpi], today: date
) -> list[EvidenceEntry]:
    """A positive note for everyone; the planted weak spots get their negative one too."""
    username = employee.user.username
    entries = []
    for days, kind in ((25, EvidenceKind.NEGATIVE), (70, EvidenceKind.POSITIVE)):
        if (username, kind) in EVIDENCE:
            code, text = EVIDENCE[(username, kind)]
        elif kind == EvidenceKind.POSITIVE:
            code, text = "", POSITIVE_NOTE
        else:
            continue
        entries.append(
            EvidenceEntry(
                organisation=organisation,
                employee=employee,
                author_id=employee.manager_id,
                kind=kind,
                happened_on=today - timedelta(days=days),
                text=text,
                kpi=kpis.get(code),
            )
        )
    return entries
