"""Importing rosters: Chinese and English headers, messy cells, all or nothing, idempotent."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from miantan.audit.models import AuditEvent
from miantan.scheduling.models import RosterEntry
from miantan.scheduling.rosters import import_roster_file
from tests.personas import Hospital

from .builders import shift_codes


@pytest.fixture
def codes(hospital: Hospital) -> dict[str, Any]:
    return shift_codes(hospital.organisation)


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


def entries() -> list[tuple[str, date, str]]:
    return sorted(
        RosterEntry.objects.values_list("employee__employee_number", "date", "shift_code__code")
    )


def test_roster_xlsx_with_serial_dates_and_full_width_digits(
    hospital: Hospital, codes: dict
) -> None:
    stream = xlsx(
        [
            ["工号", "日期", "班次"],
            ["H0011", datetime(2026, 12, 1), "夜班"],
            ["Ｈ００１１", 46358, "休"],  # full-width digits; Excel serial for 2026-12-02
            ["H0010", "2026年12月1日", "门诊"],
        ]
    )
    outcome = import_roster_file(hospital.organisation, stream, name="排班.xlsx", actor=None)

    assert outcome.errors == []
    assert entries() == [
        ("H0010", date(2026, 12, 1), "门诊"),
        ("H0011", date(2026, 12, 1), "夜班"),
        ("H0011", date(2026, 12, 2), "休"),
    ]
    event = AuditEvent.objects.get(action="scheduling.roster.imported")
    assert event.data["created"] == 3


def test_roster_csv_with_english_headers_and_names(hospital: Hospital, codes: dict) -> None:
    content = "Employee Number,Date,Shift\nH0011,2026-12-01,night\nH0013,2026-12-01,白班\n"
    outcome = import_roster_file(
        hospital.organisation, io.BytesIO(content.encode()), name="roster.csv", actor=None
    )
    assert outcome.errors == []
    assert [code for _n, _d, code in entries()] == ["夜班", "白班"]


def test_roster_bad_file_names_every_bad_row_and_imports_nothing(
    hospital: Hospital, codes: dict
) -> None:
    stream = xlsx(
        [
            ["工号", "日期", "班次"],
            ["H0011", "2026-12-01", "夜班"],
            ["H9999", "2026-12-01", "夜班"],
            ["H0011", "2026-13-40", "夜班"],
            ["H0011", "2026-12-02", "早班"],
            ["H0011", "2026-12-01", "夜班"],
        ]
    )
    outcome = import_roster_file(hospital.organisation, stream, name="排班.xlsx", actor=None)

    problems = [(error.row, error.column) for error in outcome.errors]
    assert problems == [(3, "工号"), (4, "日期"), (5, "班次"), (6, "班次")]
    assert "H9999" in outcome.errors[0].message
    assert "2" in outcome.errors[3].message  # the row it repeats
    assert not RosterEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="scheduling.roster.imported").exists()


def test_roster_missing_column_is_reported(hospital: Hospital, codes: dict) -> None:
    stream = xlsx([["工号", "日期"], ["H0011", "2026-12-01"]])
    outcome = import_roster_file(hospital.organisation, stream, name="排班.xlsx", actor=None)
    assert [(error.row, error.column) for error in outcome.errors] == [(1, "班次")]


def test_roster_reimport_changes_nothing_and_a_correction_replaces(
    hospital: Hospital, codes: dict
) -> None:
    rows = [
        ["工号", "日期", "班次"],
        ["H0011", "2026-12-01", "夜班"],
        ["H0011", "2026-12-02", "休"],
    ]
    import_roster_file(hospital.organisation, xlsx(rows), name="a.xlsx", actor=None)
    before = list(RosterEntry.objects.order_by("pk").values_list("pk", "date", "shift_code"))

    again = import_roster_file(hospital.organisation, xlsx(rows), name="a.xlsx", actor=None)
    assert (again.created, again.deleted) == (0, 0)
    assert (
        list(RosterEntry.objects.order_by("pk").values_list("pk", "date", "shift_code")) == before
    )

    corrected = [["工号", "日期", "班次"], ["H0011", "2026-12-02", "白班"]]
    outcome = import_roster_file(hospital.organisation, xlsx(corrected), name="b.xlsx", actor=None)
    assert (outcome.created, outcome.deleted) == (1, 1)
    assert entries() == [
        ("H0011", date(2026, 12, 1), "夜班"),
        ("H0011", date(2026, 12, 2), "白班"),
    ]


def test_roster_employees_of_another_organisation_are_unknown(
    hospital: Hospital, other_org: Any, codes: dict
) -> None:
    stream = xlsx([["工号", "日期", "班次"], ["X0001", "2026-12-01", "夜班"]])
    outcome = import_roster_file(hospital.organisation, stream, name="a.xlsx", actor=None)
    assert [error.column for error in outcome.errors] == ["工号"]


def test_import_roster_command(
    hospital: Hospital, other_org: Any, codes: dict, tmp_path: Path
) -> None:
    good = tmp_path / "roster.csv"
    good.write_text("工号,日期,班次\nH0011,2026-12-01,夜班\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("工号,日期,班次\nH0011,someday,夜班\n", encoding="utf-8")

    call_command("import_roster", str(good), organisation="hospital", verbosity=0)
    with pytest.raises(CommandError):
        call_command("import_roster", str(bad), organisation="hospital", verbosity=0)

    assert RosterEntry.objects.count() == 1


# --- rosters as a ward keeps them ---------------------------------------------------------------


def ward_roster(third_shift: str = "门诊") -> io.BytesIO:
    """A title merged across the columns and the ward's name above the header (row 3), blank
    rows, the head nurse's signature and a remark under the data."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [
        ["2026年12月 心内科 排班表"],
        ["科室：心内科", None, "护士长：王芳"],
        ["序号", "工号", "日期", "班次"],
        [1, "H0011", datetime(2026, 12, 1), "夜班"],
        [2, "H0011", datetime(2026, 12, 2), "休"],
        [],
        [3, "H0010", datetime(2026, 12, 1), third_shift],
        [],
        ["护士长签字：王芳"],
        ["注：夜班次日下午补休。"],
    ]:
        sheet.append(row)
    sheet.merge_cells("A1:D1")
    sheet.merge_cells("A9:D9")
    stream = io.BytesIO()
    workbook.save(stream)
    stream.seek(0)
    return stream


def test_roster_with_a_title_and_a_signature_imports_its_shifts(
    hospital: Hospital, codes: dict
) -> None:
    outcome = import_roster_file(hospital.organisation, ward_roster(), name="排班.xlsx", actor=None)

    assert outcome.errors == []
    assert outcome.rows == 3
    assert outcome.header_row == 3
    assert [note.row for note in outcome.skipped] == [1, 2]
    assert [(note.row, note.text) for note in outcome.notes] == [
        (9, "护士长签字：王芳"),
        (10, "注：夜班次日下午补休。"),
    ]
    assert entries() == [
        ("H0010", date(2026, 12, 1), "门诊"),
        ("H0011", date(2026, 12, 1), "夜班"),
        ("H0011", date(2026, 12, 2), "休"),
    ]


def test_roster_with_a_title_names_a_bad_row_as_the_spreadsheet_shows_it(
    hospital: Hospital, codes: dict
) -> None:
    outcome = import_roster_file(
        hospital.organisation, ward_roster(third_shift="早班"), name="排班.xlsx", actor=None
    )

    assert [(error.row, error.column) for error in outcome.errors] == [(7, "班次")]
    assert not RosterEntry.objects.exists()


def test_roster_csv_saved_by_excel_in_gbk(hospital: Hospital, codes: dict) -> None:
    content = (
        "2026年12月 排班表,,\r\n工号,日期,班次\r\nH0011,2026/12/1,夜班\r\n,,\r\n制表：王芳,,\r\n"
    )

    outcome = import_roster_file(
        hospital.organisation, io.BytesIO(content.encode("gbk")), name="排班.csv", actor=None
    )

    assert outcome.errors == []
    assert entries() == [("H0011", date(2026, 12, 1), "夜班")]
    assert [note.text for note in outcome.notes] == ["制表：王芳"]
