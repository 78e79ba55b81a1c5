"""Small helpers that put KPIs, targets and monthly values in place for the gap tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from miantan.metrics.enums import Aggregation, Direction, PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment, KpiValue, Period
from miantan.metrics.periods import period_for
from miantan.people.models import Department, Employee, Organisation, Position

AS_OF = date(2026, 6, 15)


def kpi(
    organisation: Organisation,
    code: str,
    name: str,
    *,
    direction: str = Direction.HIGHER,
    name_en: str = "",
    unit: str = "",
    decimals: int = 1,
) -> Kpi:
    return Kpi.objects.create(
        organisation=organisation,
        code=code,
        name=name,
        name_en=name_en or code,
        unit=unit,
        direction=direction,
        aggregation=Aggregation.AVERAGE,
        decimals=decimals,
    )


def assign(
    target_kpi: Kpi,
    target: float,
    *,
    department: Department | None = None,
    position: Position | None = None,
    kind: str = PeriodKind.MONTH,
    weight: float = 1,
) -> KpiAssignment:
    return KpiAssignment.objects.create(
        organisation=target_kpi.organisation,
        kpi=target_kpi,
        department=department,
        position=position,
        period_kind=kind,
        target=target,
        weight=weight,
    )


def months(organisation: Organisation, count: int, *, last: date = AS_OF) -> list[Period]:
    """`count` monthly periods ending with the month of `last`, oldest first."""
    periods = []
    year, month = last.year, last.month
    for _ in range(count):
        periods.append(period_for(organisation, PeriodKind.MONTH, date(year, month, 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(periods))


def values(
    employee: Employee,
    target_kpi: Kpi,
    periods: Sequence[Period],
    series: Sequence[float | None],
    *,
    targets: Sequence[float | None] | None = None,
) -> None:
    """One value per period (None leaves the period empty)."""
    rows = [
        KpiValue(
            organisation_id=employee.organisation_id,
            employee=employee,
            kpi=target_kpi,
            period=period,
            value=value,
            target=targets[i] if targets else None,
        )
        for i, (period, value) in enumerate(zip(periods, series, strict=True))
        if value is not None
    ]
    KpiValue.objects.bulk_create(rows)
