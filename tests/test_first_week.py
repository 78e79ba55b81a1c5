"""A new customer's first week, end to end on an empty database: the organisation is created
from a script, the roster (花名册) and a month of KPI values are imported as HR keeps them
(title rows, merged cells, notes under the data, a 部门 column without parent departments,
satisfaction as fractions), with no other step; a bad month is refused by row and range."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook

from miantan.audit.models import AuditEvent
from miantan.metrics.models import Kpi, KpiValue, Period
from miantan.people.models import Department, Employee, Organisation

PASSWORD = "Violet-tiger-2027!"
# A Monday morning in the first week, in Beijing.
FIRST_WEEK = datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))

# The roster as HR keeps it: no parent-department column, the director in the hospital itself.
ROSTER_HEADER = ["工号", "姓名", "部门", "上级工号", "岗位", "入职日期"]
ROSTER: list[list[Any]] = [
    ["R0002", "王建国", "仁和医院", None, "院长", datetime(2015, 3, 1)],
    ["R0010", "陈静", "内科", "R0002", "主任医师", datetime(2016, 9, 1)],
    ["R0011", "李明", "心内科", "R0010", "医师", datetime(2019, 7, 15)],
    ["R0012", "刘洋", "心内科", "R0011", "医师", datetime(2021, 8, 2)],
    ["R0013", "周敏", "心内科", "R0011", "护士", datetime(2022, 2, 14)],
    ["R0020", "张伟", "外科", "R0002", "主任医师", datetime(2017, 4, 10)],
    ["R0021", "赵丽", "骨科", "R0020", "医师", datetime(2020, 11, 23)],
]
KPI_HEADER = ["工号", "指标", "期间", "实际值"]
NOVEMBER: list[list[Any]] = [
    ["R0011", "患者满意度", "2026-11", 0.92],
    ["R0012", "患者满意度", "2026-11", 0.885],
    ["R0013", "患者满意度", "2026-11", 0.9],
    ["R0021", "患者满意度", "2026-11", 0.95],
    ["R0011", "门诊量", "2026-11", 420],
    ["R0012", "门诊量", "2026-11", 388],
]
# Row 4 of the file (title in row 1, headers in row 2) has a satisfaction of 120.
DECEMBER: list[list[Any]] = [
    ["R0011", "患者满意度", "2026-12", 95],
    ["R0012", "患者满意度", "2026-12", 120],
    ["R0011", "门诊量", "2026-12", 430],
]


@pytest.fixture(autouse=True)
def _first_week(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    monkeypatch.setenv("MIANTAN_ADMIN_PASSWORD", PASSWORD)
    with time_machine.travel(FIRST_WEEK, tick=False), translation.override("zh-hans"):
        yield


def workbook(title: str, header: list[str], rows: list[list[Any]], notes: list[str]) -> bytes:
    """A sheet as HR sends it: a title merged across the columns, a blank row, the header,
    the data, a blank row and notes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.cell(row=1, column=1, value=title)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    lines = [header, *rows] if not notes else [header, *rows, [], *[[note] for note in notes]]
    for number, cells in enumerate(lines, start=3):
        for column, value in enumerate(cells, start=1):
            if value is not None:
                sheet.cell(row=number, column=column, value=value)
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


def kpi_workbook(title: str, rows: list[list[Any]]) -> bytes:
    """KPI values with the title right above the header (no blank row) and a note below."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(KPI_HEADER))
    sheet.append(KPI_HEADER)
    for row in rows:
        sheet.append(row)
    sheet.append(["制表：人力资源部"])
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()


def roster_file() -> bytes:
    return workbook("仁和医院 2026年花名册", ROSTER_HEADER, ROSTER, ["制表：人力资源部"])


def written(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def run(command: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def create_renhe() -> Organisation:
    run(
        "create_organisation",
        "renhe",
        "仁和医院",
        "--admin-username",
        "zheng",
        "--admin-name",
        "郑敏",
        "--admin-number",
        "R0001",
    )
    return Organisation.objects.get(slug="renhe")


def parents(organisation: Organisation) -> dict[str, str | None]:
    return {
        department.name: department.parent.name if department.parent else None
        for department in Department.objects.filter(organisation=organisation).select_related(
            "parent"
        )
    }


def value_of(number: str, kpi: str, period: str) -> Decimal:
    return KpiValue.objects.get(
        employee__employee_number=number, kpi__name=kpi, period__label=period
    ).value


def changes_counted() -> tuple[int, ...]:
    return (
        KpiValue.objects.count(),
        Kpi.objects.count(),
        Period.objects.count(),
        AuditEvent.objects.count(),
    )


EXPECTED_TREE = {
    "仁和医院": None,
    "内科": "仁和医院",
    "心内科": "内科",
    "外科": "仁和医院",
    "骨科": "外科",
}


# --- from the command line -------------------------------------------------------------------


def test_first_week_from_the_command_line_imports_real_files_without_other_steps(
    db: None, tmp_path: Path
) -> None:
    organisation = create_renhe()

    out, _err = run("import_org", str(written(tmp_path, "花名册.xlsx", roster_file())))

    assert "第 3 行" in out  # where the header was found, the title above it skipped
    assert "制表：人力资源部" in out
    assert parents(organisation) == EXPECTED_TREE
    li = Employee.objects.get(employee_number="R0011")
    assert li.manager is not None
    assert (li.name, li.department.name, li.manager.name) == ("李明", "心内科", "陈静")
    assert Employee.objects.filter(organisation=organisation).count() == len(ROSTER) + 1

    november = kpi_workbook("仁和医院 2026年11月 绩效考核数据", NOVEMBER)
    out, _err = run("import_metrics", str(written(tmp_path, "11月绩效.xlsx", november)))

    assert "患者满意度：从“医院”指标包加入指标库。" in out
    assert "门诊量：从“医院”指标包加入指标库。" in out
    assert "患者满意度：按小数读取，0.92 → 92%（共 4 个数值）。" in out
    assert value_of("R0011", "患者满意度", "2026-11") == Decimal("92.0")
    assert value_of("R0012", "患者满意度", "2026-11") == Decimal("88.5")
    assert value_of("R0021", "患者满意度", "2026-11") == Decimal("95")
    assert value_of("R0012", "门诊量", "2026-11") == Decimal("388")
    satisfaction = Kpi.objects.get(organisation=organisation, name="患者满意度")
    assert (satisfaction.pack, satisfaction.min_value, satisfaction.max_value) == (
        "hospital",
        Decimal(0),
        Decimal(100),
    )


def test_first_week_kpi_file_with_120_per_cent_is_refused_by_row_and_range(
    db: None, tmp_path: Path
) -> None:
    create_renhe()
    run("import_org", str(written(tmp_path, "花名册.xlsx", roster_file())))
    november = kpi_workbook("仁和医院 2026年11月 绩效考核数据", NOVEMBER)
    run("import_metrics", str(written(tmp_path, "11月绩效.xlsx", november)))
    before = changes_counted()

    december = kpi_workbook("仁和医院 2026年12月 绩效考核数据", DECEMBER)
    err = io.StringIO()
    with pytest.raises(CommandError, match="未做任何更改"):
        call_command(
            "import_metrics",
            str(written(tmp_path, "12月绩效.xlsx", december)),
            stdout=io.StringIO(),
            stderr=err,
        )

    assert err.getvalue().splitlines() == ["第 4 行, 实际值: 患者满意度：120 超出有效范围 0–100。"]
    assert changes_counted() == before
    assert not Period.objects.filter(label="2026-12").exists()


def test_create_organisation_with_an_industry_starts_with_its_kpi_pack(db: None) -> None:
    out, _err = run("create_organisation", "huaxing", "华星智造", "--industry", "manufacturing")

    organisation = Organisation.objects.get(slug="huaxing")
    codes = set(Kpi.objects.filter(organisation=organisation).values_list("code", flat=True))
    assert codes == {"defect_rate", "capacity_utilisation", "process_skill_level"}
    assert "manufacturing" in out


def test_create_organisation_with_an_unknown_industry_creates_nothing(db: None) -> None:
    with pytest.raises(CommandError, match="--industry"):
        run("create_organisation", "huaxing", "华星智造", "--industry", "shipbuilding")

    assert not Organisation.objects.exists()
    assert not AuditEvent.objects.exists()


# --- in the browser, as the administrator the command created -------------------------------


def signed_in_administrator() -> Client:
    client = Client()
    assert client.login(username="zheng", password=PASSWORD)
    return client


def upload(client: Client, url: str, name: str, content: bytes, capture: Any) -> str:
    """Upload a file on an import page; the background import runs when the upload commits.
    Returns the address of the import's page."""
    file = SimpleUploadedFile(name, content, "application/octet-stream")
    with capture(execute=True):
        response = client.post(reverse(url), {"file": file})
    assert response.status_code == 302, response.content[:500]
    return str(response["Location"])


def test_first_week_in_the_browser_previews_the_inferred_tree_then_imports(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    organisation = create_renhe()
    client = signed_in_administrator()

    detail = upload(
        client, "web:org_import", "花名册.xlsx", roster_file(), django_capture_on_commit_callbacks
    )
    preview = client.get(detail).content.decode()

    assert 'data-testid="department-tree"' in preview
    assert 'data-testid="confirm-import"' in preview
    for name in ("内科", "心内科", "外科", "骨科"):
        assert name in preview
    # Nothing is saved before the tree is confirmed.
    assert Employee.objects.filter(organisation=organisation).count() == 1
    assert parents(organisation) == {"仁和医院": None}

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(detail.rstrip("/") + "/confirm/")
    assert confirmed.status_code == 302

    assert parents(organisation) == EXPECTED_TREE
    assert Employee.objects.filter(organisation=organisation).count() == len(ROSTER) + 1
    assert 'data-status="done"' in client.get(detail).content.decode()


def test_first_week_in_the_browser_imports_kpis_and_refuses_120_per_cent(
    db: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    create_renhe()
    run("import_org", str(written(tmp_path, "花名册.xlsx", roster_file())))
    client = signed_in_administrator()
    november = kpi_workbook("仁和医院 2026年11月 绩效考核数据", NOVEMBER)

    detail = upload(
        client, "web:metrics_import", "11月绩效.xlsx", november, django_capture_on_commit_callbacks
    )
    page = client.get(detail).content.decode()

    assert "患者满意度：从“医院”指标包加入指标库。" in page
    assert "患者满意度：按小数读取，0.92 → 92%（共 4 个数值）。" in page
    assert value_of("R0011", "患者满意度", "2026-11") == Decimal("92")
    before = changes_counted()

    december = kpi_workbook("仁和医院 2026年12月 绩效考核数据", DECEMBER)
    detail = upload(
        client, "web:metrics_import", "12月绩效.xlsx", december, django_capture_on_commit_callbacks
    )
    page = client.get(detail).content.decode()

    assert "患者满意度：120 超出有效范围 0–100。" in page
    assert ">4</td>" in page
    # The upload itself is kept (with its report), nothing else changes.
    assert changes_counted()[:3] == before[:3]
    assert not Period.objects.filter(label="2026-12").exists()
