"""Periods: the month, quarter or year containing a day, and period labels as people write them."""

from __future__ import annotations

from datetime import date

import pytest

from miantan.metrics.enums import PeriodKind
from miantan.metrics.models import Period
from miantan.metrics.periods import PeriodLabelError, parse_period_label, period_for
from tests.personas import Hospital


@pytest.mark.parametrize(
    ("kind", "day", "start", "end", "label"),
    [
        (PeriodKind.MONTH, date(2026, 11, 17), date(2026, 11, 1), date(2026, 12, 1), "2026-11"),
        (PeriodKind.MONTH, date(2026, 12, 31), date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        (PeriodKind.QUARTER, date(2026, 11, 17), date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        (PeriodKind.QUARTER, date(2026, 2, 1), date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (PeriodKind.YEAR, date(2026, 11, 17), date(2026, 1, 1), date(2027, 1, 1), "2026"),
    ],
)
def test_period_for_finds_the_period_containing_the_day(
    hospital: Hospital, kind: str, day: date, start: date, end: date, label: str
) -> None:
    period = period_for(hospital.organisation, kind, day)

    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, label)


def test_period_for_reuses_an_existing_period(hospital: Hospital) -> None:
    first = period_for(hospital.organisation, PeriodKind.MONTH, date(2026, 11, 3))
    second = period_for(hospital.organisation, PeriodKind.MONTH, date(2026, 11, 28))

    assert first.pk == second.pk
    assert Period.objects.count() == 1


@pytest.mark.parametrize(
    ("text", "kind", "start"),
    [
        ("2026-11", PeriodKind.MONTH, date(2026, 11, 1)),
        ("2026/11", PeriodKind.MONTH, date(2026, 11, 1)),
        ("2026.3", PeriodKind.MONTH, date(2026, 3, 1)),
        ("202611", PeriodKind.MONTH, date(2026, 11, 1)),
        ("2026年11月", PeriodKind.MONTH, date(2026, 11, 1)),
        ("２０２６年１１月", PeriodKind.MONTH, date(2026, 11, 1)),
        ("２０２６－１１", PeriodKind.MONTH, date(2026, 11, 1)),
        ("2026-Q4", PeriodKind.QUARTER, date(2026, 10, 1)),
        ("2026Q4", PeriodKind.QUARTER, date(2026, 10, 1)),
        ("2026 q2", PeriodKind.QUARTER, date(2026, 4, 1)),
        ("2026年第4季度", PeriodKind.QUARTER, date(2026, 10, 1)),
        ("2026年第一季度", PeriodKind.QUARTER, date(2026, 1, 1)),
        ("２０２６Ｑ３", PeriodKind.QUARTER, date(2026, 7, 1)),
        ("2026", PeriodKind.YEAR, date(2026, 1, 1)),
        ("2026年", PeriodKind.YEAR, date(2026, 1, 1)),
        (" 2026 ", PeriodKind.YEAR, date(2026, 1, 1)),
    ],
)
def test_parse_period_label_reads_common_spellings(text: str, kind: str, start: date) -> None:
    assert parse_period_label(text) == (kind, start)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-Q5", "Nov 2026", "26-11", "2026年13月"])
def test_parse_period_label_refuses_anything_else(text: str) -> None:
    with pytest.raises(PeriodLabelError):
        parse_period_label(text)
