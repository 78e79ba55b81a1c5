"""Gap analysis, talk briefs and the evidence log over the API: the same scoping and audit as
the profile page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ValidationError

from miantan.metrics.brief import Brief, brief_for
from miantan.metrics.catalogue import kpis_visible_to
from miantan.metrics.enums import BriefTopic
from miantan.metrics.evidence import (
    InvalidEvidence,
    ensure_may_record,
    evidence_of,
    record_evidence,
)
from miantan.metrics.gaps import DEFAULT_PERIODS, Flag, KpiGap, gaps_for
from miantan.metrics.models import EvidenceEntry
from miantan.people.queries import access_employee

from .paging import BoundedPageNumberPagination
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


class OpenActionOut(Schema):
    """An unfinished action item of earlier talks or plans, carried over into the brief."""

    id: int
    title: str
    owner: str
    due_on: date
    status: str


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
    open_action_items: list[OpenActionOut]


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
        "open_action_items": [
            {
                "id": item.pk,
                "title": item.title,
                "owner": item.owner.name,
                "due_on": item.due_on,
                "status": item.status,
            }
            for item in brief.open_action_items
        ],
    }


# --- the evidence log -------------------------------------------------------------------------


class EvidenceEntryOut(Schema):
    id: int
    kind: str
    kind_label: str
    happened_on: date
    text: str
    kpi: str
    author: PersonRef | None
    created_at: datetime

    @staticmethod
    def resolve_kind_label(entry: EvidenceEntry) -> str:
        return str(entry.get_kind_display())

    @staticmethod
    def resolve_kpi(entry: EvidenceEntry) -> str:
        return entry.kpi.code if entry.kpi else ""


class EvidenceIn(Schema):
    kind: str = Field(description="positive or negative")
    happened_on: date
    text: str = Field(description="1 to 2,000 characters")
    kpi: str = Field("", description="code of a KPI of the organisation, optional")


class FieldErrorOut(Schema):
    field: str
    message: str


class EvidenceErrorOut(Schema):
    detail: str
    code: str
    errors: list[FieldErrorOut]


@router.get("/people/{employee_id}/evidence", response=list[EvidenceEntryOut])
@paginate(BoundedPageNumberPagination, page_size=50)
def list_evidence(request: HttpRequest, employee_id: int) -> object:
    """The person's evidence log, newest first: whoever may open the person may read it.
    Audited as `metrics.evidence.viewed`; 404 for anyone else."""
    employee = access_employee(request.user, employee_id, action="metrics.evidence.viewed")
    return evidence_of(employee)


@router.post(
    "/people/{employee_id}/evidence",
    response={201: EvidenceEntryOut, 400: EvidenceErrorOut, 403: ErrorOut, 404: ErrorOut},
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": EvidenceIn.model_json_schema()}},
            "required": True,
        }
    },
)
def record_evidence_entry(request: HttpRequest, employee_id: int) -> object:
    """Record a positive or negative event in the person's log. For managers along the reporting
    line, department heads and HR of the person's department, and administrators; never about
    oneself (403). Audited as `metrics.evidence.recorded`."""
    employee = access_employee(request.user, employee_id)
    try:
        ensure_may_record(request.user, employee)
    except PermissionDenied:
        return Status(403, {"detail": _("You may not record evidence about this person.")})
    # Access first, then the body: nobody learns from a validation error who exists.
    try:
        data = EvidenceIn.model_validate_json(request.body or b"{}")
    except ValidationError as error:
        return _invalid({_field(e["loc"]): _schema_message(e) for e in error.errors()})
    kpi = None
    if data.kpi:
        kpi = kpis_visible_to(request.user).filter(code=data.kpi).first()
        if kpi is None:
            return _invalid({"kpi": _("There is no KPI with this code.")})
    try:
        entry = record_evidence(
            request.user,
            employee,
            kind=data.kind,
            happened_on=data.happened_on,
            text=data.text,
            kpi=kpi,
        )
    except InvalidEvidence as error:
        return _invalid(error.errors)
    return Status(201, entry)


def _invalid(errors: dict[str, Any]) -> Status:
    return Status(
        400,
        {
            "detail": _("The entry was not recorded: check the fields."),
            "code": "invalid",
            "errors": [{"field": f, "message": str(m)} for f, m in errors.items()],
        },
    )


def _field(loc: Any) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _schema_message(error: Any) -> str:
    if error["type"] == "missing":
        return _("This field is required.")
    if error["loc"] and error["loc"][0] == "happened_on":
        return _("Enter a date as YYYY-MM-DD.")
    if error["type"] == "json_invalid":
        return _("The body is not valid JSON.")
    return str(error["msg"])
