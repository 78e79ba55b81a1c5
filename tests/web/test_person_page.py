"""/people/<id>/ and /me/: a personal record, shown only through the permission layer."""

from __future__ import annotations

import re

import pytest

from miantan.audit.enums import Outcome
from miantan.audit.models import AuditEvent
from miantan.people.services import mark_left


def denials_of(employee_id: int, actor) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action="people.employee.viewed",
            outcome=Outcome.DENIED,
            object_id=str(employee_id),
            actor=actor,
        ).order_by("pk")
    )


def test_department_head_gets_404_for_a_person_outside_the_department_and_the_denial_is_audited(
    hospital, client_as
):
    """Must show (issue 2): the page and the API both answer 404, and both denials are logged."""
    client = client_as(hospital.head)
    outside = hospital.zhao

    page = client.get(f"/people/{outside.pk}/")
    api = client.get(f"/api/v1/people/{outside.pk}")

    assert page.status_code == 404
    assert api.status_code == 404
    assert "赵强" not in page.content.decode()
    assert "赵强" not in api.content.decode()
    denials = denials_of(outside.pk, hospital.head.user)
    assert [event.channel for event in denials] == ["web", "api"]
    assert all(event.subject_id is None for event in denials)


def test_person_page_shows_a_report_to_their_department_head(hospital, client_as):
    response = client_as(hospital.head).get(f"/people/{hospital.nurse_wang.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "王芳" in html
    assert "心内科护理组" in html
    assert "周敏" in html


def test_person_page_shows_anyone_in_the_hospital_to_hr(hospital, client_as):
    assert client_as(hospital.hr_partner).get(f"/people/{hospital.zhao.pk}/").status_code == 200


def test_person_page_shows_a_direct_report_to_their_manager(hospital, client_as):
    response = client_as(hospital.head_nurse).get(f"/people/{hospital.nurse_wang.pk}/")

    assert response.status_code == 200


def test_person_page_is_not_found_for_a_colleague_without_a_role(hospital, client_as):
    response = client_as(hospital.doctor_li).get(f"/people/{hospital.nurse_wang.pk}/")

    assert response.status_code == 404
    assert "王芳" not in response.content.decode()


def test_person_page_is_not_found_for_an_executive(hospital, client_as):
    assert client_as(hospital.executive).get(f"/people/{hospital.zhao.pk}/").status_code == 404


def test_person_page_of_another_organisation_is_not_found_even_for_an_admin(
    hospital, other_org, client_as
):
    response = client_as(hospital.admin).get(f"/people/{other_org.employee.pk}/")

    assert response.status_code == 404


def test_person_page_of_an_unknown_id_looks_like_a_forbidden_one(hospital, client_as):
    client = client_as(hospital.head)

    unknown = client.get("/people/999999/")
    forbidden = client.get(f"/people/{hospital.zhao.pk}/")

    assert unknown.status_code == forbidden.status_code == 404
    assert _without_request_details(unknown) == _without_request_details(forbidden)


def _without_request_details(response) -> str:
    """The page minus what differs per request anyway (its own path, the CSRF token)."""
    html = response.content.decode().replace(response.request["PATH_INFO"], "PATH")
    return re.sub(r'(csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]+"', r"\1TOKEN", html)


def test_person_page_marks_someone_who_left(hospital, client_as):
    mark_left(hospital.nurse_wang, actor=None)

    response = client_as(hospital.head_nurse).get(f"/people/{hospital.nurse_wang.pk}/")

    assert response.status_code == 200
    assert "badge warn" in response.content.decode()


def test_person_page_shows_the_roles_held(hospital, client_as):
    response = client_as(hospital.hr_partner).get(f"/people/{hospital.head.pk}/")

    assert list(response.context["roles"].values_list("role", flat=True)) == ["department_head"]


def test_own_profile_page_shows_the_signed_in_employee(hospital, client_as):
    response = client_as(hospital.nurse_wang).get("/me/")

    assert response.status_code == 200
    assert response.context["employee"] == hospital.nurse_wang
    assert response.context["is_me"] is True


def test_own_profile_page_links_to_the_access_log(hospital, client_as):
    html = client_as(hospital.nurse_wang).get("/me/").content.decode()

    assert 'href="/me/access-log/"' in html


def test_home_page_sends_to_the_start_page(hospital, client_as):
    response = client_as(hospital.zhao).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/home/me/"


def test_person_page_links_to_the_manager_only_for_whoever_may_open_it(hospital, client_as):
    manager_link = f'href="/people/{hospital.head_nurse.pk}/"'

    own = client_as(hospital.nurse_wang).get("/me/").content.decode()
    as_head = client_as(hospital.head).get(f"/people/{hospital.nurse_wang.pk}/").content.decode()

    assert "周敏" in own and manager_link not in own
    assert manager_link in as_head


@pytest.mark.parametrize("path", ["/me/", "/me/access-log/"])
def test_own_pages_are_not_found_for_a_login_without_an_employee(db, django_user_model, path):
    from django.test import Client

    client = Client()
    client.force_login(django_user_model.objects.create_user("technician", password="x" * 12))

    assert client.get(path).status_code == 404
