"""Who may do what with follow-up plans. Services refuse whatever these deny; pages and the API
ask the same functions to show their buttons and links.

- An action item is read by its owner, its creator, the talk's two people, and whoever may see
  the employee's personal records (self, managers along the reporting line, department heads,
  HR in scope, administrators). Its status is changed by its owner or the talk's counterpart
  (the creator for an item without a talk); its text by those and HR in scope.
- An improvement plan is read by the employee once published, by their managers, department
  heads, HR in scope and administrators. Managers and HR in scope edit it; HR in scope
  publishes it; only the employee acknowledges it. HR notes are for HR and administrators.
- HR (or an administrator) keeps the training catalogue and decides on recommendations; salary
  and promotion review flags are shown to HR only.
"""

from __future__ import annotations

from typing import Any

from miantan.interviews.models import Talk
from miantan.people.models import Employee
from miantan.people.rules import (
    is_admin,
    is_admin_of,
    is_department_head_for,
    is_hr,
    is_hr_for,
    is_manager_of,
    is_self,
)
from miantan.people.scopes import scope_for

from .enums import OPEN_STATES, ActionStatus, PlanState, RecommendationKind
from .models import ActionItem, ImprovementPlan, Recommendation

HR_ONLY_KINDS = (RecommendationKind.SALARY_REVIEW, RecommendationKind.PROMOTION_REVIEW)


def own_employee(user: Any) -> Employee | None:
    employee = scope_for(user).employee
    return employee if employee is not None and employee.is_active else None


def sees_person(user: Any, employee: Employee) -> bool:
    """May read the employee's personal records (the people app's reading rule)."""
    return bool(
        is_self.test(user, employee)
        or is_manager_of.test(user, employee)
        or is_department_head_for.test(user, employee)
        or is_hr_for.test(user, employee)
        or is_admin_of.test(user, employee)
    )


def leads(user: Any, employee: Employee) -> bool:
    """A manager along the reporting line, a department head or HR in scope, an admin."""
    return bool(
        is_manager_of.test(user, employee)
        or is_department_head_for.test(user, employee)
        or is_hr_for.test(user, employee)
        or is_admin_of.test(user, employee)
    )


def sees_team(user: Any) -> bool:
    """Has a team list at all: managers, department heads, HR and administrators."""
    scope = scope_for(user)
    return own_employee(user) is not None and (
        scope.has_reports or scope.is_department_head or scope.is_hr or scope.is_admin
    )


# --- action items ------------------------------------------------------------------------------


def talk_side(user: Any, talk: Talk) -> str | None:
    own = own_employee(user)
    if own is None or own.organisation_id != talk.organisation_id:
        return None
    if own.pk == talk.employee_id:
        return "employee"
    if own.pk == talk.counterpart_id:
        return "counterpart"
    return None


def may_create_action(user: Any, employee: Employee, talk: Talk | None = None) -> bool:
    """From a talk: its two people, for the talk's employee. On their own: whoever may see the
    employee's records (the employee for themselves included)."""
    if own_employee(user) is None:
        return False
    if talk is not None:
        return talk_side(user, talk) is not None and talk.employee_id == employee.pk
    return sees_person(user, employee)


def may_own_action(user: Any, owner: Employee, employee: Employee) -> bool:
    """An item's owner: the employee, the actor, or someone the actor may see, in the same
    organisation and still employed."""
    own = own_employee(user)
    if own is None or not owner.is_active or owner.organisation_id != employee.organisation_id:
        return False
    if owner.pk in (employee.pk, own.pk) or owner.pk == employee.manager_id:
        return True
    return sees_person(user, owner)


def may_view_action(user: Any, item: ActionItem) -> bool:
    own = own_employee(user)
    if own is None or own.organisation_id != item.organisation_id:
        return False
    if own.pk in (item.owner_id, item.created_by_id, item.employee_id):
        return True
    if item.talk is not None and talk_side(user, item.talk) is not None:
        return True
    return sees_person(user, item.employee)


def may_change_status(user: Any, item: ActionItem) -> bool:
    own = own_employee(user)
    if own is None or own.organisation_id != item.organisation_id:
        return False
    if own.pk == item.owner_id:
        return True
    if item.talk is not None:
        return own.pk == item.talk.counterpart_id
    return own.pk == item.created_by_id


def may_edit_action(user: Any, item: ActionItem) -> bool:
    """Text and dates: who may change the status, the talk's two people and HR in scope, while
    the item is unfinished."""
    if item.status not in OPEN_STATES:
        return False
    if may_change_status(user, item):
        return True
    if item.talk is not None and talk_side(user, item.talk) is not None:
        return True
    return bool(is_hr_for.test(user, item.employee))


def allowed_statuses(user: Any, item: ActionItem) -> list[str]:
    if not may_change_status(user, item):
        return []
    return [s for s in ActionStatus.values if s != item.status]


# --- improvement plans ------------------------------------------------------------------------


def may_create_plan(user: Any, employee: Employee) -> bool:
    """The employee's managers along the reporting line and HR in scope (not for themselves)."""
    own = own_employee(user)
    if own is None or own.pk == employee.pk:
        return False
    return bool(is_manager_of.test(user, employee) or is_hr_for.test(user, employee))


def may_view_plan(user: Any, plan: ImprovementPlan) -> bool:
    own = own_employee(user)
    if own is None or own.organisation_id != plan.organisation_id:
        return False
    if own.pk == plan.employee_id:
        return plan.state != PlanState.DRAFT
    if own.pk in (plan.manager_id, plan.hr_id):
        return True
    return leads(user, plan.employee)


def may_edit_plan(user: Any, plan: ImprovementPlan) -> bool:
    own = own_employee(user)
    if own is None or plan.state == PlanState.CLOSED or own.pk == plan.employee_id:
        return False
    return bool(is_manager_of.test(user, plan.employee) or is_hr_for.test(user, plan.employee))


def may_publish(user: Any, plan: ImprovementPlan) -> bool:
    own = own_employee(user)
    if own is None or own.pk == plan.employee_id or plan.state != PlanState.DRAFT:
        return False
    return bool(is_hr_for.test(user, plan.employee))


def may_acknowledge(user: Any, plan: ImprovementPlan) -> bool:
    own = own_employee(user)
    return (
        own is not None
        and own.pk == plan.employee_id
        and plan.state == PlanState.PUBLISHED
        and plan.acknowledged_version < plan.version
    )


def may_check_in(user: Any, plan: ImprovementPlan) -> bool:
    """The employee, their managers and HR in scope record progress of a plan in force."""
    if plan.state not in (PlanState.PUBLISHED, PlanState.ACKNOWLEDGED):
        return False
    own = own_employee(user)
    if own is None:
        return False
    if own.pk == plan.employee_id:
        return True
    return bool(is_manager_of.test(user, plan.employee) or is_hr_for.test(user, plan.employee))


def may_evaluate(user: Any, plan: ImprovementPlan) -> bool:
    if plan.state == PlanState.DRAFT:
        return False
    own = own_employee(user)
    if own is None or own.pk == plan.employee_id:
        return False
    return bool(is_manager_of.test(user, plan.employee) or is_hr_for.test(user, plan.employee))


def may_close(user: Any, plan: ImprovementPlan) -> bool:
    return plan.state in (PlanState.PUBLISHED, PlanState.ACKNOWLEDGED) and bool(
        is_hr_for.test(user, plan.employee)
    )


def sees_hr_notes(user: Any, plan: ImprovementPlan) -> bool:
    own = own_employee(user)
    if own is None or own.pk == plan.employee_id:
        return False
    return bool(is_hr_for.test(user, plan.employee) or is_admin_of.test(user, plan.employee))


def sees_recommendation(user: Any, recommendation: Recommendation) -> bool:
    """Courses: whoever reads the plan; review flags: HR in scope and administrators."""
    plan = recommendation.plan
    if recommendation.kind in HR_ONLY_KINDS:
        return sees_hr_notes(user, plan)
    return may_view_plan(user, plan)


def may_decide_recommendation(user: Any, recommendation: Recommendation) -> bool:
    own = own_employee(user)
    return (
        own is not None
        and own.pk != recommendation.plan.employee_id
        and bool(is_hr_for.test(user, recommendation.plan.employee))
    )


# --- the training catalogue -------------------------------------------------------------------


def may_manage_catalogue(user: Any) -> bool:
    return own_employee(user) is not None and bool(is_hr.test(user) or is_admin.test(user))
