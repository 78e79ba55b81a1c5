"""Follow-up plans: action items (E1), improvement plans with publication, acknowledgement and
versions (E2), check-ins (E3), effect evaluation (E4) and recommendations (E5).

Rules are in rules.py; every function here checks them, audits what it reads or changes, and
writes in one transaction. Pages and the API call these functions.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.archive.messages import hr_partners_of
from miantan.archive.services import ReauthenticationFailed, reauthenticate
from miantan.audit.enums import Outcome
from miantan.audit.services import record as audit
from miantan.core.errors import ConflictError, DomainError, InvalidFields
from miantan.core.ids import as_id
from miantan.interviews.models import Talk
from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.gaps import gaps_for
from miantan.metrics.models import Kpi, KpiValue
from miantan.metrics.periods import bounds, start_of
from miantan.people.models import Employee

from . import messages, queries, rules, versions
from .enums import (
    OPEN_STATES,
    ActionStatus,
    Effect,
    PlanState,
    RecommendationKind,
    RecommendationState,
)
from .models import (
    ActionItem,
    CheckIn,
    ImprovementPlan,
    PlanAcknowledgement,
    PlanMilestone,
    PlanTarget,
    PlanVersion,
    Recommendation,
    TrainingCourse,
)
from .progress import (
    effect_of,
    elapsed_percent,
    number,
    progress_percent,
    progress_text,
    with_unit,
)

MAX_TITLE = 200
MAX_TEXT = 4000
DEFAULT_PLAN_DAYS = 91


def _pk(value: Any) -> int:
    """An id as an int; 0 (which no row has) for anything that is not one."""
    return as_id(value) or 0


class PlanInputError(InvalidFields):
    error_code = "invalid_plan"


# --- helpers ----------------------------------------------------------------------------------


def _own(actor: Any) -> Employee:
    own = rules.own_employee(actor)
    if own is None:
        raise PermissionDenied
    return own


def _readable(actor: Any, queryset: Any, pk: Any, may_view: Any, action: str) -> Any:
    """The row of the actor's organisation with this id if `may_view(actor, row)`, else 404,
    the refusal audited (the read itself is audited by the caller)."""
    own = rules.own_employee(actor)
    found = (
        queryset.filter(pk=_pk(pk), organisation_id=own.organisation_id if own else 0).first()
        if as_id(pk) is not None
        else None
    )
    if found is None or not may_view(actor, found):
        audit(
            action,
            actor=actor,
            outcome=Outcome.DENIED,
            object_type=queryset.model._meta.label_lower,
            object_id=str(pk)[:64],
            organisation_id=own.organisation_id if own else None,
        )
        raise Http404
    return found


def _audit(action: str, actor: Any, obj: Any, employee_id: int, org_id: int, **data: Any) -> None:
    audit(
        action,
        actor=actor,
        obj=obj,
        subject_id=employee_id,
        organisation_id=org_id,
        data=data or None,
    )


def _deny(action: str, actor: Any, obj: Any, employee_id: int, org_id: int) -> NoReturn:
    audit(
        action,
        actor=actor,
        outcome=Outcome.DENIED,
        obj=obj,
        subject_id=employee_id,
        organisation_id=org_id,
    )
    raise PermissionDenied


def _text(value: Any, field: str, errors: dict[str, Any], *, required: bool = False) -> str:
    text = str(value or "").strip()
    limit = MAX_TITLE if field == "title" else MAX_TEXT
    if required and not text:
        errors[field] = _("This field is required.")
    elif len(text) > limit:
        errors[field] = _("At most %(limit)s characters.") % {"limit": limit}
    return text


def _date(value: Any, field: str, errors: dict[str, Any]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None


def _number(value: Any, field: str, errors: dict[str, Any], *, required: bool = True) -> Any:
    if value in (None, "") and not required:
        return None
    try:
        number_ = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = _("Enter a number.")
        return None
    if not number_.is_finite() or abs(number_) >= Decimal(10) ** 13:
        errors[field] = _("Enter a number.")
        return None
    return number_


def _colleague(pk: Any, organisation_id: int, field: str, errors: dict[str, Any]) -> Any:
    if pk in (None, ""):
        return None
    found = Employee.objects.filter(
        pk=_pk(pk), organisation_id=organisation_id, status="active"
    ).first()
    if found is None:
        errors[field] = _("Choose a colleague of the organisation.")
    return found


def _kpi(pk: Any, organisation_id: int, errors: dict[str, Any], field: str = "kpi") -> Kpi | None:
    if pk in (None, ""):
        return None
    found = Kpi.objects.filter(pk=_pk(pk), organisation_id=organisation_id).first()
    if found is None:
        errors[field] = _("Choose a KPI of the organisation.")
    return found


# --- E1: action items -------------------------------------------------------------------------

ACTION_TEXT_FIELDS = ("specific", "measurable", "support", "relevance")


def get_action(actor: Any, pk: Any) -> ActionItem:
    """The item if the actor may read it (audited), else 404 (audited)."""
    queryset = ActionItem.objects.select_related(
        "employee__department", "owner", "talk", "kpi", "plan"
    )
    item = _readable(actor, queryset, pk, rules.may_view_action, "plans.action.viewed")
    _audit("plans.action.viewed", actor, item, item.employee_id, item.organisation_id)
    return item


def _action_fields(
    data: dict[str, Any], organisation_id: int, errors: dict[str, Any]
) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "title" in data:
        fields["title"] = _text(data["title"], "title", errors, required=True)
    for name in ACTION_TEXT_FIELDS:
        if name in data:
            fields[name] = _text(data[name], name, errors)
    if "due_on" in data:
        fields["due_on"] = _date(data["due_on"], "due_on", errors)
    if "kpi" in data:
        fields["kpi"] = _kpi(data["kpi"], organisation_id, errors)
    if "target_value" in data:
        fields["target_value"] = _number(
            data["target_value"], "target_value", errors, required=False
        )
    return fields


def create_action(
    actor: Any,
    *,
    employee: Employee | int,
    owner: Employee | int | None = None,
    talk: Talk | int | None = None,
    plan: ImprovementPlan | int | None = None,
    **data: Any,
) -> ActionItem:
    """A new action item for `employee` (from `talk` by its two people, or on its own by
    whoever may see the employee), owned by `owner` (the actor by default)."""
    own = _own(actor)
    person = (
        Employee.objects.select_related("department")
        .filter(
            pk=employee if isinstance(employee, int) else employee.pk,
            organisation_id=own.organisation_id,
        )
        .first()
    )
    if person is None:
        raise Http404
    the_talk = None
    if talk is not None:
        the_talk = Talk.objects.filter(
            pk=talk if isinstance(talk, int) else talk.pk, organisation_id=own.organisation_id
        ).first()
        if the_talk is None:
            raise Http404
    the_plan = None
    if plan is not None:
        the_plan = ImprovementPlan.objects.filter(
            pk=plan if isinstance(plan, int) else plan.pk, employee=person
        ).first()
        if the_plan is None or not rules.may_edit_plan(actor, the_plan):
            raise Http404
    if not rules.may_create_action(actor, person, the_talk) and the_plan is None:
        if not rules.sees_person(actor, person):
            audit(
                "plans.action.created",
                actor=actor,
                outcome=Outcome.DENIED,
                object_type="people.employee",
                object_id=str(person.pk),
                organisation_id=own.organisation_id,
            )
            raise Http404
        _deny("plans.action.created", actor, person, person.pk, person.organisation_id)
    errors: dict[str, Any] = {}
    data.setdefault("title", "")
    data.setdefault("due_on", "")
    fields = _action_fields(data, person.organisation_id, errors)
    the_owner = own
    if owner is not None:
        the_owner = _colleague(
            owner if isinstance(owner, int) else owner.pk, person.organisation_id, "owner", errors
        )
        if the_owner is not None and not rules.may_own_action(actor, the_owner, person):
            errors["owner"] = _("Choose the employee, yourself or someone you work with.")
    if errors:
        raise PlanInputError(errors)
    with transaction.atomic():
        item = ActionItem.objects.create(
            organisation_id=person.organisation_id,
            employee=person,
            owner=the_owner,
            talk=the_talk,
            plan=the_plan,
            created_by=own,
            **fields,
        )
        _audit(
            "plans.action.created",
            actor,
            item,
            person.pk,
            person.organisation_id,
            talk=the_talk.pk if the_talk else None,
            owner=item.owner_id,
        )
    return item


def update_action(actor: Any, item: ActionItem, **data: Any) -> ActionItem:
    if not rules.may_edit_action(actor, item):
        _deny("plans.action.edited", actor, item, item.employee_id, item.organisation_id)
    errors: dict[str, Any] = {}
    fields = _action_fields(data, item.organisation_id, errors)
    if "owner" in data and data["owner"] not in (None, ""):
        owner = _colleague(data["owner"], item.organisation_id, "owner", errors)
        if owner is not None and not rules.may_own_action(actor, owner, item.employee):
            errors["owner"] = _("Choose the employee, yourself or someone you work with.")
        fields["owner"] = owner
    if errors:
        raise PlanInputError(errors)
    with transaction.atomic():
        for name, value in fields.items():
            setattr(item, name, value)
        item.save()
        _audit(
            "plans.action.edited",
            actor,
            item,
            item.employee_id,
            item.organisation_id,
            fields=sorted(fields),
        )
    return item


def set_action_status(actor: Any, item: ActionItem, status: str) -> ActionItem:
    if not rules.may_change_status(actor, item):
        _deny("plans.action.status_changed", actor, item, item.employee_id, item.organisation_id)
    if status not in ActionStatus.values:
        raise DomainError(_("Unknown status."), code="status")
    with transaction.atomic():
        previous = item.status
        item.status = status
        item.completed_at = timezone.now() if status == ActionStatus.DONE else None
        item.save(update_fields=["status", "completed_at", "updated_at"])
        _audit(
            "plans.action.status_changed",
            actor,
            item,
            item.employee_id,
            item.organisation_id,
            before=previous,
            after=status,
        )
    return item


# --- E2: improvement plans --------------------------------------------------------------------


def get_plan(actor: Any, pk: Any) -> ImprovementPlan:
    queryset = ImprovementPlan.objects.select_related(
        "employee__department", "mentor", "manager", "hr", "published_by"
    )
    plan = _readable(actor, queryset, pk, rules.may_view_plan, "plans.plan.viewed")
    _audit("plans.plan.viewed", actor, plan, plan.employee_id, plan.organisation_id)
    return plan


def _plan_employee(actor: Any, employee: Employee | int) -> Employee:
    own = _own(actor)
    person = (
        Employee.objects.select_related("department", "manager")
        .filter(
            pk=employee if isinstance(employee, int) else employee.pk,
            organisation_id=own.organisation_id,
        )
        .first()
    )
    if person is None or not rules.sees_person(actor, person):
        audit(
            "plans.plan.created",
            actor=actor,
            outcome=Outcome.DENIED,
            object_type="people.employee",
            object_id=str(employee if isinstance(employee, int) else employee.pk),
            organisation_id=own.organisation_id,
        )
        raise Http404
    if not rules.may_create_plan(actor, person):
        _deny("plans.plan.created", actor, person, person.pk, person.organisation_id)
    return person


def _default_hr(actor: Any, person: Employee) -> Employee | None:
    own = rules.own_employee(actor)
    if own is not None and rules.is_hr_for.test(actor, person):
        return own
    return hr_partners_of(person).first()


def create_plan(
    actor: Any,
    employee: Employee | int,
    *,
    title: str,
    starts_on: Any,
    ends_on: Any,
    talk: Talk | None = None,
) -> ImprovementPlan:
    """An empty draft plan for the employee, by their manager or HR in scope."""
    person = _plan_employee(actor, employee)
    errors: dict[str, Any] = {}
    title = _text(title, "title", errors, required=True)
    start, end = _date(starts_on, "starts_on", errors), _date(ends_on, "ends_on", errors)
    if start and end and end <= start:
        errors["ends_on"] = _("The plan must end after it starts.")
    if errors:
        raise PlanInputError(errors)
    assert start is not None and end is not None
    with transaction.atomic():
        plan = ImprovementPlan.objects.create(
            organisation_id=person.organisation_id,
            employee=person,
            title=title,
            starts_on=start,
            ends_on=end,
            manager=person.manager,
            hr=_default_hr(actor, person),
            source_talk=talk,
            created_by=_own(actor),
        )
        _audit("plans.plan.created", actor, plan, person.pk, person.organisation_id)
    return plan


def draft_plan_from_gaps(
    actor: Any,
    employee: Employee | int,
    *,
    as_of: date | None = None,
    days: int = DEFAULT_PLAN_DAYS,
    talk: Talk | None = None,
) -> ImprovementPlan:
    """A draft from the brief's gaps: one target per KPI under its target (or flagged), from
    its latest value (the baseline, with its period) to the target (or half-way better when
    there is none); milestones at mid-term and at the end."""
    person = _plan_employee(actor, employee)
    today = as_of or timezone.localdate()
    gaps = [g for g in gaps_for(person, as_of=today).kpis if g.actual is not None]
    weak = [g for g in gaps if g.flags or (g.completion is not None and g.completion < 100)]
    if not weak:
        raise DomainError(
            _("No KPI of %(name)s is under its target: there is nothing to improve from the data.")
            % {"name": person.name},
            code="no_gaps",
        )
    end = today + timedelta(days=days)
    with transaction.atomic():
        plan = ImprovementPlan.objects.create(
            organisation_id=person.organisation_id,
            employee=person,
            title=_("Improvement plan for %(name)s") % {"name": person.name},
            starts_on=today,
            ends_on=end,
            manager=person.manager,
            hr=_default_hr(actor, person),
            source_talk=talk,
            created_by=_own(actor),
        )
        for position, gap in enumerate(weak):
            baseline = float(gap.actual)  # type: ignore[arg-type]
            lower = gap.kpi.direction == Direction.LOWER
            goal = gap.target
            if goal is None or (goal >= baseline if lower else goal <= baseline):
                goal = baseline * 0.5 if lower else baseline * 1.5
            PlanTarget.objects.create(
                plan=plan,
                kpi=gap.kpi,
                label=gap.kpi.name,
                baseline=baseline,
                goal=round(goal, 4),
                baseline_period_id=gap.latest.period_id if gap.latest else None,
                unit=gap.kpi.unit,
                direction=gap.kpi.direction,
                position=position,
            )
        middle = today + timedelta(days=days // 2)
        PlanMilestone.objects.create(plan=plan, title=_("Mid-term review"), due_on=middle)
        PlanMilestone.objects.create(plan=plan, title=_("Final review"), due_on=end)
        _audit(
            "plans.plan.created",
            actor,
            plan,
            person.pk,
            person.organisation_id,
            from_gaps=[g.kpi.code for g in weak],
        )
    return plan


PLAN_TEXT_FIELDS = ("training", "hr_notes")


def _plan_changes(plan: ImprovementPlan, data: dict[str, Any], errors: dict[str, Any]) -> dict:
    fields: dict[str, Any] = {}
    if "title" in data:
        fields["title"] = _text(data["title"], "title", errors, required=True)
    for name in PLAN_TEXT_FIELDS:
        if name in data:
            fields[name] = _text(data[name], name, errors)
    for name in ("starts_on", "ends_on"):
        if name in data:
            fields[name] = _date(data[name], name, errors)
    for name in ("mentor", "manager", "hr"):
        if name in data:
            fields[name] = _colleague(data[name], plan.organisation_id, name, errors)
    start = fields.get("starts_on", plan.starts_on)
    end = fields.get("ends_on", plan.ends_on)
    if start and end and end <= start:
        errors["ends_on"] = _("The plan must end after it starts.")
    return fields


def _targets(
    plan: ImprovementPlan, items: list[dict[str, Any]], errors: dict[str, Any]
) -> list[dict[str, Any]]:
    clean = []
    for index, item in enumerate(items):
        field = f"targets.{index}"
        kpi = _kpi(item.get("kpi"), plan.organisation_id, errors, field)
        label = str(item.get("label") or (kpi.name if kpi else "")).strip()[:MAX_TITLE]
        if not label:
            errors[field] = _("Name the target or choose its KPI.")
        baseline = _number(item.get("baseline"), field, errors)
        goal = _number(item.get("goal"), field, errors)
        direction = kpi.direction if kpi else str(item.get("direction") or Direction.HIGHER)
        if direction not in Direction.values:
            errors[field] = _("Unknown direction.")
        clean.append(
            {
                "id": as_id(item.get("id")),
                "kpi": kpi,
                "label": label,
                "baseline": float(baseline) if baseline is not None else 0.0,
                "goal": float(goal) if goal is not None else 0.0,
                "unit": kpi.unit if kpi else str(item.get("unit") or "")[:30],
                "direction": direction,
                "position": index,
            }
        )
    return clean


def _milestones(items: list[dict[str, Any]], errors: dict[str, Any]) -> list[dict[str, Any]]:
    clean = []
    for index, item in enumerate(items):
        field = f"milestones.{index}"
        title = _text(item.get("title"), "title", errors, required=True)
        if "title" in errors:
            errors[field] = errors.pop("title")
        clean.append(
            {
                "id": as_id(item.get("id")),
                "title": title,
                "due_on": _date(item.get("due_on"), field, errors),
            }
        )
    return clean


def _replace(model: Any, plan: ImprovementPlan, items: list[dict[str, Any]]) -> None:
    """Rows of the plan as given: kept by id, others added, missing ones removed."""
    existing = {row.pk: row for row in model.objects.filter(plan=plan)}
    kept = set()
    for item in items:
        values = {k: v for k, v in item.items() if k != "id"}
        row = existing.get(item["id"]) if item["id"] is not None else None
        if row is None:
            model.objects.create(plan=plan, **values)
            continue
        kept.add(row.pk)
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
    gone = [pk for pk in existing if pk not in kept]
    if model is PlanMilestone:
        CheckIn.objects.filter(milestone_id__in=gone, done_at__isnull=True).delete()
    model.objects.filter(pk__in=gone).delete()


def update_plan(
    actor: Any,
    plan: ImprovementPlan,
    *,
    targets: list[dict[str, Any]] | None = None,
    milestones: list[dict[str, Any]] | None = None,
    **data: Any,
) -> ImprovementPlan:
    """Change a plan: freely while a draft; once published, the change is a new version that
    waits for the employee's new acknowledgement (the page shows what changed since the one
    acknowledged). HR notes are HR's alone and change no version."""
    if not rules.may_edit_plan(actor, plan):
        _deny("plans.plan.edited", actor, plan, plan.employee_id, plan.organisation_id)
    if "hr_notes" in data and not rules.sees_hr_notes(actor, plan):
        raise DomainError(_("Only HR writes HR notes."), code="hr_notes")
    errors: dict[str, Any] = {}
    fields = _plan_changes(plan, data, errors)
    clean_targets = _targets(plan, targets, errors) if targets is not None else None
    clean_milestones = _milestones(milestones, errors) if milestones is not None else None
    if errors:
        raise PlanInputError(errors)
    with transaction.atomic():
        current = ImprovementPlan.objects.select_for_update().get(pk=plan.pk)
        if current.state != plan.state or current.version != plan.version:
            raise ConflictError(
                _("The plan was changed meanwhile; reload it and try again."), code="stale"
            )
        for name, value in fields.items():
            setattr(plan, name, value)
        plan.save()
        if clean_targets is not None:
            _replace(PlanTarget, plan, clean_targets)
        if clean_milestones is not None:
            _replace(PlanMilestone, plan, clean_milestones)
        revised = False
        if plan.state != PlanState.DRAFT:
            revised = _new_version_if_changed(plan, actor)
        _audit(
            "plans.plan.edited",
            actor,
            plan,
            plan.employee_id,
            plan.organisation_id,
            fields=sorted(fields),
            targets=clean_targets is not None,
            milestones=clean_milestones is not None,
            version=plan.version,
            revised=revised,
        )
    return plan


def _new_version_if_changed(plan: ImprovementPlan, actor: Any) -> bool:
    latest = PlanVersion.objects.filter(plan=plan).order_by("-version").first()
    plan.version = (latest.version if latest else 0) + 1
    content = versions.encode(versions.content_of(plan))
    if latest is not None and versions.decode(latest.content) | {"version": 0} == versions.decode(
        content
    ) | {"version": 0}:
        plan.version = latest.version
        return False
    reviser = _own(actor)
    PlanVersion.objects.create(
        plan=plan,
        version=plan.version,
        content=content,
        sha256=versions.digest(content),
        published_by=reviser,
    )
    plan.state = PlanState.PUBLISHED
    plan.save(update_fields=["version", "state", "updated_at"])
    _schedule_check_ins(plan)
    _audit(
        "plans.plan.revised",
        actor,
        plan,
        plan.employee_id,
        plan.organisation_id,
        version=plan.version,
        acknowledged_version=plan.acknowledged_version,
    )
    messages.queue_plan_published(plan, actor=reviser)
    return True


def publish_plan(actor: Any, plan: ImprovementPlan) -> ImprovementPlan:
    """HR publishes a draft: it locks (later changes are versions), its content is kept as
    version 1, check-ins are scheduled, and the employee is asked to acknowledge it."""
    if not rules.may_publish(actor, plan):
        _deny("plans.plan.published", actor, plan, plan.employee_id, plan.organisation_id)
    if not plan.targets.exists():
        raise DomainError(_("Add at least one target before publishing."), code="no_targets")
    with transaction.atomic():
        current = ImprovementPlan.objects.select_for_update().get(pk=plan.pk)
        if current.state != PlanState.DRAFT:
            raise ConflictError(_("The plan is already published."), code="published")
        plan.state = PlanState.PUBLISHED
        plan.version = 1
        plan.published_at = timezone.now()
        plan.published_by = _own(actor)
        plan.save()
        content = versions.encode(versions.content_of(plan))
        PlanVersion.objects.create(
            plan=plan,
            version=1,
            content=content,
            sha256=versions.digest(content),
            published_by=plan.published_by,
            published_at=plan.published_at,
        )
        _schedule_check_ins(plan)
        _audit(
            "plans.plan.published",
            actor,
            plan,
            plan.employee_id,
            plan.organisation_id,
            version=1,
            sha256=versions.digest(content),
        )
        messages.queue_plan_published(plan, actor=plan.published_by)
    return plan


def _schedule_check_ins(plan: ImprovementPlan) -> None:
    """One check-in at each milestone and one at mid-term (unless a milestone falls on it)."""
    scheduled = {c.milestone_id: c for c in CheckIn.objects.filter(plan=plan)}
    days = {c.due_on for c in scheduled.values()}
    for milestone in plan.milestones.all():
        check_in = scheduled.get(milestone.pk)
        if check_in is None:
            CheckIn.objects.create(plan=plan, milestone=milestone, due_on=milestone.due_on)
            days.add(milestone.due_on)
        elif check_in.done_at is None and check_in.due_on != milestone.due_on:
            check_in.due_on = milestone.due_on
            check_in.save(update_fields=["due_on"])
    middle = plan.starts_on + (plan.ends_on - plan.starts_on) / 2
    if None not in scheduled and middle not in days:
        CheckIn.objects.create(plan=plan, due_on=middle)


def acknowledge_plan(
    actor: Any,
    plan: ImprovementPlan,
    *,
    password: str,
    ip: str | None = None,
    user_agent: str = "",
) -> PlanAcknowledgement:
    """The employee acknowledges the published version, re-entering their password (as when
    signing a record). Acknowledging is not agreeing: it says they have read this version."""
    if not rules.may_acknowledge(actor, plan):
        _deny("plans.plan.acknowledged", actor, plan, plan.employee_id, plan.organisation_id)
    try:
        method = reauthenticate(actor, password, ip=ip)
    except ReauthenticationFailed:
        audit(
            "plans.acknowledgement.refused",
            actor=actor,
            outcome=Outcome.DENIED,
            obj=plan,
            subject_id=plan.employee_id,
            organisation_id=plan.organisation_id,
            data={"version": plan.version},
        )
        raise
    try:
        with transaction.atomic():
            current = ImprovementPlan.objects.select_for_update().get(pk=plan.pk)
            if current.version != plan.version or current.state != PlanState.PUBLISHED:
                raise ConflictError(
                    _("The plan changed while you were reading it; read the new version."),
                    code="stale",
                )
            version = PlanVersion.objects.get(plan=plan, version=plan.version)
            acknowledgement = PlanAcknowledgement.objects.create(
                plan=plan,
                version=plan.version,
                sha256=version.sha256,
                employee=_own(actor),
                method=method,
                ip=ip,
                user_agent=(user_agent or "")[:400],
            )
            plan.state = PlanState.ACKNOWLEDGED
            plan.acknowledged_version = plan.version
            plan.save(update_fields=["state", "acknowledged_version", "updated_at"])
            _audit(
                "plans.plan.acknowledged",
                actor,
                plan,
                plan.employee_id,
                plan.organisation_id,
                version=plan.version,
                sha256=version.sha256,
            )
    except IntegrityError:
        raise ConflictError(_("You have already acknowledged this version."), code="ack") from None
    return acknowledgement


def plan_diff(plan: ImprovementPlan) -> list[versions.Change]:
    """What changed between the acknowledged version and the latest one (none when the latest
    is acknowledged, or nothing was acknowledged yet)."""
    if not plan.acknowledged_version or plan.acknowledged_version >= plan.version:
        return []
    rows = {
        v.version: v
        for v in PlanVersion.objects.filter(
            plan=plan, version__in=[plan.acknowledged_version, plan.version]
        )
    }
    if len(rows) < 2:
        return []
    return versions.diff(
        versions.decode(rows[plan.acknowledged_version].content),
        versions.decode(rows[plan.version].content),
    )


def close_plan(actor: Any, plan: ImprovementPlan) -> ImprovementPlan:
    if not rules.may_close(actor, plan):
        _deny("plans.plan.closed", actor, plan, plan.employee_id, plan.organisation_id)
    with transaction.atomic():
        plan.state = PlanState.CLOSED
        plan.closed_at = timezone.now()
        plan.save(update_fields=["state", "closed_at", "updated_at"])
        _audit("plans.plan.closed", actor, plan, plan.employee_id, plan.organisation_id)
    return plan


# --- E3: check-ins ----------------------------------------------------------------------------


def record_check_in(
    actor: Any,
    plan: ImprovementPlan,
    *,
    values: dict[Any, Any],
    check_in: CheckIn | int | None = None,
    evidence: str = "",
    notes: str = "",
    today: date | None = None,
) -> CheckIn:
    """Progress per target (its value now → % of the way from baseline to goal), evidence and
    notes, on the scheduled check-in (the next open one by default, a new one when none is
    left). A check-in behind time recommends a course for its weakest target."""
    if not rules.may_check_in(actor, plan):
        _deny("plans.checkin.recorded", actor, plan, plan.employee_id, plan.organisation_id)
    today = today or timezone.localdate()
    errors: dict[str, Any] = {}
    evidence = _text(evidence, "evidence", errors)
    notes = _text(notes, "notes", errors)
    targets = list(plan.targets.select_related("kpi").order_by("position", "pk"))
    given = {as_id(k): v for k, v in (values or {}).items()}
    unknown = [k for k in given if k not in {t.pk for t in targets}]
    if unknown:
        errors["values"] = _("A value was given for a target that is not in this plan.")
    progress: list[dict[str, Any]] = []
    for target in targets:
        raw = given.get(target.pk)
        if raw in (None, ""):
            continue
        value = _number(raw, f"values.{target.pk}", errors)
        if value is None:
            continue
        percent = progress_percent(target.baseline, target.goal, float(value), target.direction)
        progress.append(
            {
                "target": target.pk,
                "label": target.label,
                "value": float(value),
                "percent": percent,
                "text": "",
            }
        )
    if not progress and not errors:
        errors["values"] = _("Enter the value of at least one target.")
    if errors:
        raise PlanInputError(errors)
    with transaction.atomic():
        row: CheckIn | None
        if check_in is None:
            row = plan.check_ins.filter(done_at__isnull=True).order_by("due_on", "pk").first()
        else:
            pk = check_in if isinstance(check_in, int) else check_in.pk
            row = CheckIn.objects.select_for_update().filter(pk=pk, plan=plan).first()
            if row is None:
                raise Http404
            if row.done_at is not None:
                raise ConflictError(_("This check-in is already recorded."), code="done")
        if row is None:
            row = CheckIn(plan=plan, due_on=today)
        row.done_at = timezone.now()
        row.progress = progress
        row.percent = round(sum(p["percent"] for p in progress) / len(progress), 1)
        row.elapsed_percent = elapsed_percent(plan.starts_on, plan.ends_on, today)
        row.evidence, row.notes = evidence, notes
        row.author = _own(actor)
        row.save()
        if row.milestone_id is not None:
            PlanMilestone.objects.filter(pk=row.milestone_id, done_at__isnull=True).update(
                done_at=row.done_at
            )
        _audit(
            "plans.checkin.recorded",
            actor,
            row,
            plan.employee_id,
            plan.organisation_id,
            plan=plan.pk,
            percent=row.percent,
            elapsed=row.elapsed_percent,
        )
        if row.behind:
            _recommend_course(plan, row, targets)
    return row


def progress_report(plan: ImprovementPlan, check_in: CheckIn) -> list[str]:
    """The check-in in words, one line per target, in the active language."""
    targets = {t.pk: t for t in plan.targets.all()}
    lines = []
    for entry in check_in.progress:
        target = targets.get(entry["target"])
        if target is None:
            continue
        lines.append(
            progress_text(
                target.label,
                target.baseline,
                target.goal,
                entry["value"],
                target.unit,
                target.direction,
            )
        )
    return lines


def _recommend_course(plan: ImprovementPlan, check_in: CheckIn, targets: list[PlanTarget]) -> None:
    by_pk = {t.pk: t for t in targets}
    for entry in sorted(check_in.progress, key=lambda e: e["percent"]):
        target = by_pk.get(entry["target"])
        if target is None or target.kpi_id is None:
            continue
        course = (
            TrainingCourse.objects.filter(
                organisation_id=plan.organisation_id, active=True, kpis=target.kpi_id
            )
            .order_by("title", "pk")
            .first()
        )
        if course is None:
            continue
        if Recommendation.objects.filter(
            plan=plan, kind=RecommendationKind.COURSE, course=course
        ).exists():
            return
        reason = _(
            "%(kpi)s is %(percent)s %% of the way to its goal while %(elapsed)s %% of the plan's "
            "time has passed (check-in of %(date)s); the course “%(course)s” covers this KPI."
        ) % {
            "kpi": target.label,
            "percent": number(entry["percent"]),
            "elapsed": number(check_in.elapsed_percent),
            "date": check_in.due_on.isoformat(),
            "course": course.title,
        }
        recommendation = Recommendation.objects.create(
            organisation_id=plan.organisation_id,
            plan=plan,
            kind=RecommendationKind.COURSE,
            course=course,
            check_in=check_in,
            reason=reason,
        )
        audit(
            "plans.recommendation.raised",
            actor=None,
            obj=recommendation,
            subject_id=plan.employee_id,
            organisation_id=plan.organisation_id,
            data={"kind": recommendation.kind, "course": course.pk},
        )
        return


# --- E4: effect evaluation --------------------------------------------------------------------


def _expected_period(target: PlanTarget, plan: ImprovementPlan, day: date) -> str:
    period = target.baseline_period
    kind = period.kind if period is not None else PeriodKind.MONTH
    return bounds(kind, start_of(kind, min(day, plan.ends_on)))[2]


def evaluate_targets(plan: ImprovementPlan, *, as_of: date | None = None) -> dict[str, Any]:
    """For each target with a KPI: its latest value in the periods after the baseline's that
    overlap the plan (of the baseline's kind), up to `as_of`, against the baseline; the effect
    by the configured thresholds. A target without a value says which period is missing; the
    plan's verdict then waits."""
    day = as_of or timezone.localdate()
    rows = []
    for target in plan.targets.select_related("kpi", "baseline_period").order_by("position", "pk"):
        row: dict[str, Any] = {
            "target": target.pk,
            "label": target.label,
            "unit": target.unit,
            "baseline": target.baseline,
            "baseline_period": target.baseline_period.label if target.baseline_period else "",
            "goal": target.goal,
            "value": None,
            "period": "",
            "percent": None,
            "effect": Effect.NO_DATA,
            "text": "",
        }
        if target.kpi_id is None:
            row["text"] = _("%(target)s has no KPI: judge it from the check-ins.") % {
                "target": target.label
            }
            rows.append(row)
            continue
        values = KpiValue.objects.filter(
            employee_id=plan.employee_id,
            kpi_id=target.kpi_id,
            period__end__gt=plan.starts_on,
            period__start__lte=day,
        ).select_related("period")
        if target.baseline_period is not None:
            values = values.filter(
                period__kind=target.baseline_period.kind,
                period__start__gt=target.baseline_period.start,
            )
        latest = values.order_by("-period__start").first()
        expected = _expected_period(target, plan, day)
        if latest is None:
            row["text"] = _("%(target)s: no value for %(period)s yet.") % {
                "target": target.label,
                "period": expected,
            }
            rows.append(row)
            continue
        value = float(latest.value)
        percent = progress_percent(target.baseline, target.goal, value, target.direction)
        row.update(
            value=value,
            period=latest.period.label,
            percent=percent,
            effect=effect_of(percent),
        )
        unit = target.unit
        row["text"] = _(
            "%(target)s %(baseline)s (%(from)s) → %(value)s (%(to)s): %(percent)s %% of the way "
            "to the goal of %(goal)s."
        ) % {
            "target": target.label,
            "baseline": with_unit(target.baseline, unit),
            "from": row["baseline_period"] or _("baseline"),
            "value": with_unit(value, unit),
            "to": latest.period.label,
            "percent": number(percent),
            "goal": with_unit(target.goal, unit),
        }
        if latest.period.label != expected and day >= plan.ends_on:
            row["text"] += " " + _("No value for %(period)s yet.") % {"period": expected}
        rows.append(row)
    measured = [r for r in rows if r["percent"] is not None]
    missing = [r for r in rows if r["percent"] is None]
    overall: str
    if not measured or missing:
        overall = Effect.NO_DATA
        mean = None
    else:
        mean = round(sum(r["percent"] for r in measured) / len(measured), 1)
        overall = effect_of(mean)
    return {
        "as_of": day.isoformat(),
        "effect": overall,
        "percent": mean,
        "targets": rows,
    }


def evaluate_plan(actor: Any, plan: ImprovementPlan, *, as_of: date | None = None) -> dict:
    """Evaluate now (on demand, or at the end of the plan); keeps the result on the plan. An
    effective plan raises a salary and a promotion review flag for HR."""
    if actor is not None and not rules.may_evaluate(actor, plan):
        _deny("plans.plan.evaluated", actor, plan, plan.employee_id, plan.organisation_id)
    result = evaluate_targets(plan, as_of=as_of)
    with transaction.atomic():
        plan.effect = result["effect"]
        plan.evaluated_at = timezone.now()
        plan.evaluation = result
        plan.save(update_fields=["effect", "evaluated_at", "evaluation", "updated_at"])
        audit(
            "plans.plan.evaluated",
            actor=actor,
            obj=plan,
            subject_id=plan.employee_id,
            organisation_id=plan.organisation_id,
            data={"effect": result["effect"], "percent": result["percent"]},
        )
        if result["effect"] == Effect.EFFECTIVE:
            _recommend_reviews(plan, result)
    return result


def evaluate_ended_plans(today: date | None = None) -> int:
    """Evaluate every plan in force whose end has come and that was not evaluated since
    (for a periodic task). Returns how many were evaluated."""
    day = today or timezone.localdate()
    count = 0
    for plan in ImprovementPlan.objects.filter(
        state__in=(PlanState.PUBLISHED, PlanState.ACKNOWLEDGED), ends_on__lte=day
    ).select_related("employee"):
        if str(plan.evaluation.get("as_of", "")) >= plan.ends_on.isoformat():
            continue
        evaluate_plan(None, plan, as_of=day)
        count += 1
    return count


def _recommend_reviews(plan: ImprovementPlan, result: dict[str, Any]) -> None:
    numbers = "; ".join(r["text"] for r in result["targets"] if r["percent"] is not None)
    for kind in (RecommendationKind.SALARY_REVIEW, RecommendationKind.PROMOTION_REVIEW):
        if Recommendation.objects.filter(plan=plan, kind=kind).exists():
            continue
        reason = _(
            "The improvement plan was effective (%(percent)s %% of the way on average): %(numbers)s"
        ) % {"percent": number(result["percent"]), "numbers": numbers}
        recommendation = Recommendation.objects.create(
            organisation_id=plan.organisation_id, plan=plan, kind=kind, reason=reason
        )
        audit(
            "plans.recommendation.raised",
            actor=None,
            obj=recommendation,
            subject_id=plan.employee_id,
            organisation_id=plan.organisation_id,
            data={"kind": kind},
        )


# --- E5: recommendations and the catalogue ----------------------------------------------------


def decide_recommendation(actor: Any, recommendation: Recommendation, state: str) -> Recommendation:
    plan = recommendation.plan
    if not rules.may_decide_recommendation(actor, recommendation):
        _deny(
            "plans.recommendation.decided",
            actor,
            recommendation,
            plan.employee_id,
            plan.organisation_id,
        )
    if state not in (RecommendationState.ACCEPTED, RecommendationState.DISMISSED):
        raise DomainError(_("Accept or dismiss the recommendation."), code="state")
    with transaction.atomic():
        recommendation.state = state
        recommendation.decided_by = _own(actor)
        recommendation.decided_at = timezone.now()
        recommendation.save(update_fields=["state", "decided_by", "decided_at", "updated_at"])
        _audit(
            "plans.recommendation.decided",
            actor,
            recommendation,
            plan.employee_id,
            plan.organisation_id,
            state=state,
        )
    return recommendation


def get_recommendation(actor: Any, plan: ImprovementPlan, pk: Any) -> Recommendation:
    found = Recommendation.objects.filter(pk=_pk(pk), plan=plan).first()
    if found is None or not rules.sees_recommendation(actor, found):
        raise Http404
    return found


def visible_recommendations(actor: Any, plan: ImprovementPlan) -> list[Recommendation]:
    return [
        r
        for r in plan.recommendations.select_related("course", "check_in").order_by("-pk")
        if rules.sees_recommendation(actor, r)
    ]


def save_course(actor: Any, course: TrainingCourse | None = None, **data: Any) -> TrainingCourse:
    """Add a course to the catalogue, or change one (HR and administrators)."""
    own = _own(actor)
    if not rules.may_manage_catalogue(actor):
        audit(
            "plans.course.saved",
            actor=actor,
            outcome=Outcome.DENIED,
            object_type="plans.trainingcourse",
            object_id=str(course.pk if course else ""),
            organisation_id=own.organisation_id,
        )
        raise PermissionDenied
    if course is not None and course.organisation_id != own.organisation_id:
        raise Http404
    errors: dict[str, Any] = {}
    title = _text(data.get("title", course.title if course else ""), "title", errors, required=True)
    description = _text(
        data.get("description", course.description if course else ""), "description", errors
    )
    skills = _text(data.get("skills", course.skills if course else ""), "skills", errors)[:300]
    link = str(data.get("link", course.link if course else "") or "").strip()
    if link and not link.startswith(("https://", "http://")):
        errors["link"] = _("Enter a web address starting with https://.")
    kpis: list[Kpi] | None = None
    if "kpis" in data:
        ids = [_pk(k) for k in data.get("kpis") or []]
        kpis = list(Kpi.objects.filter(organisation_id=own.organisation_id, pk__in=ids))
        if len(kpis) != len({i for i in ids}):
            errors["kpis"] = _("Choose KPIs of the organisation.")
    active = bool(data.get("active", course.active if course else True))
    if errors:
        raise PlanInputError(errors)
    with transaction.atomic():
        if course is None:
            course = TrainingCourse(organisation_id=own.organisation_id)
        course.title, course.description, course.skills = title, description, skills
        course.link, course.active = link[:500], active
        course.save()
        if kpis is not None:
            course.kpis.set(kpis)
        audit(
            "plans.course.saved",
            actor=actor,
            obj=course,
            organisation_id=own.organisation_id,
        )
    return course


def get_course(actor: Any, pk: Any) -> TrainingCourse:
    """A course of the actor's organisation for HR and administrators (403 for others, 404
    for a course of another organisation or none)."""
    if not rules.may_manage_catalogue(actor):
        raise PermissionDenied
    own = _own(actor)
    course = (
        TrainingCourse.objects.filter(pk=_pk(pk), organisation_id=own.organisation_id).first()
        if as_id(pk) is not None
        else None
    )
    if course is None:
        raise Http404
    return course


__all__ = [
    "OPEN_STATES",
    "PlanInputError",
    "acknowledge_plan",
    "close_plan",
    "create_action",
    "create_plan",
    "decide_recommendation",
    "draft_plan_from_gaps",
    "evaluate_ended_plans",
    "evaluate_plan",
    "evaluate_targets",
    "get_action",
    "get_plan",
    "plan_diff",
    "progress_report",
    "publish_plan",
    "record_check_in",
    "save_course",
    "set_action_status",
    "update_action",
    "update_plan",
]


def team_overview(actor: Any, *, include_closed: bool = False) -> queries.Overview:
    """The team list (open action items and plans of the people the actor may see), audited
    once with how many people it shows."""
    if not rules.sees_team(actor):
        raise PermissionDenied
    own = _own(actor)
    overview = queries.Overview(
        actions=list(queries.team_actions(actor, include_closed=include_closed)[:500]),
        plans=list(queries.team_plans(actor)[:200]),
    )
    people = {a.employee_id for a in overview.actions} | {p.employee_id for p in overview.plans}
    audit(
        "plans.actions.listed",
        actor=actor,
        object_type="plans.team",
        organisation_id=own.organisation_id,
        data={"people": len(people)},
    )
    return overview


def my_overview(actor: Any, *, include_closed: bool = False) -> queries.Overview:
    """The user's own list: the items they own or that serve their own development, and
    their published plans; audited once (it may show items serving other people)."""
    own = _own(actor)
    overview = queries.Overview(
        actions=list(queries.my_actions(actor, include_closed=include_closed)[:300]),
        plans=list(queries.my_plans(actor).select_related("employee")[:50]),
    )
    audit(
        "plans.actions.listed",
        actor=actor,
        object_type="plans.mine",
        subject_id=own.pk,
        organisation_id=own.organisation_id,
        data={"people": len({a.employee_id for a in overview.actions} | {own.pk})},
    )
    return overview
