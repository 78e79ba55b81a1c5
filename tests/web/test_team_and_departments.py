"""/team/ (reports along the reporting line) and /departments/ (the organisation's tree)."""

from __future__ import annotations


def names_on(response) -> list[str]:
    return sorted(employee.name for employee in response.context["page"])


def test_team_page_shows_everyone_below_the_manager(hospital, client_as):
    response = client_as(hospital.head).get("/team/")

    assert response.status_code == 200
    assert names_on(response) == ["周敏", "李明", "王芳"]


def test_team_page_can_show_direct_reports_only(hospital, client_as):
    response = client_as(hospital.head).get("/team/", {"scope": "direct"})

    assert names_on(response) == ["周敏", "李明"]


def test_team_page_of_someone_without_reports_is_empty(hospital, client_as):
    response = client_as(hospital.zhao).get("/team/")

    assert response.status_code == 200
    assert names_on(response) == []


def test_navigation_offers_the_team_page_to_managers_only(hospital, client_as):
    manager_nav = client_as(hospital.head_nurse).get("/me/").context["nav"]
    employee_nav = client_as(hospital.doctor_li).get("/me/").context["nav"]

    assert "team" in [item["key"] for item in manager_nav]
    assert "team" not in [item["key"] for item in employee_nav]


def test_navigation_offers_roles_to_hr_and_admins_only(hospital, client_as):
    def keys(persona) -> list[str]:
        return [item["key"] for item in client_as(persona).get("/me/").context["nav"]]

    assert "roles" in keys(hospital.hr_partner)
    assert "roles" in keys(hospital.admin)
    assert "roles" not in keys(hospital.head)
    assert "roles" not in keys(hospital.executive)


def test_departments_page_shows_the_own_organisations_tree(hospital, other_org, client_as):
    html = client_as(hospital.zhao).get("/departments/").content.decode()

    assert "心内科护理组" in html
    assert "研发部" not in html


def test_departments_page_links_to_people_for_those_who_may_search(hospital, client_as):
    html = client_as(hospital.hr_partner).get("/departments/").content.decode()

    assert f"/people/?department={hospital.cardiology.pk}" in html


def test_departments_page_has_no_people_links_for_an_employee(hospital, client_as):
    html = client_as(hospital.zhao).get("/departments/").content.decode()

    assert "/people/?department=" not in html


def test_departments_page_counts_people_in_the_subtree(hospital, client_as):
    rows = dict(client_as(hospital.hr_partner).get("/departments/").context["rows"])

    assert rows[hospital.internal_medicine] == 4
    assert rows[hospital.root] == 8
