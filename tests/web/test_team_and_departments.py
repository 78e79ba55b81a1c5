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


def nav_keys(client, path: str = "/me/") -> list[str]:
    """The entries of the navigation bar and of its "Manage" group."""
    context = client.get(path).context
    manage = context["nav_manage"].items if context["nav_manage"] else []
    return [item.key for item in [*context["nav"], *manage]]


def test_navigation_offers_the_team_page_to_managers_only(hospital, client_as):
    assert "team" in nav_keys(client_as(hospital.head_nurse))
    assert "team" not in nav_keys(client_as(hospital.doctor_li))


def test_navigation_offers_roles_to_hr_and_admins_only(hospital, client_as):
    def keys(persona) -> list[str]:
        return nav_keys(client_as(persona))

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
    assert rows[hospital.root] == 9
