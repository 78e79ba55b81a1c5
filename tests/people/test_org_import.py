"""The organisation import: reading files, checking every row, applying all or nothing."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.core.leases import claim
from miantan.people.enums import EmploymentStatus, ImportStatus, Language, Role
from miantan.people.importing import (
    check_org_file,
    confirm_org_import,
    discard_org_import,
    run_org_import,
    save_org_file,
    take_back_stalled_org_imports,
)
from miantan.people.models import Department, Employee, Organisation, OrgImport, Position
from miantan.people.org_file import parse_date, read_org_file
from miantan.people.services import assign_role, create_department, create_employee
from miantan.people.tasks import run_org_import_task

HEADER_ZH = ["工号", "姓名", "部门", "上级工号", "岗位", "入职日期", "邮箱", "语言", "状态"]


@dataclass(frozen=True)
class Clinic:
    """市第一人民医院 with 内科 › 心内科 and 急诊科; 张伟 (1001) heads 心内科, 李明 (1002)
    reports to him, 王芳 (1003) to 李明. 孙丽 (9001) is the HR partner."""

    organisation: Organisation
    root: Department
    internal: Department
    cardiology: Department
    emergency: Department
    zhang: Employee
    li: Employee
    wang: Employee
    hr: Employee


@pytest.fixture
def clinic(db: None) -> Clinic:
    org = Organisation.objects.create(name="市第一人民医院", slug="yiyuan")
    root = create_department(org, code="H", name="市第一人民医院")
    internal = create_department(org, code="NK", name="内科", parent=root)
    cardiology = create_department(
        org, code="XNK", name="心内科", name_en="Cardiology", parent=internal
    )
    emergency = create_department(org, code="JZK", name="急诊科", parent=root)
    zhang = create_employee(org, employee_number="1001", name="张伟", department=cardiology)
    li = create_employee(
        org, employee_number="1002", name="李明", department=cardiology, manager=zhang
    )
    wang = create_employee(
        org, employee_number="1003", name="王芳", department=cardiology, manager=li
    )
    hr = create_employee(
        org, employee_number="9001", name="孙丽", department=root, language=Language.EN
    )
    assign_role(hr, role=Role.HR, department=root, actor=None)
    return Clinic(org, root, internal, cardiology, emergency, zhang, li, wang, hr)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }


def xlsx(rows: list[list[Any]], header: list[str] = HEADER_ZH) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_file(
    rows: list[list[Any]], header: list[str] = HEADER_ZH, encoding: str = "utf-8-sig"
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(clinic: Clinic, content: bytes, name: str = "org.xlsx", actor: Any = None) -> OrgImport:
    org_import = save_org_file(
        clinic.organisation, upload=ContentFile(content), original_name=name, actor=actor
    )
    return run_org_import(org_import)


def good_rows() -> list[list[Any]]:
    """The clinic as it is, plus two new people in 急诊科; cells as spreadsheets give them."""
    return [
        [
            "1001",
            "张伟",
            "XNK",
            None,
            "主任医师",
            datetime(2015, 3, 1),
            "zhang@example.org",
            "中文",
            "在职",
        ],
        ["1002", "李明", "心内科", "1001", "医师", 45292, "", "", ""],
        ["１００３", "王芳", "心内科", "1002", "护士", "2020/9/1", "", "", ""],
        ["9001", "孙丽", "H", None, None, None, "", "English", "在职"],
        [
            "2001",
            "赵强",
            "急诊科",
            None,
            "医师",
            "2023年7月15日",
            "zhao@example.org",
            "zh-hans",
            "",
        ],
        ["2002", "钱进", "急诊科", "２００１", "护士", 20240105, "", "en", "active"],
    ]


def audit_count(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


# --- reading cells ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (45292, date(2024, 1, 1)),
        (45292.75, date(2024, 1, 1)),
        ("45292", date(2024, 1, 1)),
        (datetime(2024, 1, 5, 8, 30), date(2024, 1, 5)),
        (date(2024, 1, 5), date(2024, 1, 5)),
        ("2024-01-05", date(2024, 1, 5)),
        ("2024/1/5", date(2024, 1, 5)),
        ("2024年1月5日", date(2024, 1, 5)),
        ("２０２４年１月５日", date(2024, 1, 5)),
        ("20240105", date(2024, 1, 5)),
        (20240105, date(2024, 1, 5)),
        ("2024-01-05 00:00:00", date(2024, 1, 5)),
        ("", None),
        (None, None),
    ],
)
def test_parse_date_accepts_what_spreadsheets_and_people_write(
    cell: Any, expected: date | None
) -> None:
    assert parse_date(cell) == expected


@pytest.mark.parametrize(
    "cell", ["2024-13-01", "2024-02-30", "next monday", "1899-01-01", -3, True]
)
def test_parse_date_rejects_what_is_not_a_date(cell: Any) -> None:
    with pytest.raises(ValueError):
        parse_date(cell)


def test_read_org_file_maps_english_headers_and_ignores_unknown_columns() -> None:
    content = csv_file(
        [["1001", "Zhang Wei", "XNK", "x"]],
        header=["Employee_Number", "name", "Department Code", "Notes"],
    )

    org_file = read_org_file(io.BytesIO(content), "org.csv")

    assert org_file.columns == {
        "employee_number": "Employee_Number",
        "name": "name",
        "department_code": "Department Code",
    }
    assert org_file.ignored_columns == ["Notes"]
    assert org_file.rows[0].number == 2
    assert org_file.rows[0].cells["department_code"] == "XNK"


def test_read_org_file_reads_gb18030_csv() -> None:
    content = csv_file(
        [["1001", "张伟", "心内科"]], header=["工号", "姓名", "部门"], encoding="gb18030"
    )

    org_file = read_org_file(io.BytesIO(content), "org.csv")

    assert org_file.rows[0].cells == {
        "employee_number": "1001",
        "name": "张伟",
        "department": "心内科",
    }


def test_read_org_file_reads_semicolon_separated_csv() -> None:
    content = "工号;姓名;部门\n1001;张伟;XNK\n".encode()

    org_file = read_org_file(io.BytesIO(content), "org.csv")

    assert org_file.rows[0].cells == {
        "employee_number": "1001",
        "name": "张伟",
        "department": "XNK",
    }


def test_read_org_file_counts_rows_as_the_spreadsheet_shows_them() -> None:
    content = xlsx(
        [["1001", "张伟", "XNK"], [], ["1002", "李明", "XNK"]], header=["工号", "姓名", "部门"]
    )

    org_file = read_org_file(io.BytesIO(content), "org.xlsx")

    assert [row.number for row in org_file.rows] == [2, 4]


# --- a good file ----------------------------------------------------------------------------


def test_org_import_good_file_creates_and_updates_employees(clinic: Clinic) -> None:
    result = run(clinic, xlsx(good_rows()), actor=clinic.hr.user)

    assert result.status == ImportStatus.DONE, result.report
    assert result.report["summary"]["created"] == 2
    assert result.report["errors"] == []
    zhao = Employee.objects.get(organisation=clinic.organisation, employee_number="2001")
    qian = Employee.objects.get(organisation=clinic.organisation, employee_number="2002")
    assert zhao.department == clinic.emergency
    assert zhao.hire_date == date(2023, 7, 15)
    assert qian.manager == zhao
    assert qian.manager_path == f"/{zhao.pk}/{qian.pk}/"
    assert qian.hire_date == date(2024, 1, 5)
    assert qian.language == Language.EN
    assert qian.position is not None and qian.position.name == "护士"
    assert not qian.user.has_usable_password()


def test_org_import_reads_serial_dates_datetime_cells_and_full_width_digits(clinic: Clinic) -> None:
    run(clinic, xlsx(good_rows()))

    clinic.zhang.refresh_from_db()
    clinic.li.refresh_from_db()
    clinic.wang.refresh_from_db()
    assert clinic.zhang.hire_date == date(2015, 3, 1)
    assert clinic.li.hire_date == date(2024, 1, 1)
    assert clinic.wang.hire_date == date(2020, 9, 1)
    assert not Employee.objects.filter(employee_number="１００３").exists()


def test_org_import_audits_each_new_employee_and_the_import(clinic: Clinic) -> None:
    created_before = audit_count("people.employee.created")

    result = run(clinic, xlsx(good_rows()), actor=clinic.hr.user)

    assert audit_count("people.employee.created") == created_before + 2
    summary = AuditEvent.objects.get(action="people.org_import.applied")
    assert summary.object_id == str(result.pk)
    assert summary.actor == clinic.hr.user
    assert summary.data["created"] == 2


def test_org_import_reimport_of_the_same_file_changes_nothing(clinic: Clinic) -> None:
    content = xlsx(good_rows())
    run(clinic, content)
    employees_before = list(Employee.objects.values_list("pk", "updated_at", "manager_path"))
    events_before = AuditEvent.objects.exclude(action__startswith="people.org_import").count()

    again = run(clinic, content)

    assert again.status == ImportStatus.DONE
    assert again.report["summary"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 6,
        "departments_created": 0,
        "positions_created": 0,
    }
    assert again.report["changes"] == []
    assert (
        list(Employee.objects.values_list("pk", "updated_at", "manager_path")) == employees_before
    )
    assert (
        AuditEvent.objects.exclude(action__startswith="people.org_import").count() == events_before
    )


def test_org_import_changed_file_updates_only_what_changed(clinic: Clinic) -> None:
    rows = good_rows()
    run(clinic, xlsx(rows))
    rows[1][2] = "急诊科"  # 李明 moves to 急诊科 …
    rows[1][3] = "2001"  # … and, with 王芳 below him, now reports to 赵强
    rows[4][6] = "zhao.qiang@example.org"
    updated_before = audit_count("people.employee.updated")

    result = run(clinic, xlsx(rows))

    assert result.report["summary"]["updated"] == 2
    assert result.report["summary"]["unchanged"] == 4
    changes = {c["employee_number"]: c["fields"] for c in result.report["changes"]}
    assert changes == {
        "1002": {"department": ["心内科", "急诊科"], "manager": ["张伟 (1001)", "赵强 (2001)"]},
        "2001": {"email": ["zhao@example.org", "zhao.qiang@example.org"]},
    }
    zhao = Employee.objects.get(employee_number="2001")
    clinic.li.refresh_from_db()
    clinic.wang.refresh_from_db()
    assert clinic.li.department == clinic.emergency
    assert clinic.li.manager_path == f"/{zhao.pk}/{clinic.li.pk}/"
    assert clinic.wang.manager_path == f"/{zhao.pk}/{clinic.li.pk}/{clinic.wang.pk}/"
    assert audit_count("people.employee.updated") == updated_before + 2
    assert (
        AuditEvent.objects.filter(
            action="people.employee.manager_changed", subject_id=clinic.li.pk
        ).count()
        == 1
    )


def test_org_import_swaps_a_manager_and_their_report(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "上级工号"]
    rows = [["1001", "张伟", "XNK", "1002"], ["1002", "李明", "XNK", ""]]

    result = run(clinic, csv_file(rows, header=header), name="swap.csv")

    assert result.status == ImportStatus.DONE, result.report
    zhang, li, wang = (
        Employee.objects.get(pk=e.pk) for e in (clinic.zhang, clinic.li, clinic.wang)
    )
    assert li.manager_path == f"/{li.pk}/"
    assert zhang.manager_path == f"/{li.pk}/{zhang.pk}/"
    assert wang.manager_path == f"/{li.pk}/{wang.pk}/"


def test_org_import_status_left_marks_the_employee_left(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "状态"]

    result = run(
        clinic, csv_file([["1003", "王芳", "XNK", "离职"]], header=header), name="left.csv"
    )

    assert result.report["changes"][0]["fields"] == {"status": ["active", "left"]}
    clinic.wang.refresh_from_db()
    assert clinic.wang.status == EmploymentStatus.LEFT
    assert clinic.wang.left_on is not None
    assert not clinic.wang.user.is_active


def test_org_import_missing_column_leaves_the_field_alone(clinic: Clinic) -> None:
    result = run(
        clinic, csv_file([["1002", "李明", "XNK"]], header=["工号", "姓名", "部门"]), name="a.csv"
    )

    assert result.report["summary"]["unchanged"] == 1
    clinic.li.refresh_from_db()
    assert clinic.li.manager == clinic.zhang


def test_org_import_creates_a_department_below_the_given_parent(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门编码", "部门", "上级部门"]
    rows = [
        ["3001", "周敏", "XNK-HL", "心内科护理组", "心内科"],
        ["3002", "吴静", "XNK-HL", "", ""],
    ]

    result = run(clinic, csv_file(rows, header=header), name="new-dept.csv")

    assert result.status == ImportStatus.DONE, result.report
    nursing = Department.objects.get(organisation=clinic.organisation, code="XNK-HL")
    assert nursing.name == "心内科护理组"
    assert nursing.parent == clinic.cardiology
    assert nursing.path == f"{clinic.cardiology.path}{nursing.pk}/"
    assert set(nursing.employees.values_list("employee_number", flat=True)) == {"3001", "3002"}
    assert result.report["summary"]["departments_created"] == 1


# --- a bad file ---------------------------------------------------------------------------


def bad_rows() -> list[list[Any]]:
    return [
        ["1001", "张伟", "XNK", None, "", None, "", "", ""],  # 2: fine
        ["2001", "赵强", "急诊科", "8888", "", None, "", "", ""],  # 3: unknown manager
        ["2002", "钱进", "急诊科", "2003", "", None, "", "", ""],  # 4: circle 2002 → 2003 → 2002
        ["2003", "孙红", "急诊科", "2002", "", None, "", "", ""],  # 5: circle
        ["2001", "赵强", "急诊科", None, "", None, "", "", ""],  # 6: duplicate number
        ["2004", "吴静", "急诊科", None, "", "2024-13-40", "", "", ""],  # 7: bad date
        ["2005", "郑毅", "", None, "", None, "", "", ""],  # 8: no department
        ["2006", "", "急诊科", None, "", None, "", "", ""],  # 9: missing name
        ["2007", "冯涛", "急诊科", None, "", None, "not-an-email", "", ""],  # 10: bad email
        ["2008", "陈晨", "急诊科", None, "", None, "", "法语", "退休"],  # 11: language, status
        ["2009", "林琳", "急诊科", "2009", "", None, "", "", ""],  # 12: own manager
    ]


def test_org_import_bad_file_changes_nothing(clinic: Clinic) -> None:
    counts = (Employee.objects.count(), Department.objects.count(), Position.objects.count())
    events = AuditEvent.objects.count()

    result = run(clinic, xlsx(bad_rows()))

    assert result.status == ImportStatus.REJECTED
    assert (
        Employee.objects.count(),
        Department.objects.count(),
        Position.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == events + 1
    assert AuditEvent.objects.filter(action="people.org_import.rejected").count() == 1


def test_org_import_bad_file_report_names_every_bad_row_and_column(clinic: Clinic) -> None:
    result = run(clinic, xlsx(bad_rows()), actor=clinic.hr.user)

    found = {(e["row"], e["column"]) for e in result.report["errors"]}
    assert found == {
        (3, "上级工号"),
        (4, "上级工号"),
        (5, "上级工号"),
        (6, "工号"),
        (7, "入职日期"),
        (8, "部门"),
        (9, "姓名"),
        (10, "邮箱"),
        (11, "语言"),
        (11, "状态"),
        (12, "上级工号"),
    }
    messages = {(e["row"], e["column"]): e["message"] for e in result.report["errors"]}
    assert "8888" in messages[3, "上级工号"]
    assert "2002 → 2003 → 2002" in messages[4, "上级工号"]
    assert "row 3" in messages[6, "工号"]
    assert "2024-13-40" in messages[7, "入职日期"]
    assert messages[8, "部门"] == "A value is required."


def test_org_import_report_is_written_in_the_uploaders_language(clinic: Clinic) -> None:
    result = run(clinic, xlsx(bad_rows()), actor=clinic.hr.user)  # 孙丽 reads English

    assert result.report["errors"][0]["message"].startswith("The manager 8888")


def test_org_import_cycle_through_an_employee_not_in_the_file_is_found(clinic: Clinic) -> None:
    # 张伟 would report to 王芳, who (not in the file) reports to 李明, who reports to 张伟.
    rows = [["1001", "张伟", "XNK", "1003"]]

    result = run(clinic, csv_file(rows, header=["工号", "姓名", "部门", "上级工号"]), name="c.csv")

    assert result.status == ImportStatus.REJECTED
    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(2, "上级工号")]


def test_org_import_unknown_parent_department_is_reported(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "上级部门"]

    result = run(
        clinic, csv_file([["3001", "周敏", "新科室", "不存在"]], header=header), name="p.csv"
    )

    assert result.status == ImportStatus.REJECTED
    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(2, "上级部门")]


def test_org_import_missing_required_column_is_reported_on_the_header_row(clinic: Clinic) -> None:
    result = run(clinic, csv_file([["张伟", "XNK"]], header=["姓名", "部门"]), name="h.csv")

    assert result.status == ImportStatus.REJECTED
    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(1, "工号")]


def test_org_import_rejects_a_file_that_is_not_a_workbook(clinic: Clinic) -> None:
    result = run(clinic, b"not a zip file", name="broken.xlsx")

    assert result.status == ImportStatus.REJECTED
    assert result.report["errors"][0]["row"] is None


# --- progress, running once, speed ------------------------------------------------------------


def test_org_import_records_rows_and_progress(clinic: Clinic) -> None:
    result = run(clinic, xlsx(good_rows()))

    assert (result.total_rows, result.processed_rows, result.percent) == (6, 6, 100)
    assert result.finished_at is not None


def test_org_import_runs_only_once(clinic: Clinic) -> None:
    result = run(clinic, xlsx(good_rows()))
    finished_at = result.finished_at

    again = run_org_import(result)

    assert again.finished_at == finished_at
    assert AuditEvent.objects.filter(action="people.org_import.applied").count() == 1


def test_check_org_file_queries_do_not_grow_with_rows(clinic: Clinic) -> None:
    def queries_for(rows: int) -> int:
        content = csv_file(
            [[f"5{n:04}", f"员工{n}", "急诊科", "1001", "医师", "2024-01-05"] for n in range(rows)],
            header=HEADER_ZH[:6],
        )
        org_file = read_org_file(io.BytesIO(content), "org.csv")
        with CaptureQueriesContext(connection) as captured:
            check_org_file(clinic.organisation, org_file)
        return len(captured)

    assert queries_for(1) == queries_for(300)


# --- the command --------------------------------------------------------------------------


def test_import_org_command_applies_a_good_file(clinic: Clinic, tmp_path: Path) -> None:
    path = tmp_path / "org.xlsx"
    path.write_bytes(xlsx(good_rows()))
    out = io.StringIO()

    call_command("import_org", str(path), organisation="yiyuan", stdout=out)

    assert Employee.objects.filter(employee_number="2002").exists()
    assert "+ 2002 钱进" in out.getvalue()


def test_import_org_command_exits_non_zero_and_lists_every_bad_row(
    clinic: Clinic, tmp_path: Path
) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx(bad_rows()))
    err = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_org", str(path), organisation="yiyuan", stderr=err)

    # Each problem is one line that starts with its row number ("Row 3, …" / "第 3 行, …").
    rows_named = {int(re.search(r"\d+", line).group()) for line in err.getvalue().splitlines()}
    assert rows_named >= {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
    assert not Employee.objects.filter(employee_number="2001").exists()


def test_import_org_command_dry_run_changes_nothing(clinic: Clinic, tmp_path: Path) -> None:
    path = tmp_path / "org.xlsx"
    path.write_bytes(xlsx(good_rows()))
    out = io.StringIO()

    call_command("import_org", str(path), "--dry-run", stdout=out)

    assert not Employee.objects.filter(employee_number="2002").exists()
    assert "+ 2002 钱进" in out.getvalue()
    assert not OrgImport.objects.exists()


def test_org_import_that_fails_while_writing_changes_nothing(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_mark_left(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("miantan.people.importing.mark_left", broken_mark_left)
    rows = [*good_rows(), ["1003", "王芳", "XNK", "1002", "", None, "", "", "离职"]]
    rows.pop(2)
    employees = Employee.objects.count()

    result = run(clinic, xlsx(rows))

    assert result.status == ImportStatus.FAILED
    assert Employee.objects.count() == employees
    assert not Position.objects.exists()
    assert AuditEvent.objects.filter(action="people.org_import.failed").count() == 1


def test_org_import_active_status_brings_back_an_employee_who_left(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "状态"]
    run(clinic, csv_file([["1003", "王芳", "XNK", "离职"]], header=header), name="a.csv")

    result = run(clinic, csv_file([["1003", "王芳", "XNK", "在职"]], header=header), name="b.csv")

    assert result.report["changes"][0]["fields"] == {"status": ["left", "active"]}
    clinic.wang.refresh_from_db()
    assert clinic.wang.status == EmploymentStatus.ACTIVE
    assert clinic.wang.left_on is None
    assert clinic.wang.user.is_active


def test_org_import_taken_login_name_is_reported(clinic: Clinic) -> None:
    get_user_model().objects.create_user(username="yiyuan-2001")

    result = run(
        clinic, csv_file([["2001", "赵强", "JZK"]], header=["工号", "姓名", "部门"]), "t.csv"
    )

    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(2, "工号")]


def test_org_import_same_column_twice_is_reported(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "Department"]

    result = run(clinic, csv_file([["1001", "张伟", "XNK", "XNK"]], header=header), name="d.csv")

    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(1, "Department")]


# --- files as HR keeps them -------------------------------------------------------------------

ROSTER_HEADER = ["序号", "工号", "姓名", "部门", "岗位", "直属上级工号", "手机"]


def hr_roster(rows: list[list[Any]], header: list[str] = ROSTER_HEADER) -> bytes:
    """A 花名册 as HR keeps it: a title merged across the columns and a date line above the
    header (row 4), a blank row inside the data, a signature line and a remark below it."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["2026年 市第一人民医院 员工花名册"])
    sheet.append(["统计日期：2026年9月30日"])
    sheet.append([])
    sheet.append(header)
    for index, row in enumerate(rows, start=1):
        sheet.append([index, *row])
        if index == 2:
            sheet.append([])
    sheet.append([])
    sheet.append(["制表人：孙丽", None, None, "审核：张伟"])
    sheet.append(["备注：试用期员工按在职统计。"])
    sheet.merge_cells("A1:G1")
    sheet.merge_cells("A2:G2")
    sheet.merge_cells(f"A{sheet.max_row}:G{sheet.max_row}")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_org_import_reads_a_roster_with_a_title_merged_cells_and_notes(clinic: Clinic) -> None:
    rows = [
        ["1001", "张伟", "XNK", "主任医师", "", "13800000000"],
        ["1002", "李明", "心内科", "医师", "1001", ""],
        ["2001", "赵强", "急诊科", "医师", "", ""],
    ]

    result = run(clinic, hr_roster(rows), actor=clinic.hr.user)

    assert result.status == ImportStatus.DONE, result.report
    assert result.report["header_row"] == 4
    assert [r["row"] for r in result.report["rows_above"]] == [1, 2]
    assert [r["text"] for r in result.report["rows_after"]] == [
        "制表人：孙丽 审核：张伟",
        "备注：试用期员工按在职统计。",
    ]
    assert result.report["ignored_columns"] == ["序号", "手机"]
    assert Employee.objects.get(employee_number="2001").department == clinic.emergency


def test_org_import_names_the_spreadsheets_own_rows_in_a_roster(clinic: Clinic) -> None:
    rows = [
        ["1001", "张伟", "XNK", "主任医师", "", ""],
        ["1002", "李明", "心内科", "医师", "8888", ""],  # row 6, after the title and header
        ["2001", "", "急诊科", "医师", "", ""],  # row 8: the blank row 7 is in between
    ]

    result = run(clinic, hr_roster(rows), actor=clinic.hr.user)

    assert result.status == ImportStatus.REJECTED
    assert {(e["row"], e["column"]) for e in result.report["errors"]} == {
        (6, "直属上级工号"),
        (8, "姓名"),
    }


def test_org_import_checks_a_data_row_below_the_notes(clinic: Clinic) -> None:
    content = xlsx(
        [["1001", "张伟", "XNK"], ["备注：见附件"], [None, "钱进", "急诊科"]],
        header=["工号", "姓名", "部门"],
    )

    result = run(clinic, content, actor=clinic.hr.user)

    # The last row looks like data (a name and a department), so the remark above it stands
    # inside the data and both are checked as rows.
    assert result.status == ImportStatus.REJECTED
    assert (4, "工号") in {(e["row"], e["column"]) for e in result.report["errors"]}
    assert result.report["rows_after"] == []


def test_org_import_reads_a_gbk_csv_with_a_title_line(clinic: Clinic) -> None:
    lines = [
        ["市第一人民医院 花名册", "", "", ""],
        ["工号", "姓名", "部门", "上级工号"],
        ["2001", "赵强", "急诊科", ""],
        ["2002", "钱进", "急诊科", "2001"],
        ["制表人：孙丽", "", "", ""],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)

    result = run(clinic, buffer.getvalue().encode("gbk"), name="花名册.csv")

    assert result.status == ImportStatus.DONE, result.report
    assert Employee.objects.get(employee_number="2002").manager.employee_number == "2001"
    assert result.report["rows_after"] == [{"row": 5, "text": "制表人：孙丽"}]


# --- departments placed by the reporting line ---------------------------------------------------


def grown_clinic_rows() -> list[list[Any]]:
    """New departments, no parent column: 心内科护理组 (its head 周敏 reports to 李明 of 心内科),
    心内科护理一组 (below 周敏), and 体检中心, whose head reports to nobody."""
    return [
        ["3001", "周敏", "心内科护理组", "护士长", "1002", ""],
        ["3002", "吴静", "心内科护理一组", "护士", "3001", ""],
        ["3003", "郑红", "心内科护理一组", "护士", "3002", ""],
        ["4001", "陈晨", "体检中心", "主任", "", ""],
        ["4002", "林琳", "体检中心", "医师", "4001", ""],
    ]


def tree_by_name(nodes: list[dict[str, Any]]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Each node by name, with its parent's name."""
    found: dict[str, tuple[str | None, dict[str, Any]]] = {}

    def walk(children: list[dict[str, Any]], parent: str | None) -> None:
        for node in children:
            found[node["name"]] = (parent, node)
            walk(node["children"], node["name"])

    walk(nodes, None)
    return found


def test_org_import_places_new_departments_by_the_reporting_line(clinic: Clinic) -> None:
    result = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)

    assert result.status == ImportStatus.CHECKED, result.report
    tree = tree_by_name(result.report["departments"])
    assert tree["心内科护理组"][0] == "心内科"
    assert tree["心内科护理一组"][0] == "心内科护理组"
    assert tree["体检中心"][0] == "市第一人民医院"
    assert tree["心内科"][0] == "内科"  # the existing ancestors are shown too
    assert not tree["心内科"][1]["new"]
    reason = tree["心内科护理组"][1]["reason"]
    assert "周敏 (3001)" in reason and "李明 (1002)" in reason
    assert "reports to nobody" in tree["体检中心"][1]["reason"]


def test_org_import_saves_nothing_before_the_departments_are_confirmed(clinic: Clinic) -> None:
    counts = (Employee.objects.count(), Department.objects.count(), Position.objects.count())

    result = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)

    assert result.status == ImportStatus.CHECKED
    assert (Employee.objects.count(), Department.objects.count(), Position.objects.count()) == (
        counts
    )
    assert result.report["summary"]["created"] == 5  # the preview says what would happen
    assert AuditEvent.objects.filter(action="people.org_import.checked").count() == 1


def test_org_import_confirmed_creates_the_departments_in_the_same_transaction(
    clinic: Clinic, django_capture_on_commit_callbacks: Any
) -> None:
    checked = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)

    with django_capture_on_commit_callbacks(execute=True):
        confirm_org_import(checked, actor=clinic.hr.user)

    checked.refresh_from_db()
    assert checked.status == ImportStatus.DONE, checked.report
    group = Department.objects.get(organisation=clinic.organisation, code="心内科护理组")
    first = Department.objects.get(organisation=clinic.organisation, code="心内科护理一组")
    centre = Department.objects.get(organisation=clinic.organisation, code="体检中心")
    assert group.parent == clinic.cardiology
    assert first.parent == group and first.path == f"{group.path}{first.pk}/"
    assert centre.parent == clinic.root
    assert Employee.objects.get(employee_number="3003").department == first
    assert checked.confirmed_by == clinic.hr.user
    assert AuditEvent.objects.filter(action="people.org_import.confirmed").count() == 1


def test_org_import_confirmed_tree_that_changed_meanwhile_is_shown_again(
    clinic: Clinic, django_capture_on_commit_callbacks: Any
) -> None:
    checked = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)
    # Before HR confirms, 李明 moves to 急诊科: 周敏's group would now go there.
    Employee.objects.filter(pk=clinic.li.pk).update(department=clinic.emergency)

    with django_capture_on_commit_callbacks(execute=True):
        confirm_org_import(checked, actor=clinic.hr.user)

    checked.refresh_from_db()
    assert checked.status == ImportStatus.CHECKED
    assert checked.report["reconfirm"] is True
    assert tree_by_name(checked.report["departments"])["心内科护理组"][0] == "急诊科"
    assert not Department.objects.filter(code="心内科护理组").exists()


def test_org_import_discarded_changes_nothing(clinic: Clinic) -> None:
    checked = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)

    discard_org_import(checked, actor=clinic.hr.user)

    assert checked.status == ImportStatus.DISCARDED
    assert not Employee.objects.filter(employee_number="3001").exists()
    with pytest.raises(ConflictError):
        confirm_org_import(checked, actor=clinic.hr.user)


def test_org_import_confirmation_is_refused_to_someone_who_may_not_import(
    clinic: Clinic,
) -> None:
    checked = run(clinic, hr_roster(grown_clinic_rows()), actor=clinic.hr.user)

    with pytest.raises(PermissionDenied):
        confirm_org_import(checked, actor=clinic.li.user)
    with pytest.raises(PermissionDenied):
        discard_org_import(checked, actor=clinic.li.user)

    checked.refresh_from_db()
    assert checked.status == ImportStatus.CHECKED


def place(clinic: Clinic, rows: list[list[Any]]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    header = ["工号", "姓名", "部门", "上级工号"]
    org_file = read_org_file(io.BytesIO(csv_file(rows, header=header)), "org.csv")
    plan = check_org_file(clinic.organisation, org_file)
    assert plan.errors == []
    return tree_by_name(plan.department_tree())


def test_inferred_parent_is_where_most_of_the_most_senior_members_report(clinic: Clinic) -> None:
    tree = place(
        clinic,
        [
            ["5001", "甲", "会诊中心", "1001"],  # reports into 心内科
            ["5002", "乙", "会诊中心", "1002"],  # 心内科 too, but stands lower
            ["5003", "丙", "会诊中心", "9001"],  # the HR partner, at the top department
            ["5004", "丁", "会诊中心", "1001"],  # 心内科
        ],
    )

    # 甲, 丙 and 丁 have one manager above them, 乙 two: of those three, two report into 心内科.
    assert tree["会诊中心"][0] == "心内科"
    assert "2" in tree["会诊中心"][1]["reason"] and "3" in tree["会诊中心"][1]["reason"]


def test_inferred_parent_tie_goes_to_the_lowest_employee_number(clinic: Clinic) -> None:
    tree = place(
        clinic,
        [
            ["5010", "甲", "会诊中心", "1001"],  # 心内科
            ["5009", "乙", "会诊中心", "9001"],  # the top department; 5009 < 5010
        ],
    )

    assert tree["会诊中心"][0] == "市第一人民医院"
    assert "5009" in tree["会诊中心"][1]["reason"]


def test_inferred_parents_never_form_a_circle(clinic: Clinic) -> None:
    # 甲 in A reports to 乙 in B, and 乙 to 丙 in A: A's most senior member is 丙 (top), so A
    # goes under the top department and B under A, not A under B under A.
    tree = place(
        clinic,
        [
            ["6001", "甲", "A组", "6002"],
            ["6002", "乙", "B组", "6003"],
            ["6003", "丙", "A组", ""],
        ],
    )

    assert tree["A组"][0] == "市第一人民医院"
    assert tree["B组"][0] == "A组"


def test_org_import_reads_the_manager_by_name_as_rosters_give_it(clinic: Clinic) -> None:
    header = ["工号", "姓名", "科室", "直属上级"]
    rows = [["2001", "赵强", "急诊科", "张伟"], ["2002", "钱进", "急诊科", "赵强"]]

    result = run(clinic, csv_file(rows, header=header), name="roster.csv")

    assert result.status == ImportStatus.DONE, result.report
    assert Employee.objects.get(employee_number="2001").manager == clinic.zhang
    assert Employee.objects.get(employee_number="2002").manager.employee_number == "2001"


def test_org_import_manager_name_shared_by_two_people_is_reported(clinic: Clinic) -> None:
    header = ["工号", "姓名", "部门", "直属上级"]
    rows = [["2001", "李明", "急诊科", ""], ["2002", "钱进", "急诊科", "李明"]]

    result = run(clinic, csv_file(rows, header=header), name="roster.csv", actor=clinic.hr.user)

    assert [(e["row"], e["column"]) for e in result.report["errors"]] == [(3, "直属上级")]
    assert "1002" in result.report["errors"][0]["message"]


def test_import_org_command_prints_and_applies_the_placed_departments(
    clinic: Clinic, tmp_path: Path
) -> None:
    path = tmp_path / "花名册.xlsx"
    path.write_bytes(hr_roster(grown_clinic_rows()))
    out = io.StringIO()

    call_command("import_org", str(path), organisation="yiyuan", stdout=out)

    assert "+ 心内科护理组" in out.getvalue()
    assert Department.objects.get(code="心内科护理组").parent == clinic.cardiology


# --- a worker that dies ------------------------------------------------------------------------

LEASE_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def abandoned(clinic: Clinic, attempts: int) -> OrgImport:
    """An import claimed by a worker that was then killed, `attempts` times over."""
    org_import = save_org_file(
        clinic.organisation,
        upload=ContentFile(xlsx(good_rows())),
        original_name="org.xlsx",
        actor=clinic.hr.user,
    )
    for _attempt in range(attempts):
        OrgImport.objects.filter(pk=org_import.pk).update(status=ImportStatus.PENDING)
        assert claim(OrgImport, org_import.pk) is not None
    org_import.refresh_from_db()
    return org_import


def test_org_import_of_a_killed_worker_stays_running_while_its_lease_holds(
    clinic: Clinic,
) -> None:
    with time_machine.travel(LEASE_START, tick=False):
        org_import = abandoned(clinic, attempts=1)
    with time_machine.travel(LEASE_START + timedelta(seconds=299), tick=False):
        assert take_back_stalled_org_imports() == 0

    org_import.refresh_from_db()
    assert org_import.status == ImportStatus.RUNNING


def test_org_import_of_a_killed_worker_is_retried_after_its_lease(
    clinic: Clinic, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(LEASE_START, tick=False):
        org_import = abandoned(clinic, attempts=1)
    with (
        time_machine.travel(LEASE_START + timedelta(minutes=6), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert take_back_stalled_org_imports() == 1

    org_import.refresh_from_db()
    assert org_import.status == ImportStatus.DONE, org_import.report
    assert org_import.attempts == 2
    assert Employee.objects.filter(employee_number="2002").exists()
    event = AuditEvent.objects.get(action="people.org_import.interrupted")
    assert event.data["attempt"] == 1


def test_org_import_of_a_killed_worker_fails_after_the_last_attempt(clinic: Clinic) -> None:
    with time_machine.travel(LEASE_START, tick=False):
        org_import = abandoned(clinic, attempts=3)
    with time_machine.travel(LEASE_START + timedelta(minutes=6), tick=False):
        assert take_back_stalled_org_imports() == 1
        assert take_back_stalled_org_imports() == 0

    org_import.refresh_from_db()
    assert org_import.status == ImportStatus.FAILED
    assert org_import.report["errors"][0]["message"].startswith(
        "The import was interrupted 3 times"
    )
    assert not Employee.objects.filter(employee_number="2002").exists()
    assert AuditEvent.objects.filter(action="people.org_import.failed").count() == 1


def test_org_import_worker_takes_back_stalled_imports_before_its_own(clinic: Clinic) -> None:
    with time_machine.travel(LEASE_START, tick=False):
        stalled = abandoned(clinic, attempts=3)
        fresh = save_org_file(
            clinic.organisation,
            upload=ContentFile(xlsx(good_rows())),
            original_name="b.xlsx",
            actor=None,
        )
    with time_machine.travel(LEASE_START + timedelta(minutes=6), tick=False):
        run_org_import_task.call(fresh.pk)

    stalled.refresh_from_db()
    fresh.refresh_from_db()
    assert stalled.status == ImportStatus.FAILED
    assert fresh.status == ImportStatus.DONE
