"""Reading the KPI catalogue: every active employee sees their own organisation's KPIs and who
they apply to (targets per department and position are not personal data). Also where a KPI
named in a file may come from when the catalogue lacks it: the industry packs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from miantan.core.spreadsheets import header_key
from miantan.people.scopes import scope_for

from .models import Kpi, KpiAssignment
from .packs import PACK_LABELS, PACKS, PackKpi


def kpis_visible_to(user: Any) -> QuerySet[Kpi]:
    """The catalogue of the user's organisation; nothing for leavers and strangers."""
    scope = scope_for(user)
    if scope.organisation_id is None or scope.employee is None or not scope.employee.is_active:
        return Kpi.objects.none()
    return Kpi.objects.filter(organisation_id=scope.organisation_id).order_by("code")


def access_kpi(user: Any, kpi_id: Any) -> Kpi:
    """One KPI of the user's organisation, else 404 (foreign and unknown look alike)."""
    found = None
    if str(kpi_id).isdigit():
        found = kpis_visible_to(user).filter(pk=int(kpi_id)).first()
    if found is None:
        raise Http404
    return found


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


@dataclass(frozen=True)
class PackMatch:
    """A KPI of an industry pack, found by its code or one of its names."""

    pack: str
    kpi: PackKpi


@cache
def _pack_index() -> dict[str, PackMatch]:
    names: dict[str, set[PackMatch]] = {}
    codes: dict[str, PackMatch] = {}
    for key, items in PACKS.items():
        for item in items:
            match = PackMatch(key, item)
            codes.setdefault(header_key(item.code), match)
            for text in (item.name, item.name_en):
                names.setdefault(header_key(text), set()).add(match)
    # As in an import's catalogue lookup: codes win over names, a shared name is left out.
    index = {key: next(iter(found)) for key, found in names.items() if len(found) == 1}
    index.update(codes)
    return index


def pack_kpi_named(text: str) -> PackMatch | None:
    """The industry pack KPI whose code, Chinese or English name is `text` (compared as a
    header: case, spaces, "_" and "-" ignored), or None."""
    return _pack_index().get(header_key(text))


def close_kpi_names(
    text: str, catalogue: Iterable[tuple[str, str, str]], *, limit: int = 3
) -> list[str]:
    """Up to `limit` KPIs, of the catalogue (code, name, English name each) and of the packs,
    whose code or a name looks like `text`: what a file probably meant by a KPI nobody has.
    Each is named as the spelling that came closest, so a typo gets its correction."""
    spellings: dict[str, tuple[str, str]] = {}  # header key → (as written, KPI code)
    kpis = [(item.code, item.name, item.name_en) for items in PACKS.values() for item in items]
    for code, name, name_en in [*catalogue, *kpis]:
        for written in (name, code, name_en):
            if written:
                spellings.setdefault(header_key(written), (written, code))
    close = difflib.get_close_matches(header_key(text), list(spellings), n=limit * 3, cutoff=0.6)
    found: dict[str, str] = {}
    for key in close:
        written, code = spellings[key]
        found.setdefault(code, written)
    return list(found.values())[:limit]
