"""The organisation import pages: upload, progress, result, report download, who may use them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from miantan.people.enums import ImportStatus, Language, Role
from miantan.people.importing import save_org_file
from miantan.people.models import Employee, Organisation, OrgImport
from miantan.people.services import assign_role, create_department, create_employee


@dataclass(frozen=True)
class Setting:
    organisation: Organisation
    hr: Employee
    doctor: Employee
    other_import: OrgImport


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }


@pytest.fixture
def setting(db: None) -> Setting:
    """市第一人民医院 with HR partner 孙丽 and doctor 李明; 星河科技 has an import of its own."""
    org = Organisation.objects.create(name="市第一人民医院", slug="yiyuan")
    root = create_department(org, code="H", name="市第一人民医院")
    create_department(org, code="JZK", name="急诊科", parent=root)
    hr = create_employee(
        org, employee_number="9001", name="孙丽", department=root, language=Language.EN
    )
    assign_role(hr, role=Role.HR, department=root, actor=None)
    doctor = create_employee(org, employee_number="1002", name="李明", department=root)
    other = Organisation.objects.create(name="星河科技", slug="xinghe")
    other_import = save_org_file(
        other, upload=ContentFile(b"x"), original_name="theirs.csv", actor=None
    )
    return Setting(org, hr, doctor, other_import)


def signed_in(employee: Employee) -> Client:
    client = Client()
    client.force_login(employee.user)
    return client


def csv_upload(rows: list[list[str]], name: str = "org.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["工号", "姓名", "部门", "上级工号"])
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8-sig"), "text/csv")


def upload(client: Client, file: SimpleUploadedFile, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("web:org_import"), {"file": file})


def test_org_import_page_shows_the_form_and_recent_imports(setting: Setting) -> None:
    save_org_file(
        setting.organisation, upload=ContentFile(b"x"), original_name="earlier.csv", actor=None
    )

    response = signed_in(setting.hr).get(reverse("web:org_import"))

    assert response.status_code == 200
    assert b'type="file"' in response.content
    assert "earlier.csv" in response.content.decode()
    assert "theirs.csv" not in response.content.decode()


def test_org_import_upload_runs_and_shows_the_result(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(setting.hr)

    response = upload(
        client,
        csv_upload([["2001", "赵强", "急诊科", ""], ["2002", "钱进", "JZK", "2001"]]),
        django_capture_on_commit_callbacks,
    )

    org_import = OrgImport.objects.get(organisation=setting.organisation)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:org_import_detail", args=[org_import.pk])
    assert org_import.status == ImportStatus.DONE
    assert org_import.uploaded_by == setting.hr.user
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-summary"' in page
    assert "钱进 (2002)" in page
    assert "hx-trigger" not in page
    assert Employee.objects.get(employee_number="2002").manager.employee_number == "2001"


def test_org_import_bad_file_shows_every_bad_row(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(setting.hr)
    rows = [["2001", "赵强", "牙科", ""], ["2002", "", "JZK", "7777"]]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-errors"' in page
    assert "牙科" in page and "7777" in page
    assert page.count("<tr><td data-label=") == 3
    assert not Employee.objects.filter(employee_number__in=["2001", "2002"]).exists()


def test_org_import_report_downloads_as_csv_excel_can_read(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(setting.hr)
    upload(client, csv_upload([["2001", "赵强", "牙科", ""]]), django_capture_on_commit_callbacks)
    org_import = OrgImport.objects.get(organisation=setting.organisation)

    report = client.get(reverse("web:org_import_report", args=[org_import.pk]))

    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    assert report.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Column", "Problem"]
    assert rows[1][:2] == ["2", "部门"]
    assert "牙科" in rows[1][2]


def test_org_import_progress_polls_while_running(setting: Setting) -> None:
    pending = save_org_file(
        setting.organisation, upload=ContentFile(b"x"), original_name="a.csv", actor=None
    )
    url = reverse("web:org_import_detail", args=[pending.pk])

    response = signed_in(setting.hr).get(url, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<html" not in body
    assert f'hx-get="{url}"' in body
    assert 'hx-trigger="every 1s"' in body
    assert 'hx-swap="outerHTML"' in body


def test_org_import_template_downloads_with_chinese_headers(setting: Setting) -> None:
    response = signed_in(setting.hr).get(reverse("web:org_import_template"))

    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert response.content.startswith("\ufeff".encode())
    assert header[:4] == ["工号", "姓名", "部门", "上级部门"]


def test_org_import_upload_refuses_other_file_types(setting: Setting) -> None:
    file = SimpleUploadedFile("org.xls", b"old excel", "application/vnd.ms-excel")

    response = signed_in(setting.hr).post(reverse("web:org_import"), {"file": file})

    assert response.status_code == 200
    assert "Only .xlsx and .csv files can be imported." in response.content.decode()
    assert not OrgImport.objects.filter(organisation=setting.organisation).exists()


@pytest.mark.parametrize("name", ["web:org_import", "web:org_import_template"])
def test_org_import_pages_are_forbidden_to_a_plain_employee(setting: Setting, name: str) -> None:
    assert signed_in(setting.doctor).get(reverse(name)).status_code == 403


def test_org_import_upload_is_forbidden_to_a_plain_employee(setting: Setting) -> None:
    response = signed_in(setting.doctor).post(reverse("web:org_import"), {"file": csv_upload([])})

    assert response.status_code == 403
    assert not OrgImport.objects.filter(organisation=setting.organisation).exists()


def test_org_import_detail_is_forbidden_to_a_plain_employee(setting: Setting) -> None:
    mine = save_org_file(
        setting.organisation, upload=ContentFile(b"x"), original_name="a.csv", actor=None
    )

    response = signed_in(setting.doctor).get(reverse("web:org_import_detail", args=[mine.pk]))

    assert response.status_code == 403


@pytest.mark.parametrize("name", ["web:org_import_detail", "web:org_import_report"])
def test_org_import_of_another_organisation_is_not_found(setting: Setting, name: str) -> None:
    response = signed_in(setting.hr).get(reverse(name, args=[setting.other_import.pk]))

    assert response.status_code == 404


def test_org_import_pages_need_a_login(setting: Setting) -> None:
    response = Client().get(reverse("web:org_import"))

    assert response.status_code == 302


def test_org_import_appears_in_the_navigation_for_hr_only(setting: Setting) -> None:
    url = reverse("web:org_import")

    assert url in signed_in(setting.hr).get(reverse("web:me")).content.decode()
    assert url not in signed_in(setting.doctor).get(reverse("web:me")).content.decode()


def test_org_import_is_forbidden_to_hr_scoped_to_one_department(setting: Setting) -> None:
    """An import can change anyone, so HR of a single department may not run one."""
    emergency = setting.organisation.departments.get(code="JZK")
    narrow_hr = create_employee(
        setting.organisation, employee_number="9002", name="周洁", department=emergency
    )
    assign_role(narrow_hr, role=Role.HR, department=emergency, actor=None)
    client = signed_in(narrow_hr)

    assert client.get(reverse("web:org_import")).status_code == 403
    assert client.post(reverse("web:org_import"), {"file": csv_upload([])}).status_code == 403
    assert b'href="/hr/import/"' not in client.get(reverse("web:roles")).content
