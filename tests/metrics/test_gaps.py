"""Gap analysis: completion, team averages, position requirements, trends and weakness flags."""

from __future__ import annotations

import pytest
from django.utils import translation

from miantan.metrics.enums import Direction, PeriodKind
from miantan.metrics.gaps import GapRule, completion, gaps_for, gaps_for_employees, trend
from miantan.people.models import Employee
from tests.factories import EmployeeFactory
from tests.metrics.kpi_builders import AS_OF, assign, kpi, months, values
from tests.personas import Hospital


def doctor(hospital: Hospital, name: str, department=None) -> Employee:
    employee = EmployeeFactory(
        department=department or hospital.cardiology,
        position=hospital.doctor_li.position,
        name=name,
    )
    return Employee.objects.select_related("department", "position").get(pk=employee.pk)


@pytest.fixture
def satisfaction(hospital: Hospital):
    indicator = kpi(hospital.organisation, "patient_satisfaction", "患者满意度", unit="%")
    assign(indicator, 90, position=hospital.doctor_li.position)
    return indicator


def test_gaps_completion_flag_carries_the_rule_and_the_numbers(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 3)
    values(hospital.doctor_li, satisfaction, periods, [70, 65, 60])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert (gap.actual, gap.target, gap.completion) == (60.0, 90.0, 66.7)
    flag = next(f for f in gap.flags if f.rule_id == "completion")
    with translation.override("en"):
        assert flag.description == "Completion below 80 % of the target"
    assert flag.numbers == {
        "period": "2026-06",
        "completion": 66.7,
        "actual": 60.0,
        "target": 90.0,
        "threshold": 80,
    }


def test_gaps_team_average_is_same_department_and_same_position(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 1)
    values(hospital.doctor_li, satisfaction, periods, [60])
    values(doctor(hospital, "同科医生甲"), satisfaction, periods, [85])
    values(doctor(hospital, "同科医生乙"), satisfaction, periods, [95])
    # Another position in the same department, and the same position elsewhere: not the team.
    values(hospital.head, satisfaction, periods, [10])
    values(hospital.zhao, satisfaction, periods, [10])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    # The colleagues' average: the employee's own value is not part of the yardstick.
    assert gap.team_average == pytest.approx(90.0)
    assert gap.latest.team_size == 2
    assert gap.diff_team == pytest.approx(-30.0)
    assert gap.diff_team_pct == -33.3
    flag = next(f for f in gap.flags if f.rule_id == "team")
    assert flag.numbers["worse_pct"] == 33.3
    assert flag.numbers["team_average"] == pytest.approx(90.0)
    with translation.override("en"):
        assert flag.description == "At least 15 % worse than the team average"


def test_gaps_no_team_average_for_someone_alone_in_the_team(hospital: Hospital, satisfaction):
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 1), [60])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert (gap.team_average, gap.latest.team_size) == (None, 0)
    assert "team" not in {f.rule_id for f in gap.flags}


def test_gaps_no_team_flag_when_close_to_the_team(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 1)
    values(hospital.doctor_li, satisfaction, periods, [88])
    values(doctor(hospital, "同科医生甲"), satisfaction, periods, [92])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert [f.rule_id for f in gap.flags] == []


@pytest.fixture
def defect_rate(hospital: Hospital):
    indicator = kpi(hospital.organisation, "defect_rate", "次品率", direction=Direction.LOWER)
    assign(indicator, 2.0, department=hospital.cardiology)
    return indicator


def test_gaps_lower_is_better_kpi_is_flagged_when_it_rises(hospital: Hospital, defect_rate):
    periods = months(hospital.organisation, 4)
    values(hospital.doctor_li, defect_rate, periods, [1.0, 1.5, 2.2, 3.0])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["defect_rate"]

    assert gap.completion == 66.7  # target 2.0 / actual 3.0
    assert gap.trend.direction == "worsening"
    assert gap.trend.streak == 3
    assert {f.rule_id for f in gap.flags} == {"completion", "trend"}
    streak = next(f for f in gap.flags if f.rule_id == "trend")
    assert streak.numbers["values"] == "1 → 1.5 → 2.2 → 3"


def test_gaps_lower_is_better_kpi_is_not_flagged_when_it_falls(hospital: Hospital, defect_rate):
    periods = months(hospital.organisation, 4)
    values(hospital.doctor_li, defect_rate, periods, [3.0, 2.2, 1.5, 1.0])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["defect_rate"]

    assert gap.completion == 200.0  # capped: half the allowed defect rate
    assert gap.trend.direction == "improving"
    assert gap.trend.streak == 0
    assert gap.flags == []


def test_gaps_lower_is_better_kpi_worse_than_team_when_above_it(hospital: Hospital, defect_rate):
    periods = months(hospital.organisation, 1)
    values(hospital.doctor_li, defect_rate, periods, [1.8])
    values(doctor(hospital, "同科医生甲"), defect_rate, periods, [1.0])
    values(doctor(hospital, "同科医生乙"), defect_rate, periods, [1.0])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["defect_rate"]

    assert gap.team_average == pytest.approx(1.0)
    assert gap.diff_team_pct == -80.0
    assert [f.rule_id for f in gap.flags] == ["team"]


def test_gaps_higher_is_better_kpi_is_flagged_when_it_falls(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 4)
    values(hospital.doctor_li, satisfaction, periods, [99, 97, 95, 93])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert gap.trend.streak == 3
    assert [f.rule_id for f in gap.flags] == ["trend"]


def test_gaps_most_specific_assignment_wins(hospital: Hospital):
    indicator = kpi(hospital.organisation, "outpatient_visits", "门诊量")
    position = hospital.doctor_li.position
    assign(indicator, 300, department=hospital.internal_medicine)
    assign(indicator, 400, position=position)
    assign(indicator, 500, department=hospital.cardiology, position=position)
    values(hospital.doctor_li, indicator, months(hospital.organisation, 1), [450])

    li = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["outpatient_visits"]
    nurse = gaps_for(hospital.nurse_wang, as_of=AS_OF).by_code()["outpatient_visits"]
    zhao = gaps_for(hospital.zhao, as_of=AS_OF).by_code()["outpatient_visits"]

    assert (li.target, li.completion) == (500.0, 90.0)
    assert li.position_target == 400.0  # the position's general requirement
    assert li.diff_position == 50.0
    assert li.meets_position is True
    # The department assignment of 内科 reaches 心内科护理组 below it; 急诊科 gets the position's.
    assert nurse.target == 300.0
    assert zhao.target == 400.0
    assert "outpatient_visits" not in gaps_for(hospital.executive, as_of=AS_OF).by_code()


def test_gaps_personal_target_overrides_the_assignment(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 2)
    values(hospital.doctor_li, satisfaction, periods, [80, 80], targets=[None, 80])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert [p.target for p in gap.points] == [90.0, 80.0]
    assert gap.completion == 100.0


def test_gaps_window_is_the_last_n_periods_up_to_the_day(hospital: Hospital, satisfaction):
    periods = months(hospital.organisation, 8)
    values(hospital.doctor_li, satisfaction, periods, [10, 20, 30, 40, 50, 60, 70, 80])

    gap = gaps_for(hospital.doctor_li, periods=3, as_of=periods[6].start).by_code()[
        "patient_satisfaction"
    ]

    assert [p.actual for p in gap.points] == [50.0, 60.0, 70.0]


def test_gaps_uses_the_configured_rules(hospital: Hospital, satisfaction, settings):
    settings.MIANTAN_GAP_RULES = [GapRule("strict", "completion_below", 99)]
    values(hospital.doctor_li, satisfaction, months(hospital.organisation, 1), [85])

    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert [(f.rule_id, f.numbers["completion"]) for f in gap.flags] == [("strict", 94.4)]


def test_gaps_no_values_no_flags(hospital: Hospital, satisfaction):
    gap = gaps_for(hospital.doctor_li, as_of=AS_OF).by_code()["patient_satisfaction"]

    assert (gap.actual, gap.completion, gap.flags) == (None, None, [])


def test_completion_is_direction_aware() -> None:
    assert completion(45, 50, lower_is_better=False) == 90.0
    assert completion(2.5, 2.0, lower_is_better=True) == 80.0
    assert completion(0, 2.0, lower_is_better=True) == 200.0
    assert completion(10, 0, lower_is_better=False) is None


def test_trend_is_direction_aware() -> None:
    assert trend([1, 2, 3], lower_is_better=False).direction == "improving"
    assert trend([1, 2, 3], lower_is_better=True).direction == "worsening"
    assert trend([5, 5, 5], lower_is_better=True).direction == "stable"
    assert trend([5, None, 4, 3], lower_is_better=False).streak == 2
    assert trend([5], lower_is_better=False).direction == ""


def _team(hospital: Hospital, people: int, kpis: int, periods: int) -> list[Employee]:
    staff = [hospital.doctor_li] + [doctor(hospital, f"医生{n}") for n in range(people - 1)]
    window = months(hospital.organisation, periods)
    for n in range(kpis):
        indicator = kpi(hospital.organisation, f"k{n}", f"指标{n}")
        assign(indicator, 100, department=hospital.cardiology, kind=PeriodKind.MONTH)
        for i, employee in enumerate(staff):
            values(employee, indicator, window, [80 + i + p for p in range(periods)])
    return staff


@pytest.mark.parametrize(("people", "kpis", "periods"), [(1, 1, 1), (12, 7, 12)])
def test_gaps_query_count_does_not_grow(
    hospital: Hospital, django_assert_num_queries, people: int, kpis: int, periods: int
):
    staff = _team(hospital, people, kpis, periods)

    with django_assert_num_queries(4):
        result = gaps_for_employees(staff, periods=periods, as_of=AS_OF)

    assert len(result[hospital.doctor_li.pk].kpis) == kpis
    assert len(result[hospital.doctor_li.pk].kpis[0].points) == periods
