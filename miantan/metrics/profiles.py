"""The performance profile (绩效画像) of one employee and of a department, read for a viewer.

Both go through the permission layer and are audited: `metrics.profile.viewed` for a person
(via access_employee), `metrics.department_profile.viewed` for a department (one event for the
page, not one per person, like the directory). Chart data is prepared here as plain lists, so
the page and the API show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from itertools import pairwise
from typing import Any

from django.http import Http404
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.ids import as_id
from miantan.people.enums import EmploymentStatus
from miantan.people.models import Department, Employee
from miantan.people.queries import (
    access_employee,
    departments_visible_to,
    employees_visible_to,
    under,
)
from miantan.people.scopes import scope_for

from .gaps import COMPLETION_CAP, EmployeeGaps, KpiGap, LatestGap, gaps_for, latest_gaps
from .models import AttendanceSummary, EvidenceEntry, ProjectContribution, TrainingRecord

RECENT = 10
# The department view draws one row per person; past this it stops being readable.
MAX_PEOPLE = 500
# Radar axes end here (in % of the target), so that one outlier does not shrink the rest.
RADAR_MAX = 150


@dataclass
class Profile:
    employee: Employee
    gaps: EmployeeGaps
    as_of: date
    projects: list[ProjectContribution] = field(default_factory=list)
    trainings: list[TrainingRecord] = field(default_factory=list)
    attendance: list[AttendanceSummary] = field(default_factory=list)
    evidence: list[EvidenceEntry] = field(default_factory=list)

    def chart_data(self) -> dict[str, Any]:
        return profile_chart_data(self.gaps.kpis)


def access_profile(user: Any, employee_id: Any, *, as_of: date | None = None) -> Profile:
    """The profile of an employee the user may see; 404 (audited) otherwise."""
    employee = access_employee(user, employee_id, action="metrics.profile.viewed")
    as_of = as_of or timezone.localdate()
    attendance = (
        AttendanceSummary.objects.filter(employee=employee)
        .select_related("period")
        .order_by("-period__start")[:12]
    )
    return Profile(
        employee=employee,
        gaps=gaps_for(employee, as_of=as_of),
        as_of=as_of,
        projects=list(
            ProjectContribution.objects.filter(employee=employee).order_by(
                "-finished_on", "-started_on", "-pk"
            )[:RECENT]
        ),
        trainings=list(
            TrainingRecord.objects.filter(employee=employee).order_by("-completed_on", "-pk")[
                :RECENT
            ]
        ),
        attendance=list(reversed(attendance)),
        evidence=list(
            EvidenceEntry.objects.filter(employee=employee)
            .select_related("kpi", "author")
            .order_by("-happened_on", "-pk")[:RECENT]
        ),
    )


def _name(gap: KpiGap) -> str:
    return gap.kpi.display_name(get_language() or "zh-hans")


def _radar_value(value: float | None) -> float | None:
    return None if value is None else min(float(RADAR_MAX), value)


def profile_chart_data(gaps: list[KpiGap]) -> dict[str, Any]:
    """Radar (completion %, so that every axis points outwards for better) and one trend line
    chart per KPI (actuals in the KPI's own unit)."""
    with_values = [gap for gap in gaps if gap.actual is not None]
    return {
        "legend": {
            "employee": str(_("This employee")),
            "team": str(_("Team average")),
            "target": str(_("Target")),
        },
        "radar": {
            "indicators": [{"name": _name(gap), "max": RADAR_MAX} for gap in with_values],
            "employee": [_radar_value(gap.completion) for gap in with_values],
            "team": [_radar_value(gap.team_completion) for gap in with_values],
            "target": [100 for _gap in with_values],
        },
        "trends": [
            {
                "code": gap.kpi.code,
                "name": _name(gap),
                "unit": gap.kpi.unit,
                "lower_is_better": gap.lower_is_better,
                "periods": [p.label for p in gap.points],
                "actual": [p.actual for p in gap.points],
                "team": [p.team_average for p in gap.points],
                "target": [p.target for p in gap.points],
            }
            for gap in with_values
        ],
    }


# --- the department view ----------------------------------------------------------------------


@dataclass(frozen=True)
class KpiSummary:
    """One KPI across the department: average completion, how many are below the target and
    how many are flagged."""

    code: str
    name: str
    people: int
    average_completion: float | None
    flagged: int
    below_target: int = 0
    kpi_id: int = 0

    @property
    def shortfall(self) -> float | None:
        """How far the average falls short of the target, in % of it; 0 when it is met."""
        if self.average_completion is None:
            return None
        return round(max(0.0, 100 - self.average_completion), 1)

    @property
    def surplus(self) -> float | None:
        """How far the average exceeds the target, in % of it; 0 when it falls short."""
        if self.average_completion is None:
            return None
        return round(max(0.0, self.average_completion - 100), 1)


# The heat map's colours: completion (in %) → colour, interpolated in RGB in between (as the
# chart library does), the ends held beyond them.
HEAT_SCALE = ((50.0, "#b3261e"), (90.0, "#f4d06f"), (130.0, "#1e7a3c"))
_DARK_TEXT, _LIGHT_TEXT = "#000000", "#ffffff"


def heat_colour(completion: float) -> str:
    """The background of a heat map cell, as the chart paints it."""
    (low, first), *_rest, (high, last) = HEAT_SCALE
    if completion <= low:
        return first
    if completion >= high:
        return last
    for (start, left), (end, right) in pairwise(HEAT_SCALE):
        if start <= completion <= end:
            share = (completion - start) / (end - start)
            mixed = [
                round(a + (b - a) * share) for a, b in zip(_rgb(left), _rgb(right), strict=True)
            ]
            return "#" + "".join(f"{channel:02x}" for channel in mixed)
    return last


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on the background (WCAG contrast); either way
    at least 4.5 : 1 for any background."""
    dark = contrast(background, _DARK_TEXT)
    light = contrast(background, _LIGHT_TEXT)
    return _DARK_TEXT if dark >= light else _LIGHT_TEXT


def contrast(first: str, second: str) -> float:
    """The WCAG 2 contrast ratio of two colours (#rrggbb)."""
    brighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (brighter + 0.05) / (darker + 0.05)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def completion_text(completion: float) -> str:
    """A heat map cell's number: whole per cents; the cap as "200+"."""
    if completion >= COMPLETION_CAP:
        return f"{COMPLETION_CAP:.0f}+"
    return f"{completion:.0f}"


@lru_cache(maxsize=4096)
def _heat_label(completion: float) -> tuple[str, str]:
    """A heat map cell's number and its colour; completions have one decimal and are capped,
    so there are at most a few thousand of them."""
    return completion_text(completion), text_colour(heat_colour(completion))


@dataclass
class DepartmentProfile:
    department: Department
    people: list[Employee]
    # Employee id → KPI id → the latest completion and flag.
    gaps: dict[int, dict[int, LatestGap]]
    kpis: list[KpiSummary]
    truncated: bool

    @cached_property
    def heat_rows(self) -> list[tuple[Employee, list[float | None]]]:
        """Each person with their completion per KPI of the summary (None where no KPI applies
        or nothing was recorded)."""
        ids = [summary.kpi_id for summary in self.kpis]
        rows = []
        for person in self.people:
            cells = self.gaps[person.pk]
            row = []
            for kpi_id in ids:
                cell = cells.get(kpi_id)
                row.append(None if cell is None else cell.completion)
            rows.append((person, row))
        return rows

    def heat_table(self) -> list[tuple[Employee, SafeString]]:
        """The heat map's numbers as a table row's cells: one decimal, "—" where there is none.
        Only numbers go in, so they need no escaping; joined here, as a template loop per cell
        took longer than the rest of the page at a few hundred people."""
        return [
            (
                person,
                mark_safe(  # noqa: S308
                    "".join(
                        "<td>—</td>" if value is None else f"<td>{value:.1f} %</td>"
                        for value in row
                    )
                ),
            )
            for person, row in self.heat_rows
        ]

    def chart_data(self) -> dict[str, Any]:
        cells = []
        for row, (_person, completions) in enumerate(self.heat_rows):
            for column, value in enumerate(completions):
                if value is not None:
                    text, colour = _heat_label(value)
                    cells.append(
                        {"value": [column, row, value], "text": text, "label": {"color": colour}}
                    )
        return {
            "legend": {
                "completion": str(_("Completion (%)")),
                "flagged": str(_("Flagged")),
                "below": str(_("Below target")),
                "above": str(_("Above target")),
            },
            # Below the target to the left, above it to the right in another colour: a
            # surplus is never drawn as a gap.
            "bars": {
                "kpis": [summary.name for summary in self.kpis],
                "below": [
                    None if not summary.shortfall else -summary.shortfall for summary in self.kpis
                ],
                "above": [summary.surplus or None for summary in self.kpis],
                "flagged": [summary.flagged for summary in self.kpis],
            },
            "heatmap": {
                "kpis": [summary.name for summary in self.kpis],
                "people": [person.name for person in self.people],
                "cells": cells,
                "max": COMPLETION_CAP,
                "scale": {
                    "min": HEAT_SCALE[0][0],
                    "max": HEAT_SCALE[-1][0],
                    "colors": [colour for _value, colour in HEAT_SCALE],
                },
            },
        }


_TEAM_FIELDS = (
    "id",
    "name",
    "organisation_id",
    "department_id",
    "position_id",
    "status",
    "department__id",
    "department__organisation_id",
    "department__path",
    "department__depth",
    "department__name",
    "department__name_en",
    "position__id",
    "position__name",
    "position__name_en",
)


def can_see_department_profile(user: Any, department: Department) -> bool:
    """Department heads and HR partners of a subtree containing it, and administrators."""
    scope = scope_for(user)
    if scope.employee is None or not scope.employee.is_active:
        return False
    if scope.organisation_id != department.organisation_id:
        return False
    return scope.is_admin or department.path.startswith(scope.department_paths)


def access_department_profile(
    user: Any, department_id: Any, *, as_of: date | None = None
) -> DepartmentProfile:
    """Gaps of everyone in the department subtree whom the user may see, in a fixed number of
    queries whatever the head count. 404 (audited) for anyone else."""
    pk = as_id(department_id)
    department = departments_visible_to(user).filter(pk=pk).first() if pk is not None else None
    if department is None or not can_see_department_profile(user, department):
        record(
            "metrics.department_profile.viewed",
            actor=user,
            outcome=Outcome.DENIED,
            object_type="people.department",
            object_id=str(department_id)[:64],
            organisation_id=scope_for(user).organisation_id,
        )
        raise Http404
    people = list(
        employees_visible_to(user)
        .filter(under("department__path", department.path), status=EmploymentStatus.ACTIVE)
        .select_related("department", "position")
        # What the gap analysis and the charts read: whole rows cost more to build than to
        # fetch at a few hundred people.
        .only(*_TEAM_FIELDS)
        .order_by("department__path", "name", "pk")[: MAX_PEOPLE + 1]
    )
    truncated = len(people) > MAX_PEOPLE
    people = people[:MAX_PEOPLE]
    record(
        "metrics.department_profile.viewed",
        actor=user,
        obj=department,
        organisation_id=department.organisation_id,
        data={"people": len(people)},
    )
    gaps = latest_gaps(people, as_of=as_of or timezone.localdate())
    return DepartmentProfile(
        department=department,
        people=people,
        gaps=gaps,
        kpis=_summaries(gaps.values()),
        truncated=truncated,
    )


def _summaries(all_gaps: Any) -> list[KpiSummary]:
    totals: dict[str, dict[str, Any]] = {}
    language = get_language() or "zh-hans"
    for cells in all_gaps:
        for gap in cells.values():
            entry = totals.get(gap.kpi.code)
            if entry is None:
                entry = totals[gap.kpi.code] = {
                    "kpi_id": gap.kpi.pk,
                    "name": gap.kpi.display_name(language),
                    "people": 0,
                    "sum": 0.0,
                    "n": 0,
                    "flagged": 0,
                    "below": 0,
                }
            entry["people"] += 1
            entry["flagged"] += gap.flagged
            if gap.completion is not None:
                entry["sum"] += gap.completion
                entry["n"] += 1
                entry["below"] += gap.completion < 100
    return [
        KpiSummary(
            code=code,
            kpi_id=entry["kpi_id"],
            name=entry["name"],
            people=entry["people"],
            average_completion=round(entry["sum"] / entry["n"], 1) if entry["n"] else None,
            flagged=entry["flagged"],
            below_target=entry["below"],
        )
        for code, entry in sorted(totals.items())
    ]
