"""Who may create, launch and follow review cycles: HR partners whose subtrees hold every
department of the cycle, and administrators of the organisation. Nobody else sees a cycle;
the talks it creates are seen as talks (rules.can_view_talk)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rules

from miantan.people.models import Department
from miantan.people.scopes import scope_for

from .models import ReviewCycle


@rules.predicate
def can_manage_cycles(user: Any) -> bool:
    """The user may open the cycle pages at all: an active HR partner or administrator."""
    scope = scope_for(user)
    own = scope.employee
    return own is not None and own.is_active and (scope.is_admin or scope.is_hr)


@rules.predicate
def covers_departments(user: Any, departments: Iterable[Department]) -> bool:
    """Every department is of the user's organisation and, unless the user administers it,
    within one of the user's HR subtrees. An empty choice covers nothing."""
    scope = scope_for(user)
    own = scope.employee
    chosen = list(departments)
    if not chosen or own is None or not own.is_active:
        return False
    if any(department.organisation_id != own.organisation_id for department in chosen):
        return False
    if scope.is_admin:
        return True
    return bool(scope.hr_paths) and all(
        department.path.startswith(scope.hr_paths) for department in chosen
    )


@rules.predicate
def can_manage_cycle(user: Any, cycle: ReviewCycle) -> bool:
    """Reads the cycle's departments (prefetch them to spare the query)."""
    return bool(
        can_manage_cycles.test(user)
        and cycle.organisation_id == scope_for(user).organisation_id
        and covers_departments.test(user, cycle.departments.all())
    )
