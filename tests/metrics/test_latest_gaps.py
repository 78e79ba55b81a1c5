"""The department overview's gap numbers (latest_gaps, computed in SQL): the same definitions
as the full gap analysis, pinned on edge cases with numbers worked out by hand."""

from __future__ import annotations

import pytest

from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.gaps import (
    DEFAULT_PERIODS,
    GapRule,
    LatestGap,
    RuleKind,
    gaps_for_employees,
    latest_gaps,
)
from miantan.metrics.models import Kpi
from miantan.people.models import Employee
from tests.factories import EmployeeFactory
from tests.metrics.kpi_builders import AS_OF, assign, kpi, months, values
from tests.personas import Hospital

ONLY_COMPLETION = [GapRule("completion", RuleKind.COMPLETION_BELOW, 80)]
ONLY_TEAM = [GapRule("team", RuleKind.WORSE_THAN_TEAM, 15)]


def only_streak(threshold: int) -> list[GapRule]:
    return [GapRule("trend", RuleKind.WORSENING_STREAK, threshold)]


def doctor(hospital: Hospital, name: str) -> Employee:
    employee = EmployeeFactory(
        department=hospital.cardiology, position=hospital.doctor_li.position, name=name
    )
    return loaded(employee)


def loaded(employee: Employee) -> Employee:
    return Employee.objects.select_related("department", "position").get(pk=employee.pk)


def latest(employee: Employee, indicator: Kpi, *, periods: int = DEFAULT_PERIODS) -> LatestGap:
    """The overview's cell, checked against the full analysis of the same person and KPI."""
    person = loaded(employee)
    cell = latest_gaps([person], periods=periods, as_of=AS_OF)[person.pk][indicator.pk]
    full = gaps_for_employees([person], periods=periods, as_of=AS_OF)[person.pk].by_code()
    gap = full[indicator.code]
    assert (cell.completion, cell.flagged) == (gap.completion, bool(gap.flags))
    return cell


@pytest.fixture
def satisfaction(hospital: Hospital) -> Kpi:
    indicator = kpi(hospital.organisation, "patient_satisfaction", "患者满意度", unit="%")
    assign(indicator, 90, position=hospital.doctor_li.position)
    return indicator


@pytest.fixture
def defect_rate(hospital: Hospital) -> Kpi:
    indicator = kpi(hospital.organisation, "defect_rate", "次品率", direction=Direction.LOWER)
    assign(indicator, 2.0, department=hospital.cardiology)
    return indicator


def test_lower_is_better_with_a_zero_actual_meets_the_target(
    hospital: Hospital, defect_rate: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_COMPLETION
    values(hospital.doctor_li, defect_rate, months(hospital.organisation, 2), [1.0, 0])

    cell = latest(hospital.doctor_li, defect_rate)

    # target / actual with an actual of zero: any target is met, at the cap.
    assert (cell.completion, cell.flagged) == (200.0, False)


def test_lower_is_better_above_the_target(hospital: Hospital, defect_rate: Kpi, settings) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_COMPLETION
    values(hospital.doctor_li, defect_rate, months(hospital.organisation, 1), [3.2])

    cell = latest(hospital.doctor_li, defect_rate)

    assert (cell.completion, cell.flagged) == (62.5, True)  # 2 / 3.2 = 62.5 %


def test_completion_is_capped(hospital: Hospital, satisfaction: Kpi) -> None:
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 1), [270])

    # 270 / 90 = 300 %, shown as the cap.
    assert latest(hospital.doctor_li, satisfaction).completion == 200.0


def test_personal_target_wins_over_the_assignment(hospital: Hospital, satisfaction: Kpi) -> None:
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 1), [72], targets=[96])

    assert latest(hospital.doctor_li, satisfaction).completion == 75.0  # 72 / 96


def test_team_average_leaves_out_the_employee(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_TEAM
    period = months(hospital.organisation, 1)
    values(hospital.doctor_li, satisfaction, period, [80])
    values(doctor(hospital, "同科医生甲"), satisfaction, period, [100])
    values(doctor(hospital, "同科医生乙"), satisfaction, period, [90])

    # The colleagues average 95: 80 is 15.8 % worse. With Li's own value the average would be
    # 90, and 80 only 11.1 % worse: not flagged.
    assert latest(hospital.doctor_li, satisfaction).flagged is True


def test_team_flag_stops_short_of_the_threshold(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_TEAM
    period = months(hospital.organisation, 1)
    values(hospital.doctor_li, satisfaction, period, [86])
    values(doctor(hospital, "同科医生甲"), satisfaction, period, [100])

    # 14 % worse than the colleague's 100.
    assert latest(hospital.doctor_li, satisfaction).flagged is False


def test_alone_in_the_team_there_is_no_team_flag(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_TEAM
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 1), [10])
    # The same position elsewhere and another position here are not the team.
    values(hospital.zhao, satisfaction, months(hospital.organisation, 1), [90])
    values(hospital.head, satisfaction, months(hospital.organisation, 1), [90])

    cell = latest(hospital.doctor_li, satisfaction)

    assert (cell.completion, cell.flagged) == (11.1, False)


def test_missing_periods_take_the_latest_recorded_one(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = only_streak(1)
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 4), [80, None, 72, None])

    cell = latest(hospital.doctor_li, satisfaction)

    # May's 72 against 90; the change from 80 to 72 skips the empty April and is worse.
    assert (cell.completion, cell.flagged) == (80.0, True)


def test_team_average_is_taken_in_the_latest_recorded_period(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = ONLY_TEAM
    window = months(hospital.organisation, 2)
    values(hospital.doctor_li, satisfaction, window, [80, None])
    # May: 100 (Li 20 % worse); June: 80, but Li has nothing in June.
    values(doctor(hospital, "同科医生甲"), satisfaction, window, [100, 80])

    assert latest(hospital.doctor_li, satisfaction).flagged is True


@pytest.mark.parametrize(("threshold", "flagged"), [(3, True), (4, False)])
def test_streak_counts_the_most_recent_worse_changes(
    hospital: Hospital, satisfaction: Kpi, settings, threshold: int, flagged: bool
) -> None:
    settings.MIANTAN_GAP_RULES = only_streak(threshold)
    series = [90, 85, 88, 80, 75, 70]  # -5, +3, then -8, -5, -5: a streak of 3
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 6), series)

    assert latest(hospital.doctor_li, satisfaction).flagged is flagged


def test_streak_of_a_lower_is_better_kpi_counts_rises(
    hospital: Hospital, defect_rate: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = only_streak(2)
    window = months(hospital.organisation, 4)
    values(hospital.doctor_li, defect_rate, window, [1.0, 1.5, 1.5, 1.8])

    # 1.5 → 1.5 is not worse: only the last rise counts.
    assert latest(hospital.doctor_li, defect_rate).flagged is False


def test_streak_is_counted_in_the_window_only(
    hospital: Hospital, satisfaction: Kpi, settings
) -> None:
    settings.MIANTAN_GAP_RULES = only_streak(3)
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 5), [90, 85, 80, 75, 70])

    # Four falls in a row, of which two fall in a window of the last three periods.
    assert latest(hospital.doctor_li, satisfaction, periods=3).flagged is False
    assert latest(hospital.doctor_li, satisfaction, periods=5).flagged is True


def test_without_values_the_kpi_is_assigned_but_empty(
    hospital: Hospital, satisfaction: Kpi
) -> None:
    cell = latest(hospital.doctor_li, satisfaction)

    assert (cell.kpi.code, cell.completion, cell.flagged) == ("patient_satisfaction", None, False)


def test_the_period_kind_of_the_winning_assignment_counts(hospital: Hospital) -> None:
    indicator = kpi(hospital.organisation, "visits", "门诊量")
    assign(indicator, 100, department=hospital.cardiology, kind=PeriodKind.MONTH)
    values(hospital.doctor_li, indicator, months(hospital.organisation, 1), [50])
    quarterly = kpi(hospital.organisation, "quarterly", "季度指标")
    assign(quarterly, 100, department=hospital.cardiology, kind=PeriodKind.QUARTER)
    # Only monthly values recorded: the quarterly KPI has none in its window.
    values(hospital.doctor_li, quarterly, months(hospital.organisation, 1), [50])

    assert latest(hospital.doctor_li, indicator).completion == 50.0
    assert latest(hospital.doctor_li, quarterly).completion is None


@pytest.mark.parametrize(("people", "kpis", "periods"), [(1, 1, 1), (12, 7, 12)])
def test_query_count_does_not_grow(
    hospital: Hospital, django_assert_num_queries, people: int, kpis: int, periods: int
) -> None:
    staff = [loaded(hospital.doctor_li)] + [doctor(hospital, f"医生{n}") for n in range(people - 1)]
    window = months(hospital.organisation, periods)
    for n in range(kpis):
        indicator = kpi(hospital.organisation, f"k{n}", f"指标{n}")
        assign(indicator, 100, department=hospital.cardiology)
        for i, employee in enumerate(staff):
            values(employee, indicator, window, [80 + i - p for p in range(periods)])

    with django_assert_num_queries(4):
        result = latest_gaps(staff, periods=periods, as_of=AS_OF)

    assert len(result[hospital.doctor_li.pk]) == kpis
    full = gaps_for_employees(staff, periods=periods, as_of=AS_OF)
    for employee in staff:
        expected = {g.kpi.pk: (g.completion, bool(g.flags)) for g in full[employee.pk].kpis}
        got = {k: (c.completion, c.flagged) for k, c in result[employee.pk].items()}
        assert got == expected
