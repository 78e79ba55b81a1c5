"""Gap analysis and talk briefs over the API: the same scoping and audit as the profile page."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from miantan.metrics.brief import Brief, brief_for
from miantan.metrics.enums import BriefTopic
from miantan.metrics.gaps import DEFAULT_PERIODS, Flag, KpiGap, gaps_for
from miantan.people.queries import access_employee

from .schemas import ErrorOut, PersonRef

router = Router(tags=["performance"])


class FlagOut(Schema):
    rule: str
    kind: str
    description: str
    detail: str
    numbers: dict[str, Any]


class PointOut(Schema):
    period: str
    start: date
    actual: float | None
    target: float | None
    completion: float | None
    team_average: float | None
    team_size: int


class TrendOut(Schema):
    slope: float | None
    direction: str
    streak: int


class KpiGapOut(Schema):
    code: str
    name: str
    name_en: str
    unit: str
    direction: str
    period_kind: str
    weight: float
    target: float | None
    actual: float | None
    completion: float | None
    team_average: float | None
    diff_team: float | None
    diff_team_pct: float | None
    position_target: float | None
    diff_position: float | None
    trend: TrendOut
    points: list[PointOut]
    flags: list[FlagOut]


class GapsOut(Schema):
    employee: PersonRef
    as_of: date
    kpis: list[KpiGapOut]


class GapsQuery(Schema):
    periods: int = Field(DEFAULT_PERIODS, ge=1, le=36)
    as_of: date | None = None


class ObjectiveOut(Schema):
    text: str
    kind: str
    kpi: str
    data: dict[str, Any]


class ProjectOut(Schema):
    project: str
    role: str
    result: str
    completion: float | None
    started_on: date | None
    finished_on: date | None


class TrainingOut(Schema):
    course: str
    skill: str
    hours: float
    completed_on: date | None


class EvidenceOut(Schema):
    kind: str
    happened_on: date
    text: str
    kpi: str


class AttendanceOut(Schema):
    period: str
    work_days: float
    leave_days: float
    late_count: int
    absence_days: float


class RequirementOut(Schema):
    kpi: str
    required: float
    actual: float | None
    met: bool | None


class BriefOut(Schema):
    employee: PersonRef
    topic: str
    topic_label: str
    as_of: date
    objectives: list[ObjectiveOut]
    kpis: list[KpiGapOut]
    flags: list[FlagOut]
    growth_needs: list[str]
    skills: list[str]
    projects: list[ProjectOut]
    trainings: list[TrainingOut]
    evidence: list[EvidenceOut]
    attendance: list[AttendanceOut]
    requirements: list[RequirementOut]
    open_action_items: list[Any]


class BriefQuery(Schema):
    topic: BriefTopic = BriefTopic.QUARTERLY_REVIEW
    as_of: date | None = None


@router.get("/people/{employee_id}/gaps", response={200: GapsOut, 404: ErrorOut})
def person_gaps(request: HttpRequest, employee_id: int, query: Query[GapsQuery]) -> object:
    """Gap analysis of one person: completion, team average, position requirement, trend and
    the flags with the rule and numbers behind each. Audited as `metrics.gaps.viewed`."""
    employee = access_employee(request.user, employee_id, action="metrics.gaps.viewed")
    result = gaps_for(employee, periods=query.periods, as_of=query.as_of)
    return {
        "employee": employee,
        "as_of": query.as_of or timezone.localdate(),
        "kpis": [_gap(gap) for gap in result.kpis],
    }


@router.get("/people/{employee_id}/brief", response={200: BriefOut, 404: ErrorOut})
def person_brief(request: HttpRequest, employee_id: int, query: Query[BriefQuery]) -> object:
    """The data brief for a talk on `topic`, with suggested objectives and the data behind
    each. Audited as `metrics.brief.viewed`."""
    return _brief(brief_for(employee_id, query.topic, request.user, as_of=query.as_of))


def _flag(flag: Flag) -> dict[str, Any]:
    return {
        "rule": flag.rule_id,
        "kind": flag.rule.kind,
        "description": flag.description,
        "detail": flag.detail,
        "numbers": flag.numbers,
    }


def _gap(gap: KpiGap) -> dict[str, Any]:
    kpi = gap.kpi
    return {
        "code": kpi.code,
        "name": kpi.name,
        "name_en": kpi.name_en,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "period_kind": gap.assignment.period_kind,
        "weight": float(gap.assignment.weight),
        "target": gap.target,
        "actual": gap.actual,
        "completion": gap.completion,
        "team_average": gap.team_average,
        "diff_team": gap.diff_team,
        "diff_team_pct": gap.diff_team_pct,
        "position_target": gap.position_target,
        "diff_position": gap.diff_position,
        "trend": {
            "slope": gap.trend.slope,
            "direction": gap.trend.direction,
            "streak": gap.trend.streak,
        },
        "points": [
            {
                "period": p.label,
                "start": p.start,
                "actual": p.actual,
                "target": p.target,
                "completion": p.completion,
                "team_average": p.team_average,
                "team_size": p.team_size,
            }
            for p in gap.points
        ],
        "flags": [_flag(flag) for flag in gap.flags],
    }


def _brief(brief: Brief) -> dict[str, Any]:
    return {
        "employee": brief.employee,
        "topic": brief.topic,
        "topic_label": brief.topic_label,
        "as_of": brief.as_of,
        "objectives": [
            {"text": o.text, "kind": o.kind, "kpi": o.kpi_code, "data": o.data}
            for o in brief.objectives
        ],
        "kpis": [_gap(gap) for gap in brief.kpis],
        "flags": [_flag(flag) for flag in brief.flags],
        "growth_needs": [gap.kpi.code for gap in brief.growth_needs],
        "skills": brief.skills,
        "projects": [
            {
                "project": p.project,
                "role": p.role,
                "result": p.result,
                "completion": float(p.completion) if p.completion is not None else None,
                "started_on": p.started_on,
                "finished_on": p.finished_on,
            }
            for p in brief.projects
        ],
        "trainings": [
            {
                "course": t.course,
                "skill": t.skill,
                "hours": float(t.hours),
                "completed_on": t.completed_on,
            }
            for t in brief.trainings
        ],
        "evidence": [
            {
                "kind": e.kind,
                "happened_on": e.happened_on,
                "text": e.text,
                "kpi": e.kpi.code if e.kpi else "",
            }
            for e in brief.evidence
        ],
        "attendance": [
            {
                "period": a.period.label,
                "work_days": float(a.work_days),
                "leave_days": float(a.leave_days),
                "late_count": a.late_count,
                "absence_days": float(a.absence_days),
            }
            for a in brief.attendance
        ],
        "requirements": [
            {"kpi": r.gap.kpi.code, "required": r.required, "actual": r.actual, "met": r.met}
            for r in brief.requirements
        ],
        "open_action_items": brief.open_action_items,
    }
