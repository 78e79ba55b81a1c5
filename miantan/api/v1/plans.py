"""Follow-up plans over the API (PRODUCT.md E1–E5): action items, improvement plans (drafted
from the gaps, edited, published, acknowledged with the password, versions and the diff),
check-ins with their progress in words, the effect evaluation, recommendations and the
training catalogue. The same services as the pages: 404 for what the caller may not see, 403
for what they may see but not do, every read and change audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from miantan.interviews.models import Talk
from miantan.plans import rules, services
from miantan.plans.models import (
    ActionItem,
    CheckIn,
    ImprovementPlan,
    Recommendation,
    TrainingCourse,
)

from .bodies import FieldErrorsOut, answer_refusals, body_of, parse
from .schemas import ErrorOut, PersonRef

router = Router(tags=["follow-up plans"])
router.add_decorator(answer_refusals)

ID = Field(ge=1, le=2_147_483_647)


class CodedErrorOut(Schema):
    detail: str
    code: str = Field(description="e.g. reauth, locked_out, stale, no_targets, forbidden")


REFUSED: dict[int, type[Schema]] = {
    400: FieldErrorsOut,
    403: CodedErrorOut,
    404: ErrorOut,
    409: CodedErrorOut,
}


# --- action items -----------------------------------------------------------------------------


class ActionOut(Schema):
    id: int
    employee: PersonRef
    owner: PersonRef
    talk_id: int | None
    plan_id: int | None
    title: str
    specific: str
    measurable: str
    kpi_id: int | None
    target_value: float | None
    support: str
    relevance: str
    due_on: date
    status: str = Field(description="open | in_progress | done | dropped")
    overdue: bool
    completed_at: datetime | None
    may_edit: bool
    allowed_statuses: list[str]


class ActionIn(Schema):
    employee: int | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="whose development it serves: the talk's employee, else me, by default",
    )
    owner: int | None = Field(default=None, ge=1, le=2_147_483_647, description="me by default")
    talk: int | None = Field(default=None, ge=1, le=2_147_483_647)
    title: str = Field(max_length=200)
    due_on: date
    specific: str = Field(default="", max_length=4000)
    measurable: str = Field(default="", max_length=4000)
    kpi: int | None = Field(default=None, ge=1, le=2_147_483_647)
    target_value: float | None = None
    support: str = Field(default="", max_length=4000)
    relevance: str = Field(default="", max_length=4000)


class ActionChangeIn(Schema):
    owner: int | None = Field(default=None, ge=1, le=2_147_483_647)
    title: str | None = Field(default=None, max_length=200)
    due_on: date | None = None
    specific: str | None = Field(default=None, max_length=4000)
    measurable: str | None = Field(default=None, max_length=4000)
    support: str | None = Field(default=None, max_length=4000)
    relevance: str | None = Field(default=None, max_length=4000)


class StatusIn(Schema):
    status: str = Field(description="open | in_progress | done | dropped")


def _person(employee: Any) -> dict[str, Any]:
    return {"id": employee.pk, "employee_number": employee.employee_number, "name": employee.name}


def _action(request: HttpRequest, item: ActionItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "employee": _person(item.employee),
        "owner": _person(item.owner),
        "talk_id": item.talk_id,
        "plan_id": item.plan_id,
        "title": item.title,
        "specific": item.specific,
        "measurable": item.measurable,
        "kpi_id": item.kpi_id,
        "target_value": float(item.target_value) if item.target_value is not None else None,
        "support": item.support,
        "relevance": item.relevance,
        "due_on": item.due_on,
        "status": item.status,
        "overdue": item.is_overdue(),
        "completed_at": item.completed_at,
        "may_edit": rules.may_edit_action(request.user, item),
        "allowed_statuses": rules.allowed_statuses(request.user, item),
    }


class MyPlansOut(Schema):
    actions: list[ActionOut]
    plans: list[PlanSummaryOut]


class PlanSummaryOut(Schema):
    id: int
    employee: PersonRef
    title: str
    state: str = Field(description="draft | published | acknowledged | closed")
    starts_on: date
    ends_on: date
    version: int
    acknowledged_version: int
    effect: str = Field(description="effective | partly | not_effective | no_data, '' before")


MyPlansOut.model_rebuild()


def _summary(plan: ImprovementPlan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "employee": _person(plan.employee),
        "title": plan.title,
        "state": plan.state,
        "starts_on": plan.starts_on,
        "ends_on": plan.ends_on,
        "version": plan.version,
        "acknowledged_version": plan.acknowledged_version,
        "effect": plan.effect,
    }


@router.get("/plans/mine", response={200: MyPlansOut, 404: ErrorOut})
def my_plans(request: HttpRequest, all: bool = False) -> object:
    """My unfinished action items (owned, or for my own development; `all` adds finished ones)
    and my published improvement plans."""
    if rules.own_employee(request.user) is None:
        return Status(404, {"detail": "Not Found"})
    overview = services.my_overview(request.user, include_closed=all)
    return {
        "actions": [_action(request, item) for item in overview.actions],
        "plans": [_summary(plan) for plan in overview.plans],
    }


@router.get("/plans/team", response={200: MyPlansOut, **REFUSED})
def team_plans(request: HttpRequest, all: bool = False) -> object:
    """Action items and plans of the people I may see (managers, department heads, HR,
    administrators; 403 for others). Audited once per call."""
    overview = services.team_overview(request.user, include_closed=all)
    return {
        "actions": [_action(request, item) for item in overview.actions],
        "plans": [_summary(plan) for plan in overview.plans],
    }


@router.post(
    "/plans/actions", response={201: ActionOut, **REFUSED}, openapi_extra=body_of(ActionIn)
)
def create_action(request: HttpRequest) -> object:
    """A new action item: from a talk (its two people, for the talk's employee) or on its own
    (for anyone I may see, myself included)."""
    data = parse(ActionIn, request)
    own = rules.own_employee(request.user)
    if own is None:
        return Status(404, {"detail": "Not Found"})
    values = data.model_dump(exclude={"employee", "owner", "talk"})
    employee = data.employee
    if employee is None and data.talk is not None:
        # From a talk, the item serves the talk's employee unless another is named.
        talk = Talk.objects.filter(pk=data.talk, organisation_id=own.organisation_id).first()
        employee = talk.employee_id if talk is not None else None
    item = services.create_action(
        request.user,
        employee=employee or own.pk,
        owner=data.owner,
        talk=data.talk,
        **values,
    )
    return Status(201, _action(request, services.get_action(request.user, item.pk)))


@router.get("/plans/actions/{int:item_id}", response={200: ActionOut, 404: ErrorOut})
def action_detail(request: HttpRequest, item_id: int) -> object:
    return _action(request, services.get_action(request.user, item_id))


@router.put(
    "/plans/actions/{int:item_id}",
    response={200: ActionOut, **REFUSED},
    openapi_extra=body_of(ActionChangeIn),
)
def change_action(request: HttpRequest, item_id: int) -> object:
    item = services.get_action(request.user, item_id)
    data = parse(ActionChangeIn, request)
    services.update_action(request.user, item, **data.model_dump(exclude_none=True))
    return _action(request, services.get_action(request.user, item_id))


@router.post(
    "/plans/actions/{int:item_id}/status",
    response={200: ActionOut, **REFUSED},
    openapi_extra=body_of(StatusIn),
)
def action_status(request: HttpRequest, item_id: int) -> object:
    """Change the status: the owner, or the talk's counterpart (the creator for an item
    without a talk)."""
    item = services.get_action(request.user, item_id)
    data = parse(StatusIn, request)
    services.set_action_status(request.user, item, data.status)
    return _action(request, item)


# --- improvement plans ------------------------------------------------------------------------


class TargetOut(Schema):
    id: int
    kpi_id: int | None
    label: str
    baseline: float
    baseline_period: str
    goal: float
    unit: str
    direction: str = Field(description="higher | lower (is better)")


class MilestoneOut(Schema):
    id: int
    title: str
    due_on: date
    done_at: datetime | None


class ProgressOut(Schema):
    target: int
    label: str
    value: float
    percent: float = Field(description="% of the way from baseline to goal")


class CheckInOut(Schema):
    id: int
    milestone_id: int | None
    due_on: date
    done_at: datetime | None
    progress: list[ProgressOut]
    percent: float | None
    elapsed_percent: float | None
    behind: bool
    report: list[str] = Field(description="the progress in words, in my language")
    evidence: str
    notes: str


class ChangeOut(Schema):
    what: str
    before: str
    after: str


class RecommendationOut(Schema):
    id: int
    kind: str = Field(description="course | salary_review | promotion_review")
    course_id: int | None
    course_title: str
    reason: str
    state: str = Field(description="open | accepted | dismissed")


class PlanOut(PlanSummaryOut):
    training: str
    mentor: PersonRef | None
    manager: PersonRef | None
    hr: PersonRef | None
    hr_notes: str | None = Field(description="HR and administrators only; null for others")
    published_at: datetime | None
    targets: list[TargetOut]
    milestones: list[MilestoneOut]
    check_ins: list[CheckInOut]
    changes: list[ChangeOut] = Field(
        description="what changed since the acknowledged version (empty when it is the latest)"
    )
    evaluation: dict[str, Any]
    recommendations: list[RecommendationOut]
    may_edit: bool
    may_publish: bool
    may_acknowledge: bool
    may_check_in: bool
    may_evaluate: bool


def _plan(request: HttpRequest, plan: ImprovementPlan) -> dict[str, Any]:
    user = request.user
    check_ins: list[CheckIn] = list(plan.check_ins.order_by("due_on", "pk"))
    hr_notes = plan.hr_notes if rules.sees_hr_notes(user, plan) else None
    return {
        **_summary(plan),
        "training": plan.training,
        "mentor": _person(plan.mentor) if plan.mentor else None,
        "manager": _person(plan.manager) if plan.manager else None,
        "hr": _person(plan.hr) if plan.hr else None,
        "hr_notes": hr_notes,
        "published_at": plan.published_at,
        "targets": [
            {
                "id": t.pk,
                "kpi_id": t.kpi_id,
                "label": t.label,
                "baseline": t.baseline,
                "baseline_period": t.baseline_period.label if t.baseline_period else "",
                "goal": t.goal,
                "unit": t.unit,
                "direction": t.direction,
            }
            for t in plan.targets.select_related("baseline_period")
        ],
        "milestones": list(plan.milestones.values("id", "title", "due_on", "done_at")),
        "check_ins": [
            {
                "id": c.pk,
                "milestone_id": c.milestone_id,
                "due_on": c.due_on,
                "done_at": c.done_at,
                "progress": c.progress,
                "percent": c.percent,
                "elapsed_percent": c.elapsed_percent,
                "behind": c.behind,
                "report": services.progress_report(plan, c) if c.done_at else [],
                "evidence": c.evidence,
                "notes": c.notes,
            }
            for c in check_ins
        ],
        "changes": [
            {"what": c.what, "before": c.before, "after": c.after} for c in services.plan_diff(plan)
        ],
        "evaluation": plan.evaluation,
        "recommendations": [
            _recommendation(r) for r in services.visible_recommendations(user, plan)
        ],
        "may_edit": rules.may_edit_plan(user, plan),
        "may_publish": rules.may_publish(user, plan),
        "may_acknowledge": rules.may_acknowledge(user, plan),
        "may_check_in": rules.may_check_in(user, plan),
        "may_evaluate": rules.may_evaluate(user, plan),
    }


def _recommendation(r: Recommendation) -> dict[str, Any]:
    return {
        "id": r.pk,
        "kind": r.kind,
        "course_id": r.course_id,
        "course_title": r.course.title if r.course else "",
        "reason": r.reason,
        "state": r.state,
    }


class DraftIn(Schema):
    employee: int = ID
    from_gaps: bool = Field(default=True, description="targets from the KPI gaps, else empty")
    title: str = Field(default="", max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None


class TargetIn(Schema):
    id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="kept by id")
    kpi: int | None = Field(default=None, ge=1, le=2_147_483_647)
    label: str = Field(default="", max_length=200)
    baseline: float
    goal: float
    unit: str = Field(default="", max_length=30)
    direction: str = Field(default="higher", description="without a KPI: higher | lower")


class MilestoneIn(Schema):
    id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    title: str = Field(max_length=200)
    due_on: date


class PlanChangeIn(Schema):
    title: str | None = Field(default=None, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None
    training: str | None = Field(default=None, max_length=4000)
    mentor: int | None = Field(default=None, ge=1, le=2_147_483_647)
    manager: int | None = Field(default=None, ge=1, le=2_147_483_647)
    hr: int | None = Field(default=None, ge=1, le=2_147_483_647)
    hr_notes: str | None = Field(default=None, max_length=4000)
    targets: list[TargetIn] | None = Field(default=None, description="the whole list, replaced")
    milestones: list[MilestoneIn] | None = Field(default=None, description="the whole list")


class AcknowledgeIn(Schema):
    password: str = Field(default="", max_length=200, description="my password, now")


class CheckInIn(Schema):
    check_in: int | None = Field(default=None, ge=1, le=2_147_483_647, description="next due")
    values: dict[str, float] = Field(description="target id → its value now")
    evidence: str = Field(default="", max_length=4000)
    notes: str = Field(default="", max_length=4000)


class EvaluateIn(Schema):
    as_of: date | None = Field(default=None, description="today by default")


class DecisionIn(Schema):
    state: str = Field(description="accepted | dismissed")


@router.post("/plans", response={201: PlanOut, **REFUSED}, openapi_extra=body_of(DraftIn))
def draft_plan(request: HttpRequest) -> object:
    """Draft an improvement plan for an employee (their managers and HR in scope): from the KPI
    gaps (one target per KPI under its target, milestones at mid-term and end), or empty."""
    data = parse(DraftIn, request)
    if data.from_gaps:
        plan = services.draft_plan_from_gaps(request.user, data.employee)
    else:
        plan = services.create_plan(
            request.user,
            data.employee,
            title=data.title,
            starts_on=data.starts_on or "",
            ends_on=data.ends_on or "",
        )
    return Status(201, _plan(request, services.get_plan(request.user, plan.pk)))


@router.get("/plans/{int:plan_id}", response={200: PlanOut, 404: ErrorOut})
def plan_detail(request: HttpRequest, plan_id: int) -> object:
    return _plan(request, services.get_plan(request.user, plan_id))


@router.put(
    "/plans/{int:plan_id}", response={200: PlanOut, **REFUSED}, openapi_extra=body_of(PlanChangeIn)
)
def change_plan(request: HttpRequest, plan_id: int) -> object:
    """Change a plan (its managers and HR in scope): freely as a draft; once published every
    change is a new version that waits for the employee's new acknowledgement (`changes`)."""
    plan = services.get_plan(request.user, plan_id)
    data = parse(PlanChangeIn, request)
    fields = data.model_dump(exclude_none=True, exclude={"targets", "milestones"})
    services.update_plan(
        request.user,
        plan,
        targets=[t.model_dump() for t in data.targets] if data.targets is not None else None,
        milestones=[m.model_dump() for m in data.milestones]
        if data.milestones is not None
        else None,
        **fields,
    )
    return _plan(request, services.get_plan(request.user, plan_id))


@router.post("/plans/{int:plan_id}/publish", response={200: PlanOut, **REFUSED})
def publish_plan(request: HttpRequest, plan_id: int) -> object:
    """HR in scope publishes a draft: it locks, version 1 is kept, check-ins are scheduled and
    the employee is asked to acknowledge it."""
    plan = services.get_plan(request.user, plan_id)
    services.publish_plan(request.user, plan)
    return _plan(request, plan)


@router.post(
    "/plans/{int:plan_id}/acknowledge",
    response={200: PlanOut, **REFUSED},
    openapi_extra=body_of(AcknowledgeIn),
)
def acknowledge_plan(request: HttpRequest, plan_id: int) -> object:
    """The employee acknowledges the published version with their password (403 `reauth`
    when missing or wrong; nothing is stored)."""
    plan = services.get_plan(request.user, plan_id)
    data = parse(AcknowledgeIn, request)
    services.acknowledge_plan(
        request.user,
        plan,
        password=data.password,
        ip=request.META.get("REMOTE_ADDR"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return _plan(request, plan)


@router.post(
    "/plans/{int:plan_id}/check-ins",
    response={201: PlanOut, **REFUSED},
    openapi_extra=body_of(CheckInIn),
)
def record_check_in(request: HttpRequest, plan_id: int) -> object:
    """Record progress per target (the employee, their managers, HR in scope)."""
    plan = services.get_plan(request.user, plan_id)
    data = parse(CheckInIn, request)
    services.record_check_in(
        request.user,
        plan,
        values=dict(data.values),
        check_in=data.check_in,
        evidence=data.evidence,
        notes=data.notes,
    )
    return Status(201, _plan(request, plan))


@router.post(
    "/plans/{int:plan_id}/evaluate",
    response={200: PlanOut, **REFUSED},
    openapi_extra=body_of(EvaluateIn),
)
def evaluate_plan(request: HttpRequest, plan_id: int) -> object:
    """Evaluate the effect now from the KPI values after the baseline (managers, HR)."""
    plan = services.get_plan(request.user, plan_id)
    data = parse(EvaluateIn, request)
    services.evaluate_plan(request.user, plan, as_of=data.as_of)
    return _plan(request, plan)


@router.post("/plans/{int:plan_id}/close", response={200: PlanOut, **REFUSED})
def close_plan(request: HttpRequest, plan_id: int) -> object:
    plan = services.get_plan(request.user, plan_id)
    services.close_plan(request.user, plan)
    return _plan(request, plan)


@router.post(
    "/plans/{int:plan_id}/recommendations/{int:recommendation_id}",
    response={200: RecommendationOut, **REFUSED},
    openapi_extra=body_of(DecisionIn),
)
def decide_recommendation(request: HttpRequest, plan_id: int, recommendation_id: int) -> object:
    """HR in scope accepts or dismisses a recommendation."""
    plan = services.get_plan(request.user, plan_id)
    recommendation = services.get_recommendation(request.user, plan, recommendation_id)
    data = parse(DecisionIn, request)
    return _recommendation(services.decide_recommendation(request.user, recommendation, data.state))


# --- the training catalogue -------------------------------------------------------------------


class CourseOut(Schema):
    id: int
    title: str
    description: str
    kpis: list[int]
    skills: list[str]
    link: str
    active: bool


class CourseIn(Schema):
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    kpis: list[int] = Field(default_factory=list, max_length=100)
    skills: str = Field(default="", max_length=300, description="comma-separated")
    link: str = Field(default="", max_length=500)
    active: bool = True


def _course(course: TrainingCourse) -> dict[str, Any]:
    return {
        "id": course.pk,
        "title": course.title,
        "description": course.description,
        "kpis": [k.pk for k in course.kpis.all()],
        "skills": course.skill_list,
        "link": course.link,
        "active": course.active,
    }


@router.get("/plans/courses", response={200: list[CourseOut], **REFUSED})
def list_courses(request: HttpRequest) -> object:
    """The training catalogue (HR and administrators)."""
    if not rules.may_manage_catalogue(request.user):
        raise PermissionDenied
    own = rules.own_employee(request.user)
    assert own is not None
    return [
        _course(c)
        for c in TrainingCourse.objects.filter(organisation_id=own.organisation_id)
        .prefetch_related("kpis")
        .order_by("title", "pk")
    ]


@router.post(
    "/plans/courses", response={201: CourseOut, **REFUSED}, openapi_extra=body_of(CourseIn)
)
def create_course(request: HttpRequest) -> object:
    if not rules.may_manage_catalogue(request.user):
        raise PermissionDenied
    data = parse(CourseIn, request)
    return Status(201, _course(services.save_course(request.user, None, **data.model_dump())))


@router.put(
    "/plans/courses/{int:course_id}",
    response={200: CourseOut, **REFUSED},
    openapi_extra=body_of(CourseIn),
)
def change_course(request: HttpRequest, course_id: int) -> object:
    course = services.get_course(request.user, course_id)
    data = parse(CourseIn, request)
    return _course(services.save_course(request.user, course, **data.model_dump()))
