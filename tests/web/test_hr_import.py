"""The organisation import pages: upload, progress, result, report download, who may use them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from miantan.core.leases import claim
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
    rows = [["2001", "赵强", "JZK", "8888"], ["2002", "", "JZK", "7777"]]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-errors"' in page
    assert "8888" in page and "7777" in page
    assert page.count("<tr><td data-label=") == 3
    assert not Employee.objects.filter(employee_number__in=["2001", "2002"]).exists()


def test_org_import_report_downloads_as_csv_excel_can_read(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in(setting.hr)
    upload(
        client, csv_upload([["2001", "赵强", "JZK", "8888"]]), django_capture_on_commit_callbacks
    )
    org_import = OrgImport.objects.get(organisation=setting.organisation)

    report = client.get(reverse("web:org_import_report", args=[org_import.pk]))

    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    assert report.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Column", "Problem"]
    assert rows[1][:2] == ["2", "上级工号"]
    assert "8888" in rows[1][2]


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


# --- departments placed by the reporting line: preview, confirm, discard ------------------------


def upload_new_department(setting: Setting, capture: Any) -> OrgImport:
    """急诊二组 does not exist: its head reports to the HR partner (top department)."""
    rows = [["2001", "赵强", "急诊二组", "9001"], ["2002", "钱进", "急诊二组", "2001"]]
    upload(signed_in(setting.hr), csv_upload(rows), capture)
    return OrgImport.objects.get(organisation=setting.organisation)


def test_org_import_preview_shows_the_placed_departments_and_saves_nothing(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    checked = upload_new_department(setting, django_capture_on_commit_callbacks)

    page = signed_in(setting.hr).get(reverse("web:org_import_detail", args=[checked.pk]))

    body = page.content.decode()
    assert checked.status == ImportStatus.CHECKED
    assert 'data-testid="department-tree"' in body
    assert "急诊二组" in body and "孙丽 (9001)" in body
    assert reverse("web:org_import_confirm", args=[checked.pk]) in body
    assert "hx-trigger" not in body
    assert not Employee.objects.filter(employee_number="2001").exists()


def test_org_import_confirm_creates_the_departments_and_imports(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    checked = upload_new_department(setting, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(setting.hr).post(reverse("web:org_import_confirm", args=[checked.pk]))

    assert response.status_code == 302
    checked.refresh_from_db()
    assert checked.status == ImportStatus.DONE
    zhao = Employee.objects.get(employee_number="2001")
    assert zhao.department.name == "急诊二组"
    assert zhao.department.parent == setting.organisation.departments.get(code="H")


def test_org_import_discard_leaves_everything_as_it_was(
    setting: Setting, django_capture_on_commit_callbacks: Any
) -> None:
    checked = upload_new_department(setting, django_capture_on_commit_callbacks)

    response = signed_in(setting.hr).post(reverse("web:org_import_discard", args=[checked.pk]))

    assert response.status_code == 302
    checked.refresh_from_db()
    assert checked.status == ImportStatus.DISCARDED
    assert not setting.organisation.departments.filter(name="急诊二组").exists()
    again = signed_in(setting.hr).post(reverse("web:org_import_confirm", args=[checked.pk]))
    assert again.status_code == 302  # refused with a message, nothing applied
    checked.refresh_from_db()
    assert checked.status == ImportStatus.DISCARDED


@pytest.mark.parametrize("name", ["web:org_import_confirm", "web:org_import_discard"])
def test_org_import_confirm_and_discard_are_forbidden_to_a_plain_employee(
    setting: Setting, django_capture_on_commit_callbacks: Any, name: str
) -> None:
    checked = upload_new_department(setting, django_capture_on_commit_callbacks)

    response = signed_in(setting.doctor).post(reverse(name, args=[checked.pk]))

    assert response.status_code == 403
    checked.refresh_from_db()
    assert checked.status == ImportStatus.CHECKED


@pytest.mark.parametrize("name", ["web:org_import_confirm", "web:org_import_discard"])
def test_org_import_confirm_of_another_organisation_is_not_found(
    setting: Setting, name: str
) -> None:
    response = signed_in(setting.hr).post(reverse(name, args=[setting.other_import.pk]))

    assert response.status_code == 404


def test_org_import_confirm_needs_a_post(setting: Setting) -> None:
    mine = save_org_file(
        setting.organisation, upload=ContentFile(b"x"), original_name="a.csv", actor=None
    )

    response = signed_in(setting.hr).get(reverse("web:org_import_confirm", args=[mine.pk]))

    assert response.status_code == 405


# --- an import whose worker died -----------------------------------------------------------------

KILLED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def killed(setting: Setting, attempts: int) -> OrgImport:
    with time_machine.travel(KILLED_AT, tick=False):
        org_import = save_org_file(
            setting.organisation,
            upload=ContentFile(csv_upload([["2001", "赵强", "JZK", ""]]).read()),
            original_name="org.csv",
            actor=setting.hr.user,
        )
        for _attempt in range(attempts):
            OrgImport.objects.filter(pk=org_import.pk).update(status=ImportStatus.PENDING)
            claim(OrgImport, org_import.pk)
    return org_import


def test_org_import_detail_shows_a_killed_import_as_failed_after_its_last_attempt(
    setting: Setting,
) -> None:
    org_import = killed(setting, attempts=3)

    with time_machine.travel(KILLED_AT + timedelta(minutes=10), tick=False):
        page = signed_in(setting.hr).get(reverse("web:org_import_detail", args=[org_import.pk]))

    body = page.content.decode()
    assert 'data-status="failed"' in body
    assert 'data-testid="import-failure"' in body
    assert "interrupted 3 times" in body


def test_org_import_detail_shows_a_killed_import_being_tried_again(setting: Setting) -> None:
    org_import = killed(setting, attempts=1)

    with time_machine.travel(KILLED_AT + timedelta(minutes=10), tick=False):
        # The retry is queued when the page's transaction commits; here it stays queued.
        page = signed_in(setting.hr).get(reverse("web:org_import_detail", args=[org_import.pk]))

    body = page.content.decode()
    assert 'data-status="pending"' in body
    assert 'data-testid="import-retrying"' in body
    assert "attempt 2 of 3" in body
