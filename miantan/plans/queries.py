"""Reads of action items and plans: the owner's own list, the team list of managers, department
heads and HR (whoever they may see), the brief's open items. Nothing here checks a single
object or audits; services.py does (`get_action`, `get_plan`, `team_overview`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from miantan.people.models import Employee
from miantan.people.queries import employees_visible_to

from .enums import OPEN_STATES, PlanState
from .models import ActionItem, ImprovementPlan
from .rules import own_employee


def open_items_for_brief(employee: Employee) -> list[Any]:
    """Unfinished action items serving `employee`, oldest due first (the brief's hook)."""
    return list(
        ActionItem.objects.filter(employee=employee, status__in=OPEN_STATES)
        .select_related("owner", "talk")
        .order_by("due_on", "pk")
    )


def my_actions(user: Any, *, include_closed: bool = False) -> QuerySet[ActionItem]:
    """Items the user owns or that serve the user's own development."""
    own = own_employee(user)
    if own is None:
        return ActionItem.objects.none()
    items = ActionItem.objects.filter(organisation_id=own.organisation_id).filter(
        Q(owner=own) | Q(employee=own)
    )
    if not include_closed:
        items = items.filter(status__in=OPEN_STATES)
    return items.select_related("employee", "owner", "talk", "kpi").order_by("due_on", "pk")


def my_plans(user: Any) -> QuerySet[ImprovementPlan]:
    """The user's own plans once published."""
    own = own_employee(user)
    if own is None:
        return ImprovementPlan.objects.none()
    return (
        ImprovementPlan.objects.filter(employee=own)
        .exclude(state=PlanState.DRAFT)
        .order_by("-starts_on", "-pk")
    )


def team_actions(user: Any, *, include_closed: bool = False) -> QuerySet[ActionItem]:
    """Items serving the people the user may see, other than the user."""
    own = own_employee(user)
    if own is None:
        return ActionItem.objects.none()
    visible = employees_visible_to(user).exclude(pk=own.pk).values("pk")
    items = ActionItem.objects.filter(employee_id__in=visible)
    if not include_closed:
        items = items.filter(status__in=OPEN_STATES)
    return items.select_related("employee", "owner", "talk").order_by("due_on", "pk")


def team_plans(user: Any) -> QuerySet[ImprovementPlan]:
    own = own_employee(user)
    if own is None:
        return ImprovementPlan.objects.none()
    visible = employees_visible_to(user).exclude(pk=own.pk).values("pk")
    return (
        ImprovementPlan.objects.filter(employee_id__in=visible)
        .select_related("employee")
        .order_by("state", "-starts_on", "-pk")
    )


@dataclass(frozen=True)
class Overview:
    actions: list[ActionItem]
    plans: list[ImprovementPlan]
