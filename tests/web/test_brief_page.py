"""The talk brief page: topics, the data per topic, objectives, errors, scoping and audit."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from miantan.audit.models import AuditEvent
from miantan.metrics.enums import BriefTopic, EvidenceKind
from miantan.metrics.models import EvidenceEntry, ProjectContribution, TrainingRecord
from miantan.people.models import Employee
from tests.factories import EmployeeFactory
from tests.metrics.kpi_builders import assign, kpi, months, values
from tests.personas import Hospital


@pytest.fixture
def li_data(hospital: Hospital, time_machine):
    """李明: patient satisfaction 60 against colleagues at 80 and 90, visits above target."""
    time_machine.move_to("2026-07-10 10:00 +08:00")
    org = hospital.organisation
    position = hospital.doctor_li.position
    satisfaction = kpi(org, "patient_satisfaction", "患者满意度", name_en="Patient satisfaction")
    visits = kpi(org, "outpatient_visits", "门诊量", name_en="Outpatient visits", decimals=0)
    assign(satisfaction, 85, position=position)
    assign(visits, 400, position=position)
    periods = months(org, 3, last=date(2026, 7, 1))
    values(hospital.doctor_li, satisfaction, periods, [66, 62, 60])
    values(hospital.doctor_li, visits, periods, [480, 470, 500])
    for n, score in enumerate((80, 90)):
        colleague = EmployeeFactory(
            department=hospital.cardiology, position=position, name=f"同事{n}"
        )
        values(colleague, satisfaction, periods, [score] * 3)
    return satisfaction


@pytest.fixture
def english_head(hospital: Hospital, client_as):
    client = client_as(hospital.head)
    client.post(reverse("accounts:language"), {"language": "en"})
    return client


def brief_url(employee: Employee, topic: str | None = None) -> str:
    url = reverse("web:brief", kwargs={"employee_id": employee.pk})
    return f"{url}?topic={topic}" if topic else url


def test_brief_page_defaults_to_the_quarterly_review(hospital: Hospital, li_data, english_head):
    response = english_head.get(brief_url(hospital.doctor_li))

    assert response.status_code == 200
    assert response.context["brief"].topic == BriefTopic.QUARTERLY_REVIEW
    page = response.content.decode()
    assert "Find the cause of the Patient satisfaction gap: 60 against the team&#x27;s 85" in page
    assert "Acknowledge Outpatient visits: 125 % of the target" in page
    assert 'data-testid="kpi-table"' in page
    assert "At least 15 % worse than the team average" in page
    assert f'href="{brief_url(hospital.doctor_li, "quarterly_review")}" aria-current="page"' in page


def test_brief_page_shows_the_data_behind_each_objective(hospital: Hospital, li_data, english_head):
    response = english_head.get(brief_url(hospital.doctor_li))

    first = response.context["objectives"][0]
    assert first.kpi_code == "patient_satisfaction" and first.in_table
    assert ("Team average", "85") in first.data
    assert ("Actual", "60") in first.data
    assert 'href="#kpi-patient_satisfaction"' in response.content.decode()


def test_brief_page_says_there_are_no_open_action_items_yet(
    hospital: Hospital, li_data, english_head
):
    response = english_head.get(brief_url(hospital.doctor_li))

    assert response.context["brief"].open_action_items == []
    assert "None yet: action items agreed in earlier talks will be listed here." in (
        response.content.decode()
    )


@pytest.mark.parametrize("topic", BriefTopic.values)
def test_brief_page_renders_every_topic(hospital: Hospital, li_data, client_as, topic: str):
    response = client_as(hospital.head).get(brief_url(hospital.doctor_li, topic))

    assert response.status_code == 200
    assert response.context["brief"].topic == topic


def test_brief_page_career_shows_skills_and_training(hospital: Hospital, li_data, english_head):
    TrainingRecord.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        course="心脏超声进阶",
        skill="心脏超声",
        hours=16,
        completed_on=date(2026, 3, 1),
    )

    page = english_head.get(brief_url(hospital.doctor_li, "career")).content.decode()

    assert 'data-testid="skills"' in page and "心脏超声进阶" in page
    assert "Build on 心脏超声: 16 hours of training so far" in page
    assert "16 h" in page


def test_brief_page_project_recognition_shows_projects_without_kpis(
    hospital: Hospital, li_data, english_head
):
    ProjectContribution.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        project="胸痛中心认证",
        role="骨干",
        result="通过国家认证",
        completion=100,
    )

    page = english_head.get(brief_url(hospital.doctor_li, "project_recognition")).content.decode()

    assert 'data-testid="projects"' in page and "通过国家认证" in page
    assert "Recognise the work on 胸痛中心认证 (骨干): 100 % complete" in page
    assert 'data-testid="kpi-table"' not in page


def test_brief_page_improvement_shows_gaps_evidence_and_history(
    hospital: Hospital, li_data, english_head
):
    EvidenceEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        kind=EvidenceKind.NEGATIVE,
        happened_on=date(2026, 6, 20),
        text="患者投诉候诊时间过长",
        kpi=li_data,
    )

    response = english_head.get(brief_url(hospital.doctor_li, "improvement"))

    page = response.content.decode()
    assert [gap.kpi.code for gap in response.context["brief"].kpis] == ["patient_satisfaction"]
    assert 'data-testid="evidence"' in page and "患者投诉候诊时间过长" in page
    assert "Talk about what happened on 2026-06-20" in page
    assert 'id="history-heading"' in page and "2026-05" in page
    assert "Outpatient visits" not in page  # not flagged: no gap to talk about


def test_brief_page_promotion_compares_requirements(hospital: Hospital, li_data, english_head):
    page = english_head.get(brief_url(hospital.doctor_li, "promotion")).content.decode()

    assert 'data-testid="requirements"' in page
    assert "Patient satisfaction is below the position&#x27;s requirement: 60 against 85" in page


def test_brief_page_unknown_topic_is_400_without_data(hospital: Hospital, li_data, english_head):
    response = english_head.get(brief_url(hospital.doctor_li, "gossip"))

    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown topic “gossip”." in page
    assert "李明" not in page and "brief" not in response.context
    assert not AuditEvent.objects.filter(action="metrics.brief.viewed").exists()


def test_brief_page_is_audited(hospital: Hospital, li_data, client_as):
    client_as(hospital.head).get(brief_url(hospital.doctor_li, "career"))

    event = AuditEvent.objects.get(action="metrics.brief.viewed")
    assert (event.outcome, event.subject_id) == ("ok", hospital.doctor_li.pk)


def test_brief_page_of_oneself(hospital: Hospital, li_data, client_as):
    assert client_as(hospital.doctor_li).get(brief_url(hospital.doctor_li)).status_code == 200


def test_brief_page_department_head_gets_404_outside_the_department(hospital: Hospital, client_as):
    response = client_as(hospital.head).get(brief_url(hospital.zhao))

    assert response.status_code == 404
    event = AuditEvent.objects.get(action="metrics.brief.viewed")
    assert (event.outcome, event.object_id) == ("denied", str(hospital.zhao.pk))


def test_brief_page_colleague_gets_404(hospital: Hospital, client_as):
    assert client_as(hospital.nurse_wang).get(brief_url(hospital.doctor_li)).status_code == 404


def test_brief_page_without_kpis_says_so(hospital: Hospital, client_as):
    response = client_as(hospital.hr_partner).get(brief_url(hospital.executive))

    assert response.status_code == 200
    assert response.context["objectives"] == []


def test_profile_and_person_pages_link_to_the_brief(hospital: Hospital, client_as):
    client = client_as(hospital.head)
    kwargs = {"employee_id": hospital.doctor_li.pk}

    for name in ("web:profile", "web:person"):
        page = client.get(reverse(name, kwargs=kwargs)).content.decode()
        assert brief_url(hospital.doctor_li) in page, name


def test_brief_page_query_count_does_not_grow_with_kpis(
    hospital: Hospital, li_data, client_as, django_assert_num_queries
):
    client = client_as(hospital.head)
    client.get(brief_url(hospital.doctor_li))  # the session and the first-request work
    with CaptureQueriesContext(connection) as few:
        client.get(brief_url(hospital.doctor_li))
    periods = months(hospital.organisation, 6, last=date(2026, 7, 1))
    for n in range(8):
        indicator = kpi(hospital.organisation, f"extra{n}", f"指标{n}")
        assign(indicator, 100, department=hospital.cardiology)
        values(hospital.doctor_li, indicator, periods, [90 + p for p in range(6)])

    with django_assert_num_queries(len(few)):
        response = client.get(brief_url(hospital.doctor_li))

    assert len(response.context["brief"].kpis) == 10


# --- in a browser -----------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_brief_fits_a_phone_for_every_topic(live_server, hospital: Hospital, browser):
    from playwright.sync_api import expect

    from tests.web.test_browser_directory import PHONE, assert_fits_the_screen, sign_in

    periods = months(hospital.organisation, 4)
    satisfaction = kpi(hospital.organisation, "medical_record_quality", "病历书写质量")
    assign(satisfaction, 90, department=hospital.cardiology)
    values(hospital.doctor_li, satisfaction, periods, [88, 80, 76, 70])
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    phone = context.new_page()
    sign_in(phone, live_server.url, "head.zhang")

    for topic in BriefTopic.values:
        phone.goto(f"{live_server.url}{brief_url(hospital.doctor_li, topic)}")
        expect(phone.locator("h1")).to_contain_text("李明")
        expect(phone.locator(".brief-topics a[aria-current=page]")).to_have_count(1)
        assert_fits_the_screen(phone, PHONE["width"])
    context.close()
