"""Importing KPI values from files: messy cells, all or nothing, idempotent re-import."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.utils import translation
from openpyxl import Workbook

from miantan.audit.models import AuditEvent
from miantan.core.leases import claim
from miantan.metrics.enums import ImportStatus
from miantan.metrics.importing import ImportOutcome, import_values_file
from miantan.metrics.models import Kpi, KpiValue, MetricsImport, Period
from miantan.metrics.packs import load_pack
from miantan.metrics.uploads import start_metrics_import, take_back_stalled_metrics_imports
from miantan.metrics.values_file import number_text, period_key
from tests.personas import Hospital

HEADER_ZH = ["工号", "指标", "期间", "实际值", "目标值", "来源"]


@pytest.fixture
def catalogue(hospital: Hospital) -> dict[str, Kpi]:
    kpis = load_pack(hospital.organisation, "hospital", actor=None)
    return {kpi.code: kpi for kpi in kpis}


def xlsx(rows: list[list[Any]]) -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def csv_bytes(lines: list[str], encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(("\n".join(lines) + "\n").encode(encoding))


def run(hospital: Hospital, stream: io.BytesIO, name: str, **options: Any) -> ImportOutcome:
    outcome, _file = import_values_file(
        hospital.organisation, stream, name=name, actor=hospital.hr_partner.user, **options
    )
    return outcome


def messy_rows(bad: bool) -> list[list[Any]]:
    """Percent strings, full-width digits, an Excel date cell, a serial date, a label in
    Chinese; with `bad`, the fourth data row (spreadsheet row 5) has a value that is no number."""
    return [
        HEADER_ZH,
        ["H0011", "门诊量", "2026年11月", "４２０", "４００", "HIS"],
        ["H0011", "patient_satisfaction", datetime(2026, 11, 17), "85%", None, None],
        ["H0013", "患者满意度", 46327, "９１．５％", "90", None],
        ["H0010", "手术量", "2026-11", "n/a" if bad else "12", None, None],
        ["H0010", "Outpatient visits", "2026/11", 380, None, None],
    ]


def test_messy_file_with_one_bad_row_imports_nothing(hospital: Hospital, catalogue: Any) -> None:
    outcome, values_file = import_values_file(
        hospital.organisation, xlsx(messy_rows(bad=True)), name="kpi.xlsx", actor=None
    )

    assert not outcome.applied
    assert [(e.row, e.column) for e in outcome.row_errors(values_file)] == [(5, "实际值")]
    assert "n/a" in outcome.problems[0].message
    assert KpiValue.objects.count() == 0
    assert not Period.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.import.applied").exists()


def test_corrected_messy_file_imports_every_row(hospital: Hospital, catalogue: Any) -> None:
    outcome = run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx")

    assert outcome.applied
    assert (outcome.rows, outcome.created, outcome.updated) == (5, 5, 0)
    period = Period.objects.get()
    assert period.label == "2026-11"
    satisfaction = KpiValue.objects.get(
        employee=hospital.nurse_wang, kpi__code="patient_satisfaction"
    )
    assert (satisfaction.value, satisfaction.target) == (Decimal("91.5"), Decimal("90"))
    visits = KpiValue.objects.get(employee=hospital.doctor_li, kpi__code="outpatient_visits")
    assert (visits.value, visits.target, visits.source) == (Decimal("420"), Decimal("400"), "HIS")


def test_reimporting_the_same_file_changes_nothing(hospital: Hospital, catalogue: Any) -> None:
    run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx")
    before = dict(KpiValue.objects.values_list("pk", "updated_at"))

    outcome = run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx")

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 0, 5)
    with translation.override("en"):
        assert "already up to date" in outcome.message()
    assert dict(KpiValue.objects.values_list("pk", "updated_at")) == before


def test_changed_file_updates_only_changed_values(hospital: Hospital, catalogue: Any) -> None:
    run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx")
    rows = messy_rows(bad=False)
    rows[4][3] = "13"

    outcome = run(hospital, xlsx(rows), "kpi.xlsx")

    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 1, 4)
    surgeries = KpiValue.objects.get(employee=hospital.head, kpi__code="surgeries")
    assert surgeries.value == Decimal("13")


def test_import_records_one_audit_event_with_counts(hospital: Hospital, catalogue: Any) -> None:
    run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx")

    event = AuditEvent.objects.get(action="metrics.import.applied")
    assert event.actor_id == hospital.hr_partner.user.pk
    assert event.data == {
        "source": "kpi.xlsx",
        "rows": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "people": 3,
        "people_changed": 3,
        "problems": 0,
    }


def test_every_bad_cell_is_named_with_row_and_column(hospital: Hospital, catalogue: Any) -> None:
    lines = [
        "employee number,kpi,period,value",
        "H0011,surgeries,2026-11,3",
        "H9999,surgeries,2026-11,3",
        "H0011,bedside_manner,2026-11,3",
        "H0011,outpatient_visits,2026-13,3",
        "H0011,outpatient_visits,2026-10,abc",
        "H0011,surgeries,2026-11,4",
        "H0011,outpatient_visits,2026-11,",
    ]

    with translation.override("en"):
        outcome, values_file = import_values_file(
            hospital.organisation, csv_bytes(lines), name="kpi.csv", actor=None
        )

    located = sorted((e.row or 0, e.column) for e in outcome.row_errors(values_file))
    assert located == [
        (3, "employee number"),
        (4, "kpi"),
        (5, "period"),
        (6, "value"),
        (7, "kpi"),
        (8, "value"),
    ]
    duplicate = next(p for p in outcome.problems if p.row == 7)
    assert "row 2" in duplicate.message
    assert KpiValue.objects.count() == 0


def test_missing_required_column_is_reported(hospital: Hospital, catalogue: Any) -> None:
    outcome, values_file = import_values_file(
        hospital.organisation,
        csv_bytes(["工号,指标,实际值", "H0011,surgeries,3"]),
        name="k.csv",
        actor=None,
    )

    assert [(e.row, e.column) for e in outcome.row_errors(values_file)] == [(1, "期间")]


def test_csv_in_gb18030_with_serial_dates_imports(hospital: Hospital, catalogue: Any) -> None:
    lines = ["工号,指标编码,期间,实际值", "H0011,手术量,46327,７", "H0013,手术量,2026年第4季度,20"]

    outcome = run(hospital, csv_bytes(lines, "gb18030"), "kpi.csv")

    assert outcome.applied, outcome.problems
    labels = set(KpiValue.objects.values_list("period__label", flat=True))
    assert labels == {"2026-11", "2026-Q4"}


def test_dry_run_counts_but_writes_nothing(hospital: Hospital, catalogue: Any) -> None:
    outcome = run(hospital, xlsx(messy_rows(bad=False)), "kpi.xlsx", dry_run=True)

    assert (outcome.created, outcome.applied) == (5, False)
    assert KpiValue.objects.count() == 0


def test_import_does_not_reach_another_organisation(
    hospital: Hospital, catalogue: Any, other_org: Any
) -> None:
    lines = ["工号,指标,期间,实际值", "X0001,surgeries,2026-11,3"]

    outcome = run(hospital, csv_bytes(lines), "kpi.csv")

    assert [p.field for p in outcome.problems] == ["employee_number"]


def test_import_metrics_command_reports_and_refuses(
    hospital: Hospital, catalogue: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kpi.csv"
    path.write_text("工号,指标,期间,实际值\nH0011,surgeries,2026-11,abc\n", encoding="utf-8")

    with translation.override("en"), pytest.raises(CommandError, match="nothing was changed"):
        call_command("import_metrics", str(path), organisation="hospital")

    assert "实际值: “abc”" in capsys.readouterr().err


def test_import_metrics_command_imports_and_reimports(
    hospital: Hospital, catalogue: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kpi.csv"
    path.write_text("工号,指标,期间,实际值\nH0011,surgeries,2026-11,12\n", encoding="utf-8")

    with translation.override("en"):
        call_command("import_metrics", str(path), organisation="hospital")
        call_command("import_metrics", str(path), organisation="hospital")

    out = capsys.readouterr().out
    assert "1 new" in out
    assert "already up to date" in out
    assert KpiValue.objects.count() == 1


def test_load_kpi_pack_command(hospital: Hospital, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_kpi_pack", "hospital", "manufacturing")

    assert Kpi.objects.filter(organisation=hospital.organisation, pack="manufacturing").count() == 3
    assert "defect_rate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("cell", "text"),
    [
        ("85%", "85"),
        ("８５％", "85"),
        ("1,234.5", "1234.5"),
        (" 12 ", "12"),
        ("+3", "3"),
        (0.1, "0.1"),
        (12, "12"),
        ("-2.25", "-2.25"),
    ],
)
def test_number_text_reads_what_people_type(cell: object, text: str) -> None:
    assert number_text(cell) == text


@pytest.mark.parametrize("cell", ["abc", "", "1e5", "nan", float("inf"), True, "123456789012345"])
def test_number_text_refuses_non_numbers(cell: object) -> None:
    with pytest.raises(ValueError):
        number_text(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (datetime(2026, 11, 17, 8, 30), ("month", date(2026, 11, 1))),
        (date(2026, 2, 3), ("month", date(2026, 2, 1))),
        (46327, ("month", date(2026, 11, 1))),
        ("46327", ("month", date(2026, 11, 1))),
        ("2026-11-17", ("month", date(2026, 11, 1))),
        (2026, ("year", date(2026, 1, 1))),
        ("２０２６年第４季度", ("quarter", date(2026, 10, 1))),
    ],
)
def test_period_key_reads_dates_and_labels(cell: object, expected: tuple[str, date]) -> None:
    assert period_key(cell) == expected


# --- files as a department keeps them -----------------------------------------------------------


def as_kept_by_a_department(third_value: Any = 95) -> io.BytesIO:
    """A title merged across the columns, a date line and a blank row above the header (row 4),
    a blank row inside the data, a signature line and a remark below it."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [
        ["2026年11月 心内科 绩效数据"],
        ["制表日期：2026年12月3日"],
        [],
        HEADER_ZH,
        ["H0011", "门诊量", "2026-11", 420, None, "HIS"],
        ["H0013", "门诊量", "2026-11", 380, None, "HIS"],
        [],
        ["H0010", "手术量", "2026-11", third_value, None, "HIS"],
        [],
        ["制表人：孙丽", None, None, "审核：张伟"],
        ["备注：门诊量按挂号人次统计。"],
    ]:
        sheet.append(row)
    sheet.merge_cells("A1:F1")
    sheet.merge_cells("A11:F11")
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def test_kpi_file_with_a_title_and_notes_imports_its_data_rows(
    hospital: Hospital, catalogue: Any
) -> None:
    outcome, values_file = import_values_file(
        hospital.organisation, as_kept_by_a_department(12), name="心内科.xlsx", actor=None
    )

    assert outcome.applied, outcome.problems
    assert (outcome.rows, outcome.created) == (3, 3)
    assert values_file is not None and values_file.header_row == 4
    assert [note.row for note in values_file.skipped] == [1, 2]
    assert [(note.row, note.text) for note in values_file.notes] == [
        (10, "制表人：孙丽 审核：张伟"),
        (11, "备注：门诊量按挂号人次统计。"),
    ]


def test_kpi_file_with_a_title_names_bad_rows_as_the_spreadsheet_shows_them(
    hospital: Hospital, catalogue: Any
) -> None:
    outcome, values_file = import_values_file(
        hospital.organisation, as_kept_by_a_department("n/a"), name="心内科.xlsx", actor=None
    )

    assert [(e.row, e.column) for e in outcome.row_errors(values_file)] == [(8, "实际值")]
    assert KpiValue.objects.count() == 0


def test_kpi_csv_saved_by_excel_in_gbk_with_a_title_line(
    hospital: Hospital, catalogue: Any
) -> None:
    stream = csv_bytes(
        [
            "2026年11月 绩效数据,,,",
            "工号,指标,期间,实际值",
            "H0011,门诊量,2026年11月,420",
            "H0013,患者满意度,2026年11月,91.5",
            ",,,",
            "制表人：孙丽,,,",
        ],
        encoding="gbk",
    )

    outcome = run(hospital, stream, "绩效.csv")

    assert outcome.applied, outcome.problems
    assert outcome.rows == 2


# --- a worker that dies -------------------------------------------------------------------------

LEASE_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def abandoned_import(hospital: Hospital, attempts: int) -> MetricsImport:
    """A KPI upload claimed by a worker that was then killed, `attempts` times over."""
    metrics_import = start_metrics_import(
        hospital.organisation,
        upload=ContentFile(xlsx(messy_rows(bad=False)).getvalue()),
        original_name="kpi.xlsx",
        actor=hospital.hr_partner.user,
    )
    for _attempt in range(attempts):
        MetricsImport.objects.filter(pk=metrics_import.pk).update(status=ImportStatus.PENDING)
        assert claim(MetricsImport, metrics_import.pk) is not None
    metrics_import.refresh_from_db()
    return metrics_import


def test_kpi_import_of_a_killed_worker_is_retried_after_its_lease(
    hospital: Hospital, catalogue: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    with time_machine.travel(LEASE_START, tick=False):
        metrics_import = abandoned_import(hospital, attempts=1)
    with (
        time_machine.travel(LEASE_START + timedelta(minutes=6), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert take_back_stalled_metrics_imports() == 1

    metrics_import.refresh_from_db()
    assert metrics_import.status == ImportStatus.DONE, metrics_import.report
    assert metrics_import.attempts == 2
    assert KpiValue.objects.count() == 5


def test_kpi_import_of_a_killed_worker_fails_after_the_last_attempt(
    hospital: Hospital, catalogue: Any, settings: Any
) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    with time_machine.travel(LEASE_START, tick=False):
        metrics_import = abandoned_import(hospital, attempts=3)
    with time_machine.travel(LEASE_START + timedelta(minutes=6), tick=False):
        assert take_back_stalled_metrics_imports(hospital.organisation.pk) == 1

    metrics_import.refresh_from_db()
    assert metrics_import.status == ImportStatus.FAILED
    # In the uploader's language: the HR partner reads Chinese.
    assert metrics_import.report["errors"][0]["message"].startswith("导入已中断 3 次")
    assert KpiValue.objects.count() == 0
