"""Reading the KPI catalogue: every active employee sees their own organisation's KPIs."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from miantan.people.scopes import scope_for

from .models import Kpi


def kpis_visible_to(user: Any) -> QuerySet[Kpi]:
    """The catalogue of the user's organisation; nothing for leavers and strangers."""
    scope = scope_for(user)
    if scope.organisation_id is None or scope.employee is None or not scope.employee.is_active:
        return Kpi.objects.none()
    return Kpi.objects.filter(organisation_id=scope.organisation_id).order_by("code")
