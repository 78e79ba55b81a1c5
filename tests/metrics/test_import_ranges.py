"""KPI values checked against their KPI's valid range, per cent KPIs given as fractions, and
the counts of an import (rows, values, people). Run on SQLite and PostgreSQL: the staging
table that multiplies fractions differs between the two."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from openpyxl import Workbook

from miantan.metrics.importing import ImportOutcome, import_values, import_values_file
from miantan.metrics.models import Kpi, KpiAssignment, KpiValue, Period
from miantan.metrics.packs import load_pack
from tests.personas import Hospital

HEADER = ["工号", "指标", "期间", "实际值", "目标值"]
# Spreadsheet rows 2 to 7: the sixth data row is spreadsheet row 7.
PEOPLE = ["H0010", "H0011", "H0012", "H0013", "H0020", "H0001"]


@pytest.fixture
def kpis(hospital: Hospital) -> dict[str, Kpi]:
    loaded = load_pack(hospital.organisation, "hospital", actor=None)
    loaded += load_pack(hospital.organisation, "manufacturing", actor=None)
    return {kpi.code: kpi for kpi in loaded}


def xlsx(rows: list[list[Any]], percent_columns: tuple[int, ...] = ()) -> io.BytesIO:
    """A workbook of `rows`; the cells of `percent_columns` (0-based) below the header are
    formatted as percentages, as Excel does when someone types 92%."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    for column in percent_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "0%"
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def satisfaction_rows(values: list[Any], kpi: str = "患者满意度") -> list[list[Any]]:
    return [HEADER] + [
        [PEOPLE[index], kpi, "2026-11", value, None] for index, value in enumerate(values)
    ]


def run(hospital: Hospital, stream: io.BytesIO, language: str = "zh-hans") -> ImportOutcome:
    with translation.override(language):
        outcome, _file = import_values_file(
            hospital.organisation, stream, name="kpi.xlsx", actor=hospital.hr_partner.user
        )
    return outcome


def located(hospital: Hospital, stream: io.BytesIO) -> list[tuple[int | None, str, str]]:
    """The problems as the report shows them: row, the file's column header, message."""
    outcome, values_file = import_values_file(
        hospital.organisation, stream, name="kpi.xlsx", actor=hospital.hr_partner.user
    )
    assert not outcome.applied
    return [(e.row, e.column, e.message) for e in outcome.row_errors(values_file)]


def stored(kpi: Kpi) -> dict[str, Decimal]:
    return dict(KpiValue.objects.filter(kpi=kpi).values_list("employee__employee_number", "value"))


# --- out of range -----------------------------------------------------------------------------


def test_import_refuses_120_per_cent_naming_the_row_and_the_range(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    errors = located(hospital, xlsx(satisfaction_rows([91, 88, 95, 79, 90, 120])))

    assert errors == [(7, "实际值", "患者满意度：120 超出有效范围 0–100。")]
    assert not KpiValue.objects.exists()
    assert not Period.objects.exists()


def test_import_names_the_range_in_english(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([91, "120%"])), language="en")

    assert [p.message for p in outcome.problems] == [
        "Patient satisfaction: 120% is outside the valid range 0–100."
    ]


def test_import_refuses_a_negative_count(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([12, -3], kpi="surgeries")), language="en")

    assert [(p.row, p.message) for p in outcome.problems] == [
        (3, "Surgeries: -3 is outside the valid range ≥ 0.")
    ]


def test_import_checks_the_target_against_the_range(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    rows = satisfaction_rows([91])
    rows[1][4] = 105

    errors = located(hospital, xlsx(rows))

    assert [(row, column) for row, column, _message in errors] == [(2, "目标值")]


def test_import_names_every_row_out_of_range_and_other_problems_too(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    rows = satisfaction_rows([101, 90, 130])
    rows[3][0] = "H9999"

    errors = located(hospital, xlsx(rows))

    assert [(row, column) for row, column, _message in errors] == [
        (2, "实际值"),
        (4, "工号"),
        (4, "实际值"),
    ]


def test_import_follows_a_range_set_for_the_kpi(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    Kpi.objects.filter(pk=kpis["surgeries"].pk).update(min_value=1, max_value=40)

    errors = located(hospital, xlsx(satisfaction_rows([1, 40, 41], kpi="surgeries")))

    assert [message for _row, _column, message in errors] == ["手术量：41 超出有效范围 1–40。"]


def test_import_takes_any_number_for_a_kpi_without_a_range(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    Kpi.objects.filter(pk=kpis["surgeries"].pk).update(min_value=None, max_value=None)

    outcome = run(hospital, xlsx(satisfaction_rows([-5, 10**6], kpi="surgeries")))

    assert outcome.applied


# --- fractions in a per cent KPI --------------------------------------------------------------


def test_import_reads_a_column_of_fractions_as_per_cent_and_says_so(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([0.92, 0.875, 1, 0.6])))

    assert outcome.applied, outcome.problems
    assert stored(kpis["patient_satisfaction"]) == {
        "H0010": Decimal("92"),
        "H0011": Decimal("87.5"),
        "H0012": Decimal("100"),
        "H0013": Decimal("60"),
    }
    assert outcome.notes == ["患者满意度：按小数读取，0.92 → 92%（共 4 个数值）。"]
    assert "按小数读取" in outcome.message()


def test_import_says_in_english_how_fractions_were_read(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([0.92, 0.88])), language="en")

    assert outcome.notes == ["Patient satisfaction: read as fractions, 0.92 → 92 % (2 numbers)."]


def test_import_converts_fraction_targets_with_the_values(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    rows = satisfaction_rows([0.92, 0.8])
    rows[1][4] = 0.95
    rows[2][4] = 1

    outcome = run(hospital, xlsx(rows))

    assert outcome.applied, outcome.problems
    targets = dict(
        KpiValue.objects.values_list("employee__employee_number", "target").order_by("pk")
    )
    assert targets == {"H0010": Decimal("95"), "H0011": Decimal("100")}


def test_import_keeps_every_decimal_of_a_fraction(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([0.92345, 0.5])))

    assert outcome.applied, outcome.problems
    assert stored(kpis["patient_satisfaction"])["H0010"] == Decimal("92.345")


def test_reimporting_fractions_changes_nothing(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    run(hospital, xlsx(satisfaction_rows([0.92, 0.875])))

    again = run(hospital, xlsx(satisfaction_rows([0.92, 0.875])))
    as_per_cent = run(hospital, xlsx(satisfaction_rows([92, "87.5%"])))

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (as_per_cent.created, as_per_cent.updated, as_per_cent.unchanged) == (0, 0, 2)


def test_a_column_with_numbers_above_1_is_read_as_written(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([0.5, 92, 88])))

    assert outcome.applied
    assert stored(kpis["patient_satisfaction"])["H0010"] == Decimal("0.5")
    assert outcome.notes == []


def test_a_column_of_whole_numbers_0_and_1_is_read_as_written(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([0, 1, 1])))

    assert outcome.applied
    assert set(stored(kpis["patient_satisfaction"]).values()) == {Decimal(0), Decimal(1)}
    assert outcome.notes == []


def test_small_per_cents_next_to_a_larger_target_are_read_as_written(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    defect_rate = kpis["defect_rate"]
    KpiAssignment.objects.create(
        organisation=hospital.organisation,
        kpi=defect_rate,
        department=hospital.root,
        target=2,
    )

    outcome = run(hospital, xlsx(satisfaction_rows([0.3, 0.8, 0.25], kpi="次品率")))

    assert outcome.applied
    assert stored(defect_rate)["H0010"] == Decimal("0.3")
    assert outcome.notes == [
        "次品率：数值都在 0 到 1 之间，但与目标 2% 相比是较小的百分数，按原样读取（0.3 即 0.3%）。"
    ]


def test_fractions_far_below_the_target_are_read_as_per_cent(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    satisfaction = kpis["patient_satisfaction"]
    KpiAssignment.objects.create(
        organisation=hospital.organisation, kpi=satisfaction, department=hospital.root, target=90
    )

    outcome = run(hospital, xlsx(satisfaction_rows([0.92, 0.85])))

    assert stored(satisfaction)["H0011"] == Decimal("85")
    assert len(outcome.notes) == 1


def test_per_cent_strings_and_percentage_cells_are_not_fractions(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    cells = xlsx(satisfaction_rows([0.92, 0.885, 1]), percent_columns=(3,))
    strings = xlsx(satisfaction_rows(["0.5%", "92%", "８８％"], kpi="产能利用率"))

    from_cells, from_strings = run(hospital, cells), run(hospital, strings)

    assert from_cells.applied and from_strings.applied
    assert set(stored(kpis["patient_satisfaction"]).values()) == {
        Decimal(92),
        Decimal("88.5"),
        Decimal(100),
    }
    assert stored(kpis["capacity_utilisation"])["H0010"] == Decimal("0.5")
    assert from_cells.notes == from_strings.notes == []


def test_a_percentage_cell_of_120_per_cent_is_refused(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    errors = located(hospital, xlsx(satisfaction_rows([0.9, 1.2]), percent_columns=(3,)))

    assert [message for _row, _column, message in errors] == [
        "患者满意度：120% 超出有效范围 0–100。"
    ]


def test_a_fraction_outside_the_range_names_its_reading(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    Kpi.objects.filter(pk=kpis["patient_satisfaction"].pk).update(min_value=50)

    outcome = run(hospital, xlsx(satisfaction_rows([0.92, 0.3])), language="en")

    assert [(p.row, p.message) for p in outcome.problems] == [
        (
            3,
            "Patient satisfaction: 0.3, read as a fraction (30 %), is outside the valid range "
            "50–100.",
        )
    ]
    assert outcome.notes  # the report says how the column was read


def test_a_small_number_read_as_written_is_checked_as_written(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    Kpi.objects.filter(pk=kpis["patient_satisfaction"].pk).update(min_value=50)

    outcome = run(hospital, xlsx(satisfaction_rows([0.92, 95])), language="en")

    assert [(p.row, p.message) for p in outcome.problems] == [
        (2, "Patient satisfaction: 0.92 is outside the valid range 50–100.")
    ]


def test_fractions_of_one_kpi_leave_another_kpi_alone(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    rows = satisfaction_rows([0.92, 0.8])
    rows.append(["H0010", "产能利用率", "2026-11", 0.5, None])
    rows.append(["H0011", "产能利用率", "2026-11", 85, None])

    outcome = run(hospital, xlsx(rows))

    assert outcome.applied
    assert stored(kpis["capacity_utilisation"]) == {"H0010": Decimal("0.5"), "H0011": Decimal(85)}
    assert stored(kpis["patient_satisfaction"])["H0010"] == Decimal(92)


def test_pushed_values_get_the_same_checks(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    items: list[dict[str, Any]] = [
        {"employee_number": number, "kpi": "patient_satisfaction", "period": "2026-11"}
        | {"value": value}
        for number, value in (("H0011", Decimal("0.9")), ("H0013", "130%"))
    ]

    with translation.override("en"):
        outcome = import_values(hospital.organisation, items, actor=None)

    assert [(p.row, p.field) for p in outcome.problems] == [(1, "value")]
    assert "130%" in outcome.problems[0].message


# --- counts -----------------------------------------------------------------------------------


def test_counts_tell_rows_values_and_people_apart(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    def rows(li_visits: int) -> list[list[Any]]:
        return [
            HEADER,
            ["H0011", "门诊量", "2026-11", li_visits, None],
            ["H0011", "手术量", "2026-11", 12, None],
            ["H0011", "患者满意度", "2026-11", 91, None],
            ["H0013", "门诊量", "2026-11", 200, None],
            ["H0013", "患者满意度", "2026-11", 95, None],
        ]

    first = run(hospital, xlsx(rows(400)), language="en")
    second = run(hospital, xlsx(rows(420)), language="en")

    assert first.summary() | {"problems": 0} == {
        "rows": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "people": 2,
        "people_changed": 2,
        "problems": 0,
    }
    assert (second.created, second.updated, second.unchanged) == (0, 1, 4)
    assert (second.people, second.people_changed) == (2, 1)
    with translation.override("en"):
        assert second.message() == (
            "Read 5 rows. Values: 0 new, 1 changed, 4 unchanged. "
            "1 person has new or changed values."
        )


def test_reimporting_more_decimals_than_stored_changes_nothing(
    hospital: Hospital, kpis: dict[str, Kpi]
) -> None:
    rows = satisfaction_rows(["91.123456", "0.5%"])
    run(hospital, xlsx(rows))

    again = run(hospital, xlsx(rows))

    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert stored(kpis["patient_satisfaction"])["H0010"] == Decimal("91.1235")


def test_counts_in_chinese(hospital: Hospital, kpis: dict[str, Kpi]) -> None:
    outcome = run(hospital, xlsx(satisfaction_rows([91, 88, 95])))

    assert outcome.message() == (
        "读取 3 行。数值：新增 3 个，变更 0 个，未变 0 个。3 人的数值有新增或变更。"
    )
