"""The KPI import pages: upload, progress, result, problem report, who may use them."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from miantan.core.leases import claim
from miantan.metrics.enums import ImportStatus
from miantan.metrics.models import KpiValue, MetricsImport
from miantan.metrics.packs import load_pack
from miantan.people.models import Employee
from tests.personas import Hospital, OtherOrganisation

Signer = Callable[[Employee], Client]


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
def catalogue(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "hospital", actor=None)


def csv_upload(rows: list[list[str]], name: str = "kpi.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["工号", "指标", "期间", "实际值"])
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8-sig"), "text/csv")


def upload(client: Client, file: SimpleUploadedFile, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("web:metrics_import"), {"file": file})


def foreign_import(other_org: OtherOrganisation) -> MetricsImport:
    return MetricsImport.objects.create(
        organisation=other_org.organisation, file="imports/metrics/x.csv", original_name="x.csv"
    )


def test_metrics_import_page_shows_the_form(
    hospital: Hospital, client_as: Signer, catalogue: None
) -> None:
    response = client_as(hospital.hr_partner).get(reverse("web:metrics_import"))

    assert response.status_code == 200
    assert 'data-testid="metrics-import-form"' in response.content.decode()


def test_metrics_import_upload_runs_and_shows_the_result(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    rows = [["H0011", "门诊量", "2026-11", "420"], ["H0013", "患者满意度", "2026年11月", "91%"]]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    found = MetricsImport.objects.get(organisation=hospital.organisation)
    assert response["Location"] == reverse("web:metrics_import_detail", args=[found.pk])
    assert found.status == ImportStatus.DONE
    assert found.report["summary"]["created"] == 2
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-summary"' in page
    assert "hx-trigger" not in page
    assert KpiValue.objects.count() == 2


def test_metrics_import_bad_file_lists_problems_and_downloads_them(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    rows = [["H0011", "门诊量", "2026-11", "420"], ["H0011", "手术量", "2026-11", "很多"]]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-errors"' in page
    assert "很多" in page
    assert KpiValue.objects.count() == 0
    found = MetricsImport.objects.get(organisation=hospital.organisation)
    report = client.get(reverse("web:metrics_import_report", args=[found.pk]))
    assert report.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[1][:2] == ["3", "实际值"]


def test_metrics_import_refuses_120_per_cent_naming_row_and_range(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    rows = [[number, "患者满意度", "2026-11", "90"] for number in ("H0010", "H0011", "H0012")]
    rows += [["H0013", "患者满意度", "2026-11", "88"], ["H0020", "患者满意度", "2026-11", "91"]]
    rows.append(["H0001", "患者满意度", "2026-11", "120"])

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    found = MetricsImport.objects.get(organisation=hospital.organisation)
    assert found.status == ImportStatus.REJECTED
    assert found.report["errors"] == [
        {"row": 7, "column": "实际值", "message": "患者满意度：120 超出有效范围 0–100。"}
    ]
    page = client.get(response["Location"]).content.decode()
    assert '<td data-label="行">7</td>' in page
    assert "患者满意度：120 超出有效范围 0–100。" in page
    assert KpiValue.objects.count() == 0


def test_metrics_import_reads_fractions_as_per_cent_and_says_so(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    rows = [
        ["H0011", "患者满意度", "2026-11", "0.92"],
        ["H0013", "患者满意度", "2026-11", "0.875"],
        ["H0011", "门诊量", "2026-11", "420"],
    ]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    assert sorted(KpiValue.objects.values_list("value", flat=True)) == [
        Decimal("87.5"),
        Decimal(92),
        Decimal(420),
    ]
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-notes"' in page
    assert "患者满意度：按小数读取，0.92 → 92%（共 2 个数值）。" in page


def summary_items(page: str) -> dict[str, str]:
    """The result list as the page shows it: data-count → text."""
    found = re.findall(r'<li data-count="(\w+)">([^<]*)</li>', page)
    return dict(found)


def test_metrics_import_result_counts_rows_values_and_people(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    first = [
        ["H0011", "门诊量", "2026-11", "420"],
        ["H0011", "手术量", "2026-11", "12"],
        ["H0013", "门诊量", "2026-11", "200"],
    ]
    upload(client, csv_upload(first), django_capture_on_commit_callbacks)
    second = [first[0], ["H0011", "手术量", "2026-11", "13"], ["H0013", "门诊量", "2026-11", "210"]]
    second.append(["H0013", "手术量", "2026-11", "3"])

    response = upload(client, csv_upload(second), django_capture_on_commit_callbacks)

    client.post(reverse("accounts:language"), {"language": "en"})
    page = client.get(response["Location"]).content.decode()
    assert summary_items(page) == {
        "rows": "4 rows read",
        "created": "1 new value",
        "updated": "2 values changed",
        "unchanged": "1 value unchanged",
        "people_changed": "2 people with new or changed values",
    }


def test_metrics_import_result_counts_in_chinese(
    hospital: Hospital, client_as: Signer, catalogue: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(hospital.hr_partner)
    rows = [["H0011", "门诊量", "2026-11", "420"], ["H0011", "手术量", "2026-11", "12"]]

    response = upload(client, csv_upload(rows), django_capture_on_commit_callbacks)

    assert summary_items(client.get(response["Location"]).content.decode()) == {
        "rows": "读取 2 行",
        "created": "新增 2 个数值",
        "updated": "变更 0 个数值",
        "unchanged": "0 个数值无变化",
        "people_changed": "1 人的数值有新增或变更",
    }


def test_metrics_import_result_of_an_older_import_shows_no_people_count(
    hospital: Hospital, client_as: Signer
) -> None:
    older = MetricsImport.objects.create(
        organisation=hospital.organisation,
        file="imports/metrics/a.csv",
        original_name="a.csv",
        status=ImportStatus.DONE,
        report={"summary": {"rows": 3, "created": 1, "updated": 2, "unchanged": 0}},
    )

    page = client_as(hospital.hr_partner).get(reverse("web:metrics_import_detail", args=[older.pk]))

    assert "people_changed" not in summary_items(page.content.decode())
    assert summary_items(page.content.decode())["updated"] == "变更 2 个数值"


def test_metrics_import_progress_polls_while_running(hospital: Hospital, client_as: Signer) -> None:
    pending = MetricsImport.objects.create(
        organisation=hospital.organisation, file="imports/metrics/a.csv", original_name="a.csv"
    )
    url = reverse("web:metrics_import_detail", args=[pending.pk])

    response = client_as(hospital.hr_partner).get(url, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<html" not in body
    assert f'hx-get="{url}"' in body
    assert 'hx-trigger="every 1s"' in body


def test_metrics_import_template_has_chinese_headers(hospital: Hospital, client_as: Signer) -> None:
    response = client_as(hospital.admin).get(reverse("web:metrics_import_template"))

    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header == "工号,指标,期间,实际值,目标值,来源"


@pytest.mark.parametrize("persona", ["doctor_li", "head", "executive"])
def test_metrics_import_is_forbidden_to_others(
    hospital: Hospital, client_as: Signer, persona: str
) -> None:
    client = client_as(getattr(hospital, persona))

    assert client.get(reverse("web:metrics_import")).status_code == 403
    assert client.post(reverse("web:metrics_import"), {}).status_code == 403


def test_metrics_import_of_another_organisation_is_not_found(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    theirs = foreign_import(other_org)
    client = client_as(hospital.hr_partner)

    assert client.get(reverse("web:metrics_import_detail", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("web:metrics_import_report", args=[theirs.pk])).status_code == 404


def test_metrics_import_needs_a_login(hospital: Hospital) -> None:
    response = Client().get(reverse("web:metrics_import"))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_metrics_import_is_in_the_navigation_for_hr_only(
    hospital: Hospital, client_as: Signer
) -> None:
    url = reverse("web:metrics_import")

    assert url in client_as(hospital.hr_partner).get(reverse("web:me")).content.decode()
    assert url not in client_as(hospital.doctor_li).get(reverse("web:me")).content.decode()


def test_metrics_import_detail_shows_a_killed_import_as_failed_after_its_last_attempt(
    hospital: Hospital, client_as: Signer
) -> None:
    killed_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(killed_at, tick=False):
        metrics_import = MetricsImport.objects.create(
            organisation=hospital.organisation,
            uploaded_by=hospital.hr_partner.user,
            file="imports/metrics/x.csv",
            original_name="x.csv",
        )
        for _attempt in range(3):
            MetricsImport.objects.filter(pk=metrics_import.pk).update(status=ImportStatus.PENDING)
            claim(MetricsImport, metrics_import.pk)
    url = reverse("web:metrics_import_detail", args=[metrics_import.pk])

    with time_machine.travel(killed_at + timedelta(minutes=10), tick=False):
        body = client_as(hospital.hr_partner).get(url).content.decode()

    metrics_import.refresh_from_db()
    assert metrics_import.status == ImportStatus.FAILED
    assert 'data-testid="import-failure"' in body
