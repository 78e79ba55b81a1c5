"""The metrics API: other systems push KPI values; employees read the catalogue."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from miantan.audit.models import AuditEvent
from miantan.metrics.importing import MAX_REPORTED_PROBLEMS
from miantan.metrics.models import Kpi, KpiValue
from miantan.metrics.packs import load_pack
from miantan.people.models import Employee
from tests.factories import api_token_for
from tests.personas import Hospital

URL = "/api/v1/metrics/values"


@pytest.fixture
def catalogue(hospital: Hospital) -> list[Kpi]:
    return load_pack(hospital.organisation, "hospital", actor=None)


def push(client: Client, values: Any) -> Any:
    return client.post(URL, {"values": values}, content_type="application/json")


def his_client(employee: Employee) -> Client:
    _token, secret = api_token_for(employee)
    return Client(headers={"authorization": f"Bearer {secret}"})


GOOD = [
    {"employee_number": "H0011", "kpi": "outpatient_visits", "period": "2026-11", "value": 420},
    {"employee_number": "H0013", "kpi": "患者满意度", "period": "2026年11月", "value": "91.5%"},
    {
        "employee_number": "H0010",
        "kpi": "surgeries",
        "period": "2026-11",
        "value": 12.5,
        "target": 10,
    },
]


def test_push_values_upserts_the_values(hospital: Hospital, catalogue: Any) -> None:
    response = push(his_client(hospital.hr_partner), GOOD)

    assert response.status_code == 200, response.json()
    assert response.json() | {"detail": ""} == {
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "people": 3,
        "people_changed": 3,
        "notes": [],
        "detail": "",
    }
    surgeries = KpiValue.objects.get(employee=hospital.head, kpi__code="surgeries")
    assert (surgeries.value, surgeries.target, surgeries.source) == (
        Decimal("12.5"),
        Decimal("10"),
        "api",
    )
    assert AuditEvent.objects.filter(action="metrics.import.applied").count() == 1


def test_push_same_values_again_changes_nothing(hospital: Hospital, catalogue: Any) -> None:
    client = his_client(hospital.admin)
    push(client, GOOD)

    response = push(client, GOOD)

    assert response.json()["unchanged"] == 3
    assert response.json()["created"] == response.json()["updated"] == 0


def test_push_with_bad_items_writes_nothing_and_lists_them(
    hospital: Hospital, catalogue: Any
) -> None:
    items = [
        *GOOD,
        {"employee_number": "H9999", "kpi": "surgeries", "period": "2026-11", "value": 1},
        {"employee_number": "H0011", "kpi": "surgeries", "period": "someday", "value": "x"},
        GOOD[0],
    ]

    response = push(his_client(hospital.hr_partner), items)

    assert response.status_code == 400
    located = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert located == [(3, "employee_number"), (4, "period"), (4, "value"), (5, "kpi")]
    assert KpiValue.objects.count() == 0


def test_push_refuses_a_body_without_values(hospital: Hospital, catalogue: Any) -> None:
    client = his_client(hospital.hr_partner)

    response = client.post(URL, "not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"] == []


def test_push_refuses_more_than_the_limit(
    hospital: Hospital, catalogue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("miantan.api.v1.metrics.MAX_ITEMS", 2)

    response = push(his_client(hospital.hr_partner), GOOD)

    assert response.status_code == 400
    assert KpiValue.objects.count() == 0


def test_push_reports_at_most_the_limit_of_problems(hospital: Hospital, catalogue: Any) -> None:
    bad = {"employee_number": "H9999", "kpi": "surgeries", "period": "2026-11", "value": 1}

    response = push(his_client(hospital.hr_partner), [bad] * (MAX_REPORTED_PROBLEMS + 5))

    assert response.status_code == 400
    assert len(response.json()["errors"]) == MAX_REPORTED_PROBLEMS


@pytest.mark.parametrize("persona", ["doctor_li", "head", "executive"])
def test_push_is_forbidden_without_organisation_wide_hr_or_admin(
    hospital: Hospital, catalogue: Any, persona: str
) -> None:
    response = push(his_client(getattr(hospital, persona)), GOOD)

    assert response.status_code == 403
    assert KpiValue.objects.count() == 0


def test_push_needs_authentication(hospital: Hospital, catalogue: Any) -> None:
    response = push(Client(), GOOD)

    assert response.status_code == 401


def test_list_kpis_shows_the_own_catalogue(
    hospital: Hospital, catalogue: Any, other_org: Any, client_as: Callable[[Employee], Client]
) -> None:
    load_pack(other_org.organisation, "rnd", actor=None)

    response = client_as(hospital.nurse_wang).get("/api/v1/metrics/kpis")

    assert response.status_code == 200
    assert [kpi["name"] for kpi in response.json()] == [
        "病历书写质量",
        "门诊量",
        "患者满意度",
        "手术量",
    ]


def test_push_reads_fractions_of_a_per_cent_kpi_and_says_so(
    hospital: Hospital, catalogue: Any
) -> None:
    items = [
        {"employee_number": number, "kpi": "患者满意度", "period": "2026-11", "value": value}
        for number, value in (("H0011", 0.92), ("H0013", 0.875))
    ]

    response = push(his_client(hospital.hr_partner), items)

    assert response.status_code == 200, response.json()
    assert len(response.json()["notes"]) == 1
    assert response.json()["notes"][0] in response.json()["detail"]
    satisfaction = KpiValue.objects.get(employee=hospital.nurse_wang)
    assert satisfaction.value == Decimal("87.5")


def test_push_refuses_a_value_outside_the_range(hospital: Hospital, catalogue: Any) -> None:
    items = [{"employee_number": "H0011", "kpi": "surgeries", "period": "2026-11", "value": -1}]

    response = push(his_client(hospital.hr_partner), items)

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "value")]
    assert not KpiValue.objects.exists()


def test_list_kpis_shows_each_range(
    hospital: Hospital, catalogue: Any, client_as: Callable[[Employee], Client]
) -> None:
    response = client_as(hospital.nurse_wang).get("/api/v1/metrics/kpis")

    ranges = {kpi["code"]: (kpi["min_value"], kpi["max_value"]) for kpi in response.json()}
    assert ranges["patient_satisfaction"] == ("0.0000", "100.0000")
    assert ranges["surgeries"] == ("0.0000", None)


def test_list_kpis_needs_authentication(hospital: Hospital) -> None:
    assert Client().get("/api/v1/metrics/kpis").status_code == 401
