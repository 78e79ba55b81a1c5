"""/api/v1/people and /api/v1/departments: the same scopes and the same audit as the pages."""

from __future__ import annotations

import pytest

from miantan.audit.enums import Outcome
from miantan.audit.models import AuditEvent


@pytest.mark.parametrize(
    "persona", ["doctor_li", "head_nurse", "head", "hr_partner", "executive", "admin", "zhao"]
)
def test_api_people_list_shows_exactly_what_the_people_page_shows(hospital, client_as, persona):
    client = client_as(getattr(hospital, persona))

    on_page = {employee.pk for employee in client.get("/people/").context["page"]}
    in_api = {item["id"] for item in client.get("/api/v1/people").json()["items"]}

    assert in_api == on_page


def test_api_people_list_filters_by_name(hospital, client_as):
    response = client_as(hospital.hr_partner).get("/api/v1/people", {"q": "王"})

    assert [item["name"] for item in response.json()["items"]] == ["王芳"]


def test_api_people_list_filters_by_department_subtree(hospital, client_as):
    response = client_as(hospital.hr_partner).get(
        "/api/v1/people", {"department": hospital.cardiology.pk}
    )

    assert sorted(item["name"] for item in response.json()["items"]) == [
        "周敏",
        "张伟",
        "李明",
        "王芳",
    ]


def test_api_people_list_search_is_audited(hospital, client_as):
    client_as(hospital.hr_partner).get("/api/v1/people", {"q": "王"})

    event = AuditEvent.objects.filter(action="people.directory.searched").get()
    assert event.data == {"q": "王", "department": None, "position": None, "status": "active"}
    assert event.channel == "api"


def test_api_person_in_scope_returns_the_record(hospital, client_as):
    response = client_as(hospital.head).get(f"/api/v1/people/{hospital.nurse_wang.pk}")

    body = response.json()
    assert response.status_code == 200
    assert body["name"] == "王芳"
    assert body["department"]["name"] == "心内科护理组"
    assert body["manager"] == {
        "id": hospital.head_nurse.pk,
        "employee_number": "H0012",
        "name": "周敏",
    }


def test_api_person_of_another_organisation_is_not_found_and_the_denial_audited(
    hospital, other_org, client_as
):
    foreign = other_org.employee

    response = client_as(hospital.admin).get(f"/api/v1/people/{foreign.pk}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    event = AuditEvent.objects.filter(action="people.employee.viewed").order_by("-pk").first()
    assert event.outcome == Outcome.DENIED
    assert event.object_id == str(foreign.pk)
    assert event.actor_id == hospital.admin.user.pk


def test_api_person_that_does_not_exist_is_not_found(hospital, client_as):
    assert client_as(hospital.admin).get("/api/v1/people/999999").status_code == 404


def test_api_departments_list_only_the_own_organisation(hospital, other_org, client_as):
    response = client_as(hospital.zhao).get("/api/v1/departments")

    names = {item["name"] for item in response.json()["items"]}
    assert "心内科" in names
    assert "研发部" not in names


def test_api_department_of_another_organisation_is_not_found(hospital, other_org, client_as):
    response = client_as(hospital.zhao).get(f"/api/v1/departments/{other_org.department.pk}")

    assert response.status_code == 404


def test_api_department_in_the_own_organisation_is_returned(hospital, client_as):
    response = client_as(hospital.zhao).get(f"/api/v1/departments/{hospital.cardiology.pk}")

    assert response.json()["parent_id"] == hospital.internal_medicine.pk


def test_api_openapi_document_is_published(hospital, client_as):
    response = client_as(hospital.zhao).get("/api/v1/openapi.json")

    document = response.json()
    assert response.status_code == 200
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/people/{employee_id}" in document["paths"]
