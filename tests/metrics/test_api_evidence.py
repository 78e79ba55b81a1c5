"""/api/v1/people/{id}/evidence: the evidence log over the API, with the rules of the pages."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from miantan.audit.models import AuditEvent
from miantan.metrics.enums import EvidenceKind
from miantan.metrics.models import EvidenceEntry
from miantan.people.models import Employee
from tests.factories import api_token_for
from tests.metrics.kpi_builders import kpi
from tests.personas import Hospital


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to("2026-07-10 10:00 +08:00")


def url(employee: Employee) -> str:
    return reverse("api-v1:record_evidence_entry", kwargs={"employee_id": employee.pk})


def post(client: Client, employee: Employee, **changes):
    body = {"kind": "negative", "happened_on": "2026-07-01", "text": "交班记录不完整"} | changes
    return client.post(url(employee), json.dumps(body), content_type="application/json")


def entry(hospital: Hospital, employee: Employee, text: str, on: date) -> EvidenceEntry:
    return EvidenceEntry.objects.create(
        organisation=hospital.organisation,
        employee=employee,
        author=hospital.head_nurse,
        kind=EvidenceKind.POSITIVE,
        happened_on=on,
        text=text,
    )


# --- reading ----------------------------------------------------------------------------------


def test_api_evidence_list_newest_first(hospital: Hospital, client_as):
    entry(hospital, hospital.nurse_wang, "older", date(2026, 5, 1))
    entry(hospital, hospital.nurse_wang, "newer", date(2026, 6, 1))

    response = client_as(hospital.head_nurse).get(url(hospital.nurse_wang))

    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["text"] for item in items] == ["newer", "older"]
    assert items[0]["author"]["name"] == "周敏"
    assert items[0]["kind"] == "positive"
    event = AuditEvent.objects.get(action="metrics.evidence.viewed")
    assert (event.outcome, event.subject_id) == ("ok", hospital.nurse_wang.pk)


def test_api_evidence_list_of_oneself(hospital: Hospital, client_as):
    entry(hospital, hospital.nurse_wang, "抢救及时", date(2026, 6, 1))

    response = client_as(hospital.nurse_wang).get(url(hospital.nurse_wang))

    assert [item["text"] for item in response.json()["items"]] == ["抢救及时"]


def test_api_evidence_list_is_404_outside_the_scope(hospital: Hospital, client_as):
    response = client_as(hospital.head).get(url(hospital.zhao))

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="metrics.evidence.viewed")
    assert event.outcome == "denied"


# --- recording --------------------------------------------------------------------------------


def test_api_evidence_recorded_by_a_manager(hospital: Hospital, client_as):
    satisfaction = kpi(hospital.organisation, "patient_satisfaction", "患者满意度")

    response = post(client_as(hospital.head_nurse), hospital.nurse_wang, kpi=satisfaction.code)

    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["kpi"], body["text"]) == (
        "negative",
        "patient_satisfaction",
        "交班记录不完整",
    )
    stored = EvidenceEntry.objects.get()
    assert (stored.author, stored.kpi) == (hospital.head_nurse, satisfaction)
    event = AuditEvent.objects.get(action="metrics.evidence.recorded")
    assert (event.outcome, event.channel) == ("ok", "api")


def test_api_evidence_recorded_with_a_token(hospital: Hospital):
    _token, secret = api_token_for(hospital.hr_partner)
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    response = post(client, hospital.zhao)

    assert response.status_code == 201
    assert EvidenceEntry.objects.get().author == hospital.hr_partner


def test_api_evidence_employee_about_themself_gets_403(hospital: Hospital, client_as):
    response = post(client_as(hospital.nurse_wang), hospital.nurse_wang)

    assert response.status_code == 403
    assert not EvidenceEntry.objects.exists()


def test_api_evidence_other_departments_head_gets_404(hospital: Hospital, client_as):
    response = post(client_as(hospital.head), hospital.zhao)

    assert response.status_code == 404
    assert not EvidenceEntry.objects.exists()


def test_api_evidence_out_of_scope_gets_404_before_the_body_is_read(hospital: Hospital, client_as):
    response = client_as(hospital.head).post(url(hospital.zhao), "", content_type="text/plain")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": " "}, "text"),
        ({"happened_on": "2026-07-11"}, "happened_on"),
        ({"happened_on": "soon"}, "happened_on"),
        ({"kind": "rumour"}, "kind"),
        ({"kpi": "no_such_kpi"}, "kpi"),
    ],
)
def test_api_evidence_validation_errors_change_nothing(
    hospital: Hospital, client_as, changes: dict, field: str
):
    response = post(client_as(hospital.head_nurse), hospital.nurse_wang, **changes)

    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not EvidenceEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="metrics.evidence.recorded").exists()


def test_api_evidence_missing_fields_are_listed(hospital: Hospital, client_as):
    response = client_as(hospital.head_nurse).post(
        url(hospital.nurse_wang), "{}", content_type="application/json"
    )

    assert response.status_code == 400
    assert {error["field"] for error in response.json()["errors"]} == {
        "kind",
        "happened_on",
        "text",
    }


def test_api_evidence_rejects_a_body_that_is_not_json(hospital: Hospital, client_as):
    response = client_as(hospital.head_nurse).post(
        url(hospital.nurse_wang), "kind=positive", content_type="application/json"
    )

    assert response.status_code == 400
    assert not EvidenceEntry.objects.exists()
