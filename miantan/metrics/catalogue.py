"""Reading the KPI catalogue: every active employee sees their own organisation's KPIs and who
they apply to (targets per department and position are not personal data)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from miantan.people.scopes import scope_for

from .models import Kpi, KpiAssignment
from .packs import PACK_LABELS, PACKS


def kpis_visible_to(user: Any) -> QuerySet[Kpi]:
    """The catalogue of the user's organisation; nothing for leavers and strangers."""
    scope = scope_for(user)
    if scope.organisation_id is None or scope.employee is None or not scope.employee.is_active:
        return Kpi.objects.none()
    return Kpi.objects.filter(organisation_id=scope.organisation_id).order_by("code")


def assignments_visible_to(user: Any) -> QuerySet[KpiAssignment]:
    """The KPI assignments of the user's organisation, with their KPI, department and position,
    in a stable order (KPI, department tree, position, period kind)."""
    scope = scope_for(user)
    if scope.organisation_id is None or scope.employee is None or not scope.employee.is_active:
        return KpiAssignment.objects.none()
    return (
        KpiAssignment.objects.filter(organisation_id=scope.organisation_id)
        .select_related("kpi", "department", "position")
        .order_by("kpi__code", "department__path", "position__name", "period_kind", "pk")
    )


def access_assignment(user: Any, assignment_id: Any) -> KpiAssignment:
    """One assignment of the user's organisation, else 404 (foreign and unknown look alike)."""
    found = None
    if str(assignment_id).isdigit():
        found = assignments_visible_to(user).filter(pk=int(assignment_id)).first()
    if found is None:
        raise Http404
    return found


@dataclass(frozen=True)
class PackStatus:
    key: str
    label: Any
    kpi_count: int
    # How many of the pack's KPIs the catalogue holds (by code).
    present: int

    @property
    def loaded(self) -> bool:
        return self.present == self.kpi_count

    @property
    def partly_loaded(self) -> bool:
        return 0 < self.present < self.kpi_count


def pack_statuses(kpis: Iterable[Kpi]) -> list[PackStatus]:
    """Every industry pack, with how much of it a catalogue (an organisation's KPIs) holds."""
    codes = {kpi.code for kpi in kpis}
    return [
        PackStatus(
            key=key,
            label=PACK_LABELS[key],
            kpi_count=len(items),
            present=sum(1 for item in items if item.code in codes),
        )
        for key, items in PACKS.items()
    ]
