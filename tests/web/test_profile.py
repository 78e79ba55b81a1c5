"""The performance profile page, the department profile, and their API: content, scoping,
audit and query counts."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from miantan.audit.models import AuditEvent
from miantan.metrics.enums import Direction
from miantan.people.models import Employee
from tests.factories import EmployeeFactory
from tests.metrics.kpi_builders import assign, kpi, months, values
from tests.personas import Hospital


@pytest.fixture
def li_data(hospital: Hospital, time_machine):
    """李明: satisfaction 60 against colleagues at 80 and 90; a defect rate that rises."""
    time_machine.move_to("2026-07-10 10:00 +08:00")
    org = hospital.organisation
    position = hospital.doctor_li.position
    satisfaction = kpi(org, "patient_satisfaction", "患者满意度", name_en="Patient satisfaction")
    defects = kpi(org, "defect_rate", "次品率", name_en="Defect rate", direction=Direction.LOWER)
    assign(satisfaction, 85, position=position)
    assign(defects, 2.0, department=hospital.cardiology)
    periods = months(org, 4)
    values(hospital.doctor_li, satisfaction, periods, [70, 66, 62, 60])
    values(hospital.doctor_li, defects, periods, [1.0, 1.4, 1.9, 2.6])
    for n, score in enumerate((80, 90)):
        colleague = EmployeeFactory(
            department=hospital.cardiology, position=position, name=f"同事{n}"
        )
        values(colleague, satisfaction, periods, [score] * 4)
    return periods


def profile_url(employee: Employee) -> str:
    return reverse("web:profile", kwargs={"employee_id": employee.pk})


def test_profile_shows_kpis_flags_with_rule_and_numbers(hospital: Hospital, li_data, client_as):
    client = client_as(hospital.head)
    client.post(reverse("accounts:language"), {"language": "en"})

    response = client.get(profile_url(hospital.doctor_li))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Patient satisfaction" in page
    assert "At least 15 % worse than the team average" in page
    assert "2026-06: 60 against the team&#x27;s 85, 29.4 % worse (2 colleagues)" in page
    # The defect rate is flagged because it rose, and its completion is target / actual.
    assert "Worse than the period before, 3 periods in a row" in page
    assert "1 → 1.4 → 1.9 → 2.6: worse 3 periods in a row" in page
    charts = response.context["charts"]
    assert charts["radar"]["employee"] == [76.9, 70.6]  # defect rate, satisfaction
    assert charts["radar"]["target"] == [100, 100]
    assert 'id="profile-charts"' in page and "vendor/echarts/echarts.min.js" in page


def test_profile_is_audited(hospital: Hospital, li_data, client_as):
    client_as(hospital.head).get(profile_url(hospital.doctor_li))

    event = AuditEvent.objects.get(action="metrics.profile.viewed")
    assert (event.outcome, event.subject_id) == ("ok", hospital.doctor_li.pk)


def test_profile_of_oneself(hospital: Hospital, li_data, client_as):
    response = client_as(hospital.doctor_li).get(profile_url(hospital.doctor_li))

    assert response.status_code == 200


def test_profile_department_head_gets_404_outside_the_department(
    hospital: Hospital, li_data, client_as
):
    response = client_as(hospital.head).get(profile_url(hospital.zhao))

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="metrics.profile.viewed")
    assert (event.outcome, event.object_id) == ("denied", str(hospital.zhao.pk))


def test_profile_colleague_gets_404(hospital: Hospital, li_data, client_as):
    assert client_as(hospital.nurse_wang).get(profile_url(hospital.doctor_li)).status_code == 404


def test_profile_without_kpis_says_so(hospital: Hospital, client_as):
    response = client_as(hospital.hr_partner).get(profile_url(hospital.executive))

    assert response.status_code == 200
    assert response.context["profile"].gaps.kpis == []


def test_person_page_links_to_the_profile(hospital: Hospital, client_as):
    response = client_as(hospital.head).get(
        reverse("web:person", kwargs={"employee_id": hospital.doctor_li.pk})
    )

    assert profile_url(hospital.doctor_li) in response.content.decode()


def _more_kpis(hospital: Hospital, count: int, periods) -> None:
    for n in range(count):
        indicator = kpi(hospital.organisation, f"extra{n}", f"指标{n}")
        assign(indicator, 100, department=hospital.cardiology)
        values(hospital.doctor_li, indicator, periods, [90 + p for p in range(len(periods))])


def test_profile_query_count_does_not_grow_with_kpis_or_periods(
    hospital: Hospital, li_data, client_as, django_assert_num_queries
):
    client = client_as(hospital.head)
    client.get(profile_url(hospital.doctor_li))  # the session and the first-request work
    with CaptureQueriesContext(connection) as few:
        client.get(profile_url(hospital.doctor_li))
    _more_kpis(hospital, 8, months(hospital.organisation, 12))

    with django_assert_num_queries(len(few)):
        response = client.get(profile_url(hospital.doctor_li))

    assert len(response.context["profile"].gaps.kpis) == 10


# --- the department view ---------------------------------------------------------------------


def department_url(department) -> str:
    return reverse("web:department_profile", kwargs={"department_id": department.pk})


def test_department_profile_shows_gap_bars_and_heat_map(hospital: Hospital, li_data, client_as):
    response = client_as(hospital.head).get(department_url(hospital.cardiology))

    assert response.status_code == 200
    charts = response.context["charts"]
    assert "李明" in charts["heatmap"]["people"]
    assert len(charts["heatmap"]["cells"]) == 4  # 李明 × 2 KPIs, two colleagues × 1
    summary = {s.code: s for s in response.context["team"].kpis}
    assert summary["patient_satisfaction"].flagged == 1
    assert summary["patient_satisfaction"].people == 3
    event = AuditEvent.objects.get(action="metrics.department_profile.viewed")
    assert event.outcome == "ok"


def test_department_profile_is_not_for_someone_outside_the_subtree(
    hospital: Hospital, li_data, client_as
):
    response = client_as(hospital.head).get(department_url(hospital.emergency))

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="metrics.department_profile.viewed")
    assert (event.outcome, event.object_id) == ("denied", str(hospital.emergency.pk))


@pytest.mark.parametrize("persona", ["head_nurse", "doctor_li", "executive"])
def test_department_profile_is_not_for_people_without_a_role(
    hospital: Hospital, li_data, client_as, persona: str
):
    viewer = getattr(hospital, persona)

    assert client_as(viewer).get(department_url(hospital.cardiology)).status_code == 404


def test_department_profile_query_count_does_not_grow_with_people(
    hospital: Hospital, li_data, client_as, django_assert_num_queries
):
    client = client_as(hospital.hr_partner)
    client.get(department_url(hospital.cardiology))
    with CaptureQueriesContext(connection) as few:
        client.get(department_url(hospital.cardiology))
    satisfaction = hospital.doctor_li.kpi_values.first().kpi
    for n in range(30):
        colleague = EmployeeFactory(
            department=hospital.cardiology, position=hospital.doctor_li.position, name=f"新人{n}"
        )
        values(colleague, satisfaction, li_data, [85, 86, 87, 88])

    with django_assert_num_queries(len(few)):
        response = client.get(department_url(hospital.cardiology))

    assert len(response.context["charts"]["heatmap"]["people"]) == 36


def test_departments_page_links_to_the_profiles_one_may_see(hospital: Hospital, client_as):
    page = client_as(hospital.head).get(reverse("web:departments")).content.decode()

    assert department_url(hospital.cardiology) in page
    assert department_url(hospital.emergency) not in page


# --- the API ---------------------------------------------------------------------------------


def test_api_gaps_carry_flags_with_rule_and_numbers(hospital: Hospital, li_data, client_as):
    response = client_as(hospital.head).get(
        reverse("api-v1:person_gaps", kwargs={"employee_id": hospital.doctor_li.pk})
    )

    assert response.status_code == 200
    kpis = {k["code"]: k for k in response.json()["kpis"]}
    defects = kpis["defect_rate"]
    assert defects["direction"] == "lower"
    assert defects["completion"] == 76.9
    assert {f["rule"] for f in defects["flags"]} == {"completion", "trend"}
    trend = next(f for f in defects["flags"] if f["rule"] == "trend")
    assert trend["numbers"]["streak"] == 3
    assert AuditEvent.objects.filter(action="metrics.gaps.viewed", outcome="ok").exists()


def test_api_brief_for_a_topic(hospital: Hospital, li_data, client_as):
    url = reverse("api-v1:person_brief", kwargs={"employee_id": hospital.doctor_li.pk})

    response = client_as(hospital.head).get(url, {"topic": "improvement"})

    body = response.json()
    assert response.status_code == 200
    assert body["topic"] == "improvement"
    assert {k["code"] for k in body["kpis"]} == {"patient_satisfaction", "defect_rate"}
    objective = next(o for o in body["objectives"] if o["kpi"] == "patient_satisfaction")
    assert objective["data"]["team_average"] == 85.0
    assert "患者满意度" in objective["text"]
    assert "60" in objective["text"] and "85" in objective["text"]
    assert body["open_action_items"] == []


def test_api_brief_rejects_an_unknown_topic(hospital: Hospital, client_as):
    url = reverse("api-v1:person_brief", kwargs={"employee_id": hospital.doctor_li.pk})

    assert client_as(hospital.head).get(url, {"topic": "gossip"}).status_code == 422


def test_api_brief_is_404_outside_the_scope(hospital: Hospital, client_as):
    url = reverse("api-v1:person_brief", kwargs={"employee_id": hospital.zhao.pk})

    assert client_as(hospital.head).get(url).status_code == 404
    event = AuditEvent.objects.get(action="metrics.brief.viewed")
    assert event.outcome == "denied"


def test_profile_chart_data_is_valid_json(hospital: Hospital, li_data, client_as):
    page = client_as(hospital.head).get(profile_url(hospital.doctor_li)).content.decode()

    start = page.index('<script id="profile-charts" type="application/json">') + 52
    data = json.loads(page[start : page.index("</script>", start)])
    assert [t["code"] for t in data["trends"]] == ["defect_rate", "patient_satisfaction"]


def test_profile_lists_the_last_talks_the_viewer_may_see(hospital: Hospital, client_as):
    from tests.notifications.builders import talk_between

    with_manager = talk_between(hospital)  # 王芳 with her head nurse 周敏
    with_hr = talk_between(hospital, counterpart=hospital.hr_partner, awaiting=hospital.hr_partner)

    as_manager = client_as(hospital.head_nurse).get(f"/people/{hospital.nurse_wang.pk}/profile/")
    as_hr = client_as(hospital.hr_partner).get(f"/people/{hospital.nurse_wang.pk}/profile/")

    assert [t.pk for t in as_manager.context["last_talks"]] == [with_manager.pk]
    assert {t.pk for t in as_hr.context["last_talks"]} == {with_manager.pk, with_hr.pk}
    assert f"/talks/{with_manager.pk}/" in as_manager.content.decode()
