"""The KPI import pages: upload, progress, result, problem report, who may use them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

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
