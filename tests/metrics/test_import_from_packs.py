"""KPI values naming KPIs that only an industry pack has: added to the catalogue from the pack
in the import's transaction; KPIs found nowhere stay row problems with the closest names."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.metrics.importing import ImportOutcome, import_values_file
from miantan.metrics.models import Kpi, KpiValue, Period
from miantan.metrics.packs import load_pack
from miantan.metrics.services import add_kpi_from_pack
from miantan.metrics.values_file import ValuesFile
from miantan.people.models import Employee
from tests.factories import api_token_for
from tests.personas import Hospital


def csv_file(*rows: str) -> io.BytesIO:
    return io.BytesIO(("工号,指标,期间,实际值\n" + "\n".join(rows) + "\n").encode("utf-8"))


def run(
    hospital: Hospital, stream: io.BytesIO, actor: Employee | None = None, **options: Any
) -> tuple[ImportOutcome, ValuesFile | None]:
    user = (actor or hospital.hr_partner).user
    return import_values_file(hospital.organisation, stream, name="kpi.csv", actor=user, **options)


def catalogue_codes(hospital: Hospital) -> list[str]:
    return sorted(
        Kpi.objects.filter(organisation=hospital.organisation).values_list("code", flat=True)
    )


def test_kpi_file_naming_pack_kpis_adds_them_to_the_catalogue(hospital: Hospital) -> None:
    stream = csv_file(
        "H0011,患者满意度,2026-11,92",
        "H0013,Patient satisfaction,2026-11,88",
        "H0011,outpatient_visits,2026-11,420",
    )

    outcome, _file = run(hospital, stream)

    assert outcome.applied, outcome.problems
    assert catalogue_codes(hospital) == ["outpatient_visits", "patient_satisfaction"]
    satisfaction = Kpi.objects.get(code="patient_satisfaction")
    assert (satisfaction.pack, satisfaction.unit, satisfaction.name_en) == (
        "hospital",
        "%",
        "Patient satisfaction",
    )
    assert (satisfaction.min_value, satisfaction.max_value) == (Decimal(0), Decimal(100))
    assert KpiValue.objects.filter(kpi=satisfaction).count() == 2


def test_kpi_file_tells_which_kpi_came_from_which_pack(hospital: Hospital) -> None:
    stream = csv_file("H0011,患者满意度,2026-11,92", "H0011,门诊量,2026-11,420")

    with translation.override("zh-hans"):
        outcome, _file = run(hospital, stream)

    assert outcome.notes == [
        "患者满意度：从“医院”指标包加入指标库。",
        "门诊量：从“医院”指标包加入指标库。",
    ]
    assert "患者满意度：从“医院”指标包加入指标库。" in outcome.message()


def test_kpi_added_from_a_pack_is_audited_once_with_the_importer(hospital: Hospital) -> None:
    stream = csv_file("H0011,患者满意度,2026-11,92", "H0013,患者满意度,2026-11,90")

    run(hospital, stream)

    events = AuditEvent.objects.filter(action="metrics.kpi.added_from_pack")
    assert [(e.actor_id, e.data) for e in events] == [
        (hospital.hr_partner.user.pk, {"kpi": "patient_satisfaction", "pack": "hospital"})
    ]


def test_rejected_kpi_file_adds_no_pack_kpi_and_says_it_would(hospital: Hospital) -> None:
    stream = csv_file("H0011,患者满意度,2026-11,92", "H9999,患者满意度,2026-11,90")

    with translation.override("en"):
        outcome, _file = run(hospital, stream)

    assert not outcome.applied
    assert [p.row for p in outcome.problems] == [3]
    assert outcome.notes[0] == (
        "Patient satisfaction: not in the KPI catalogue; importing the file adds it from the "
        "“Hospital” pack."
    )
    assert not Kpi.objects.exists()
    assert not Period.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.kpi.added_from_pack").exists()


def test_dry_run_adds_no_pack_kpi(hospital: Hospital) -> None:
    outcome, _file = run(hospital, csv_file("H0011,患者满意度,2026-11,92"), dry_run=True)

    assert outcome.created == 1
    assert not Kpi.objects.exists()


def test_unknown_kpi_is_a_problem_of_its_row_with_close_names(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "hospital", actor=None)
    stream = csv_file("H0011,患者满意,2026-11,92", "H0011,patient_satisfacton,2026-11,92")

    with translation.override("zh-hans"):
        outcome, values_file = run(hospital, stream)

    errors = outcome.row_errors(values_file)
    assert [(e.row, e.column) for e in errors] == [(2, "指标"), (3, "指标")]
    assert errors[0].message.startswith(
        "指标库和行业指标包中都没有代码或名称为 患者满意 的指标。相近的名称：“患者满意度”"
    )
    assert "“patient_satisfaction”" in errors[1].message
    assert catalogue_codes(hospital) == sorted(
        ["outpatient_visits", "surgeries", "patient_satisfaction", "medical_record_quality"]
    )


def test_unknown_kpi_close_to_nothing_is_named_without_suggestions(hospital: Hospital) -> None:
    with translation.override("en"):
        outcome, _file = run(hospital, csv_file("H0011,bedside_manner,2026-11,3"))

    assert [p.message for p in outcome.problems] == [
        "No KPI in the catalogue or in the industry packs has the code or name bedside_manner."
    ]
    assert not Kpi.objects.exists()


def test_kpi_name_two_catalogue_kpis_share_is_never_taken_from_a_pack(hospital: Hospital) -> None:
    for code in ("satisfaction_ward", "satisfaction_clinic"):
        Kpi.objects.create(organisation=hospital.organisation, code=code, name="患者满意度")

    with translation.override("en"):
        outcome, _file = run(hospital, csv_file("H0011,患者满意度,2026-11,92"))

    assert outcome.problems[0].message == (
        "Several KPIs in the catalogue are called 患者满意度; write the KPI's code instead."
    )
    assert catalogue_codes(hospital) == ["satisfaction_clinic", "satisfaction_ward"]


def test_pack_kpi_whose_code_the_catalogue_uses_is_refused_naming_it(hospital: Hospital) -> None:
    Kpi.objects.create(
        organisation=hospital.organisation, code="patient_satisfaction", name="住院满意度"
    )

    with translation.override("en"):
        outcome, _file = run(hospital, csv_file("H0011,患者满意度,2026-11,92"))

    assert "which the catalogue uses for 住院满意度" in outcome.problems[0].message
    assert Kpi.objects.count() == 1


def test_importer_who_may_not_change_the_catalogue_adds_no_pack_kpi(hospital: Hospital) -> None:
    # HR for one department only: the uploader of a file whose rights changed meanwhile.
    with translation.override("en"):
        outcome, _file = run(
            hospital, csv_file("H0011,患者满意度,2026-11,92"), actor=hospital.hr_cardiology
        )

    assert outcome.problems[0].message.startswith(
        "患者满意度 is a KPI of the “Hospital” pack but not in the catalogue"
    )
    assert not Kpi.objects.exists()
    assert not KpiValue.objects.exists()


def test_pushed_values_add_pack_kpis_like_a_file(hospital: Hospital) -> None:
    _token, secret = api_token_for(hospital.hr_partner)
    client = Client(headers={"authorization": f"Bearer {secret}", "accept-language": "en"})
    items = [
        {"employee_number": "H0011", "kpi": "surgeries", "period": "2026-11", "value": 3},
        {"employee_number": "H0013", "kpi": "患者满意度", "period": "2026-11", "value": 0.915},
    ]

    response = client.post(
        "/api/v1/metrics/values", {"values": items}, content_type="application/json"
    )

    assert response.status_code == 200, response.json()
    notes = response.json()["notes"]
    assert len(notes) == 3
    assert all("added to the KPI catalogue from the “Hospital” pack" in n for n in notes[:2])
    assert "read as fractions" in notes[2]
    assert KpiValue.objects.get(kpi__code="patient_satisfaction").value == Decimal("91.5")


def test_pushed_values_naming_an_unknown_kpi_add_nothing(hospital: Hospital) -> None:
    _token, secret = api_token_for(hospital.hr_partner)
    client = Client(headers={"authorization": f"Bearer {secret}"})
    items = [
        {"employee_number": "H0011", "kpi": "surgeries", "period": "2026-11", "value": 3},
        {"employee_number": "H0011", "kpi": "surgery_count", "period": "2026-11", "value": 3},
    ]

    response = client.post(
        "/api/v1/metrics/values", {"values": items}, content_type="application/json"
    )

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, "kpi")]
    assert not Kpi.objects.exists()


@pytest.mark.parametrize(
    "persona", ["hr_cardiology", "head", "head_nurse", "doctor_li", "executive"]
)
def test_adding_a_pack_kpi_is_refused_to_who_may_not_change_the_catalogue(
    hospital: Hospital, persona: str
) -> None:
    actor = getattr(hospital, persona).user

    with pytest.raises(PermissionDenied):
        add_kpi_from_pack(hospital.organisation, "hospital", "surgeries", actor=actor)

    assert not Kpi.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.kpi.added_from_pack").exists()


def test_adding_a_pack_kpi_the_catalogue_has_is_refused(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "hospital", actor=None)

    with pytest.raises(DomainError):
        add_kpi_from_pack(hospital.organisation, "hospital", "surgeries", actor=hospital.admin.user)

    assert Kpi.objects.filter(code="surgeries").count() == 1
