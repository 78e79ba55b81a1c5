"""The organisation import: reading files, checking every row, applying all or nothing."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook

from miantan.audit.models import AuditEvent
from miantan.people.enums import EmploymentStatus, ImportStatus, Language, Role
from miantan.people.importing import check_org_file, run_org_import, save_org_file
from miantan.people.models import Department, Employee, Organisation, OrgImport, Position
from miantan.people.org_file import parse_date, read_org_file
from miantan.people.services import assign_role, create_department, create_employee

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
        ["2005", "郑毅", "牙科", None, "", None, "", "", ""],  # 8: unknown department
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
    assert "牙科" in messages[8, "部门"]


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
