"""/people/: the directory, searched as you type (htmx), within the viewer's scope."""

from __future__ import annotations

from miantan.audit.models import AuditEvent


def names_on(response) -> list[str]:
    return [employee.name for employee in response.context["page"]]


def test_people_list_shows_hr_the_whole_hospital(hospital, client_as):
    response = client_as(hospital.hr_partner).get("/people/")

    assert response.status_code == 200
    assert len(names_on(response)) == 9
    assert "赵强" in response.content.decode()


def test_people_list_shows_a_department_head_their_department(hospital, client_as):
    response = client_as(hospital.head).get("/people/")

    assert sorted(names_on(response)) == ["周敏", "张伟", "李明", "王芳"]


def test_people_list_shows_an_employee_only_themselves(hospital, client_as):
    assert names_on(client_as(hospital.doctor_li).get("/people/")) == ["李明"]


def test_people_list_filters_by_name(hospital, client_as):
    response = client_as(hospital.hr_partner).get("/people/", {"q": "赵"})

    assert names_on(response) == ["赵强"]


def test_people_list_filters_by_department(hospital, client_as):
    response = client_as(hospital.hr_partner).get(
        "/people/", {"department": hospital.cardiology_nursing.pk}
    )

    assert sorted(names_on(response)) == ["周敏", "王芳"]


def test_people_list_department_choices_are_the_own_organisations(hospital, other_org, client_as):
    form = client_as(hospital.hr_partner).get("/people/").context["form"]

    names = {str(label).strip("\u3000") for _pk, label in form.fields["department"].choices}
    assert "研发部" not in names
    assert "心内科" in names


def test_people_list_answers_htmx_with_the_results_only(hospital, client_as):
    response = client_as(hospital.hr_partner).get(
        "/people/", {"q": "王"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "<html" not in html
    assert 'data-testid="people-table"' in html
    assert "王芳" in html
    assert "赵强" not in html


def test_people_list_paginates(hospital, client_as):
    from tests.factories import EmployeeFactory

    EmployeeFactory.create_batch(30, department=hospital.emergency)

    response = client_as(hospital.hr_partner).get("/people/", {"page": 2})

    assert response.context["page"].number == 2
    assert len(names_on(response)) == 39 - 25


def test_people_list_without_matches_says_so(hospital, client_as):
    response = client_as(hospital.hr_partner).get("/people/", {"q": "不存在的名字"})

    assert names_on(response) == []


def test_people_list_search_is_audited(hospital, client_as):
    client_as(hospital.hr_partner).get("/people/", {"q": "王"})

    event = AuditEvent.objects.filter(action="people.directory.searched").get()
    assert event.data["q"] == "王"
    assert event.channel == "web"


def test_people_list_with_a_department_outside_the_organisation_lists_nobody(
    hospital, other_org, client_as
):
    foreign = other_org.employee.department

    response = client_as(hospital.hr_partner).get("/people/", {"department": foreign.pk})

    assert list(response.context["page"]) == []
