"""Follow-up plans (PRODUCT.md E1–E5): my plans, the team's, action items, the improvement
plan's page (draft editing, publishing, acknowledging with the password, the diff against the
acknowledged version, check-ins, evaluation, recommendations) and HR's training catalogue.

Reads and writes go through `plans.services`, which decide who may do what (404 for what the
user may not see, 403 for what they may see but not do) and audit each of them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from miantan.core.errors import DomainError, InvalidFields
from miantan.core.ids import as_id
from miantan.interviews.models import Talk
from miantan.metrics.models import Kpi
from miantan.people.models import Employee
from miantan.people.queries import employees_visible_to
from miantan.plans import rules, services
from miantan.plans.enums import ActionStatus, PlanState, RecommendationState
from miantan.plans.models import ImprovementPlan, TrainingCourse

ACTION_FIELDS = (
    "title",
    "due_on",
    "specific",
    "measurable",
    "support",
    "relevance",
    "kpi",
    "target_value",
    "owner",
)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _errors(error: DomainError) -> dict[str, str]:
    if isinstance(error, InvalidFields):
        return {key: str(value) for key, value in error.errors.items()}
    return {"form": str(error.message)}


# --- lists ------------------------------------------------------------------------------------


@login_required
@require_GET
def my_plans(request: HttpRequest) -> HttpResponse:
    """The user's unfinished action items (owned or for their own development), overdue ones
    marked, and their published improvement plans."""
    if rules.own_employee(request.user) is None:
        raise Http404
    show_all = request.GET.get("all") == "1"
    overview = services.my_overview(request.user, include_closed=show_all)
    items = overview.actions
    today = timezone.localdate()
    return render(
        request,
        "web/plans/mine.html",
        {
            "items": items,
            "overdue": {i.pk for i in items if i.is_overdue(today)},
            "plans": overview.plans,
            "show_all": show_all,
            "sees_team": rules.sees_team(request.user),
            "may_manage_catalogue": rules.may_manage_catalogue(request.user),
        },
    )


@login_required
@require_GET
def team_plans(request: HttpRequest) -> HttpResponse:
    overview = services.team_overview(request.user, include_closed=request.GET.get("all") == "1")
    today = timezone.localdate()
    own = rules.own_employee(request.user)
    people = [
        person
        for person in employees_visible_to(request.user)
        .exclude(pk=own.pk if own else 0)
        .select_related("department")
        .order_by("name", "pk")[:500]
        if rules.may_create_plan(request.user, person)
    ]
    return render(
        request,
        "web/plans/team.html",
        {
            "items": overview.actions,
            "overdue": {i.pk for i in overview.actions if i.is_overdue(today)},
            "plans": overview.plans,
            "people": people,
        },
    )


# --- action items -----------------------------------------------------------------------------


def _action_form_context(request: HttpRequest, employee: Employee) -> dict[str, Any]:
    own = rules.own_employee(request.user)
    owners = [employee]
    if own is not None and own.pk != employee.pk:
        owners.append(own)
    if employee.manager is not None and employee.manager not in owners:
        owners.append(employee.manager)
    return {
        "employee": employee,
        "owners": owners,
        "kpis": list(Kpi.objects.filter(organisation_id=employee.organisation_id)[:200]),
    }


@login_required
@require_http_methods(["GET", "POST"])
def action_new(request: HttpRequest) -> HttpResponse:
    """A new action item for the employee named in the query (the user by default), from the
    talk named there when there is one."""
    own = rules.own_employee(request.user)
    if own is None:
        raise Http404
    source = request.POST if request.method == "POST" else request.GET
    employee_id = as_id(source.get("employee")) or own.pk
    employee = (
        employees_visible_to(request.user).select_related("manager").filter(pk=employee_id).first()
    )
    talk = None
    if source.get("talk"):
        talk = Talk.objects.filter(
            pk=as_id(source.get("talk")) or 0, organisation_id=own.organisation_id
        ).first()
        if talk is None or rules.talk_side(request.user, talk) is None:
            raise Http404
        employee = talk.employee
    if employee is None:
        raise Http404
    if not rules.may_create_action(request.user, employee, talk):
        raise PermissionDenied
    context = {**_action_form_context(request, employee), "talk": talk, "typed": {}, "errors": {}}
    if request.method == "POST":
        data: dict[str, Any] = {name: request.POST.get(name, "") for name in ACTION_FIELDS}
        owner = as_id(data.pop("owner")) or own.pk
        try:
            item = services.create_action(
                request.user,
                employee=employee,
                owner=owner,
                talk=talk,
                **data,
            )
        except DomainError as error:
            context.update(typed=request.POST, errors=_errors(error))
            return render(request, "web/plans/action_form.html", context, status=400)
        messages.success(request, _("The action item is saved."))
        return redirect("web:plan_action", item.pk)
    return render(request, "web/plans/action_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def action_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = services.get_action(request.user, item_id)
    context: dict[str, Any] = {
        **_action_form_context(request, item.employee),
        "item": item,
        "talk": item.talk,
        "typed": {},
        "errors": {},
        "may_edit": rules.may_edit_action(request.user, item),
        "statuses": [
            (value, ActionStatus(value).label)
            for value in rules.allowed_statuses(request.user, item)
        ],
        "overdue": item.is_overdue(),
    }
    status = 200
    if request.method == "POST":
        data = {name: request.POST.get(name, "") for name in ACTION_FIELDS}
        try:
            services.update_action(request.user, item, **data)
        except DomainError as error:
            item.refresh_from_db()
            context.update(typed=request.POST, errors=_errors(error))
            status = 400
        else:
            messages.success(request, _("The action item is saved."))
            return redirect("web:plan_action", item.pk)
    return render(request, "web/plans/action.html", context, status=status)


@login_required
@require_POST
def action_status(request: HttpRequest, item_id: int) -> HttpResponse:
    item = services.get_action(request.user, item_id)
    try:
        services.set_action_status(request.user, item, request.POST.get("status", ""))
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The status is changed."))
    return redirect("web:plan_action", item.pk)


# --- improvement plans ------------------------------------------------------------------------


@login_required
@require_POST
def plan_draft(request: HttpRequest) -> HttpResponse:
    """Draft a plan for an employee from their gaps (or empty, when asked so)."""
    employee_id = as_id(request.POST.get("employee"))
    if employee_id is None:
        raise Http404
    try:
        if request.POST.get("empty"):
            today = timezone.localdate()
            plan = services.create_plan(
                request.user,
                employee_id,
                title=request.POST.get("title") or _("Improvement plan"),
                starts_on=today,
                ends_on=today + timedelta(days=services.DEFAULT_PLAN_DAYS),
            )
        else:
            plan = services.draft_plan_from_gaps(request.user, employee_id)
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect("web:plans_team")
    messages.success(request, _("The draft plan is ready: check it, then HR publishes it."))
    return redirect("web:plan", plan.pk)


def _plan_page(
    request: HttpRequest,
    plan: ImprovementPlan,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    check_ins = list(plan.check_ins.select_related("milestone", "author").order_by("due_on", "pk"))
    reports = {c.pk: services.progress_report(plan, c) for c in check_ins if c.done_at}
    open_check_in = next((c for c in check_ins if c.done_at is None), None)
    may_edit = rules.may_edit_plan(user, plan)
    context = {
        "plan": plan,
        "targets": list(plan.targets.select_related("kpi", "baseline_period")),
        "milestones": list(plan.milestones.all()),
        "check_ins": [(c, reports.get(c.pk, [])) for c in check_ins],
        "open_check_in": open_check_in,
        "actions": list(plan.action_items.select_related("owner").order_by("due_on", "pk")),
        "diff": services.plan_diff(plan),
        "acknowledgements": list(plan.acknowledgements.order_by("version")),
        "recommendations": services.visible_recommendations(user, plan),
        "may_edit": may_edit,
        "may_publish": rules.may_publish(user, plan),
        "may_acknowledge": rules.may_acknowledge(user, plan),
        "may_check_in": rules.may_check_in(user, plan),
        "may_evaluate": rules.may_evaluate(user, plan),
        "may_close": rules.may_close(user, plan),
        "sees_hr_notes": rules.sees_hr_notes(user, plan),
        "may_decide": [
            r.pk
            for r in services.visible_recommendations(user, plan)
            if r.state == RecommendationState.OPEN and rules.may_decide_recommendation(user, r)
        ],
        "kpis": list(Kpi.objects.filter(organisation_id=plan.organisation_id)[:200])
        if may_edit
        else [],
        "errors": errors or {},
        "is_draft": plan.state == PlanState.DRAFT,
    }
    return render(request, "web/plans/plan.html", context, status=status)


@login_required
@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    return _plan_page(request, services.get_plan(request.user, plan_id))


def _rows(request: HttpRequest, prefix: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    columns = {name: request.POST.getlist(f"{prefix}_{name}") for name in names}
    count = max((len(v) for v in columns.values()), default=0)
    rows = []
    for index in range(count):
        row = {name: (columns[name][index] if index < len(columns[name]) else "") for name in names}
        if any(str(row[name]).strip() for name in names if name != "id"):
            rows.append(row)
    return rows


@login_required
@require_POST
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    data: dict[str, Any] = {
        name: request.POST.get(name, "")
        for name in ("title", "starts_on", "ends_on", "training", "mentor", "manager", "hr")
        if name in request.POST
    }
    if "hr_notes" in request.POST and rules.sees_hr_notes(request.user, plan):
        data["hr_notes"] = request.POST["hr_notes"]
    targets = _rows(request, "target", ("id", "kpi", "label", "baseline", "goal", "unit"))
    milestones = _rows(request, "milestone", ("id", "title", "due_on"))
    try:
        services.update_plan(
            request.user,
            plan,
            targets=targets if "target_label" in request.POST else None,
            milestones=milestones if "milestone_title" in request.POST else None,
            **data,
        )
    except DomainError as error:
        plan.refresh_from_db()
        return _plan_page(request, plan, errors=_errors(error), status=error.status_code)
    messages.success(request, _("The plan is saved."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_publish(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    try:
        services.publish_plan(request.user, plan)
    except DomainError as error:
        return _plan_page(request, plan, errors=_errors(error), status=error.status_code)
    messages.success(request, _("The plan is published; the employee is asked to acknowledge it."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_acknowledge(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    try:
        services.acknowledge_plan(
            request.user,
            plan,
            password=request.POST.get("password", ""),
            ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except DomainError as error:
        return _plan_page(
            request, plan, errors={"acknowledge": str(error.message)}, status=error.status_code
        )
    messages.success(request, _("You acknowledged the plan."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_check_in(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    values = {
        key.removeprefix("value_"): value
        for key, value in request.POST.items()
        if key.startswith("value_")
    }
    try:
        services.record_check_in(
            request.user,
            plan,
            values=values,
            check_in=as_id(request.POST.get("check_in")),
            evidence=request.POST.get("evidence", ""),
            notes=request.POST.get("notes", ""),
        )
    except DomainError as error:
        return _plan_page(request, plan, errors=_errors(error), status=error.status_code)
    messages.success(request, _("The check-in is recorded."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_evaluate(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    services.evaluate_plan(request.user, plan)
    messages.success(request, _("The plan is evaluated with the latest KPI values."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_close(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    services.close_plan(request.user, plan)
    messages.success(request, _("The plan is closed."))
    return redirect("web:plan", plan.pk)


@login_required
@require_POST
def plan_recommendation(request: HttpRequest, plan_id: int, recommendation_id: int) -> HttpResponse:
    plan = services.get_plan(request.user, plan_id)
    recommendation = services.get_recommendation(request.user, plan, recommendation_id)
    try:
        services.decide_recommendation(request.user, recommendation, request.POST.get("state", ""))
    except DomainError as error:
        messages.error(request, str(error.message))
    return redirect("web:plan", plan.pk)


# --- the training catalogue -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def courses(request: HttpRequest) -> HttpResponse:
    if not rules.may_manage_catalogue(request.user):
        raise PermissionDenied
    own = rules.own_employee(request.user)
    assert own is not None
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        course = None
        if request.POST.get("course"):
            course = services.get_course(request.user, request.POST.get("course"))
        try:
            services.save_course(
                request.user,
                course,
                title=request.POST.get("title", ""),
                description=request.POST.get("description", ""),
                skills=request.POST.get("skills", ""),
                link=request.POST.get("link", ""),
                kpis=request.POST.getlist("kpis"),
                active=request.POST.get("active", "1") == "1",
            )
        except DomainError as error:
            errors, status = _errors(error), 400
        else:
            messages.success(request, _("The course is saved."))
            return redirect("web:plan_courses")
    return render(
        request,
        "web/plans/courses.html",
        {
            "courses": list(
                TrainingCourse.objects.filter(organisation_id=own.organisation_id)
                .prefetch_related("kpis")
                .order_by("-active", "title", "pk")
            ),
            "kpis": list(Kpi.objects.filter(organisation_id=own.organisation_id)[:200]),
            "errors": errors,
            "typed": request.POST if errors else {},
        },
        status=status,
    )
