"""The start pages: everyone lands on the page for their role (the most specific one when they
have several) and reaches the others through tabs; what each page shows; who may open which;
and the same number of queries for one row as for many. The clock stands on Wednesday
2026-12-09 10:00 in Shanghai."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from miantan.interviews.cycles import create_cycle, launch_cycle
from miantan.interviews.models import ReviewCycle, Talk
from miantan.interviews.services import TalkRequest, accept_time, request_talk, start_talk
from miantan.metrics.enums import ImportStatus as MetricsImportStatus
from miantan.metrics.models import MetricsImport
from miantan.people.enums import ImportStatus
from miantan.people.models import Employee, OrgImport
from tests.factories import DepartmentFactory, EmployeeFactory
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours

TODAY = date(2026, 12, 9)
NOW = at(TODAY, 10)
Signer = Callable[[Employee], Client]

LANDING = {
    "employee": "/home/me/",
    "nurse": "/home/me/",
    "manager": "/home/team/",
    "department head": "/home/team/",
    "HR": "/home/hr/",
    "department HR": "/home/hr/",
    "executive": "/home/overview/",
    "admin": "/home/setup/",
}


@pytest.fixture
def ward(hospital: Hospital) -> Iterator[Hospital]:
    """The hospital with its working hours, on Wednesday morning."""
    hospital_hours(hospital.organisation)
    with time_machine.travel(NOW, tick=False):
        yield hospital


# --- building talks at any moment -------------------------------------------------------------


def asked(
    employee: Employee,
    leader: Employee,
    start: datetime,
    *,
    when: datetime | None = None,
    **details: Any,
) -> Talk:
    """`employee` asked `leader` for a talk at `start`, at `when` (two days before it)."""
    with time_machine.travel(when or start - timedelta(days=2), tick=False):
        return request_talk(
            leader,
            requester=employee.user,
            details=TalkRequest(topic=details.pop("topic", "quarterly_review"), **details),
            slot=(start, start + timedelta(minutes=45)),
            accept_conflicts=True,
        )


def booked(employee: Employee, leader: Employee, start: datetime) -> Talk:
    talk = asked(employee, leader, start)
    with time_machine.travel(start - timedelta(days=1), tick=False):
        return accept_time(talk, actor=leader.user)


def held(employee: Employee, leader: Employee, start: datetime) -> Talk:
    talk = booked(employee, leader, start)
    with time_machine.travel(start, tick=False):
        return start_talk(talk, actor=leader.user)


def waiting_since(employee: Employee, leader: Employee, when: datetime) -> Talk:
    """A request made at `when` for a time a week later, still unanswered."""
    return asked(employee, leader, when + timedelta(days=7), when=when)


def rejected_org_import(hospital: Hospital, name: str = "花名册.xlsx", **extra: Any) -> OrgImport:
    return OrgImport.objects.create(
        organisation=hospital.organisation,
        uploaded_by=hospital.hr_partner.user,
        file="imports/org/x.xlsx",
        original_name=name,
        status=extra.pop("status", ImportStatus.REJECTED),
        report={"errors": [{"row": 3, "column": "工号", "message": "缺少工号"}]},
        **extra,
    )


def failed_metrics_import(hospital: Hospital, name: str = "指标.xlsx") -> MetricsImport:
    return MetricsImport.objects.create(
        organisation=hospital.organisation,
        uploaded_by=hospital.hr_partner.user,
        file="imports/metrics/x.xlsx",
        original_name=name,
        status=MetricsImportStatus.FAILED,
        report={"errors": []},
    )


def launched_cycle(hospital: Hospital, name: str = "2026 年第四季度") -> ReviewCycle:
    cycle = create_cycle(
        actor=hospital.hr_partner.user,
        name=name,
        topic="quarterly_review",
        period="2026 Q4",
        departments=[hospital.cardiology],
        window_start=date(2026, 12, 14),
        window_end=date(2026, 12, 25),
        duration_minutes=45,
    )
    launch_cycle(cycle, actor=hospital.hr_partner.user)
    cycle.refresh_from_db()
    return cycle


def html(response: Any) -> str:
    return response.content.decode()


def section(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


# --- where each role lands --------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(LANDING))
def test_home_sends_each_role_to_its_start_page(ward: Hospital, client_as: Signer, role: str):
    response = client_as(ward.by_role(role)).get("/")

    assert response.status_code == 302
    assert response["Location"] == LANDING[role]
    assert client_as(ward.by_role(role)).get(LANDING[role]).status_code == 200


def test_home_tabs_offer_every_start_page_of_the_person(ward: Hospital, client_as: Signer):
    admin_page = html(client_as(ward.admin).get("/home/setup/"))
    head_page = html(client_as(ward.head).get("/home/team/"))

    tabs = section(admin_page.replace("</nav>", "</section>"), "home-tabs")
    assert [tab in tabs for tab in ("/home/me/", "/home/overview/", "/home/hr/")] == [True] * 3
    assert 'href="/home/setup/" aria-current="page"' in tabs
    head_tabs = section(head_page.replace("</nav>", "</section>"), "home-tabs")
    assert "/home/me/" in head_tabs and "/home/hr/" not in head_tabs


def test_home_of_someone_with_one_start_page_shows_no_tabs(ward: Hospital, client_as: Signer):
    assert 'data-testid="home-tabs"' not in html(client_as(ward.doctor_li).get("/home/me/"))


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("employee", "/home/team/"),
        ("employee", "/home/hr/"),
        ("nurse", "/home/overview/"),
        ("manager", "/home/hr/"),
        ("department head", "/home/setup/"),
        ("executive", "/home/hr/"),
        ("department HR", "/home/overview/"),
        ("HR", "/home/setup/"),
    ],
)
def test_home_of_another_role_is_forbidden(ward: Hospital, client_as: Signer, role: str, path: str):
    assert client_as(ward.by_role(role)).get(path).status_code == 403


def test_home_sends_anonymous_visitors_to_sign_in(ward: Hospital):
    for path in ("/", "/home/me/", "/home/hr/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_home_of_the_installation_administrator_is_the_set_up_of_organisations(
    db: None, django_user_model: Any
):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="x" * 12))

    response = client.get("/")

    assert response.status_code == 302 and response["Location"] == "/setup/organisations/"


def test_home_of_a_login_without_an_employee_is_not_found(db: None, django_user_model: Any):
    client = Client()
    client.force_login(django_user_model.objects.create_user("technician", password="x" * 12))

    assert client.get("/").status_code == 404
    assert client.get("/home/me/").status_code == 403


# --- the employee's start page ----------------------------------------------------------------


def test_employee_home_offers_a_talk_request_in_one_click(ward: Hospital, client_as: Signer):
    page = html(client_as(ward.nurse_wang).get("/home/me/"))

    assert '<a class="button big" href="/talks/new/" data-testid="request-talk">' in page


def test_employee_home_lists_requests_waiting_for_me_and_coming_talks(
    ward: Hospital, client_as: Signer
):
    request = asked(ward.nurse_wang, ward.head_nurse, at(TODAY, 15))
    coming = booked(ward.doctor_li, ward.head, at(TODAY + timedelta(days=1), 9))

    nurse = html(client_as(ward.head_nurse).get("/home/me/"))
    doctor = html(client_as(ward.doctor_li).get("/home/me/"))

    assert f'data-talk-id="{request.pk}"' in section(nurse, "home-waiting")
    assert f'data-talk-id="{coming.pk}"' in section(doctor, "home-upcoming")
    assert "data-talk-id" not in section(doctor, "home-waiting")


def test_employee_home_shows_the_open_points_of_my_coming_talks(ward: Hospital, client_as: Signer):
    talk = booked(ward.doctor_li, ward.head, at(TODAY + timedelta(days=1), 9))
    Talk.objects.filter(pk=talk.pk).update(
        agenda=[
            {"text": "回顾本季度目标", "source": "topic", "data": {}},
            {"text": "患者满意度 62 %，低于目标", "source": "flag", "data": {}},
            {"text": "完成 ACLS 复训", "source": "action", "data": {}},
            {"text": "想谈谈排班", "source": "own", "data": {}},
        ]
    )

    points = section(html(client_as(ward.doctor_li).get("/home/me/")), "home-open-points")

    assert "患者满意度 62 %，低于目标" in points and "完成 ACLS 复训" in points
    assert "想谈谈排班" in points and "回顾本季度目标" not in points
    assert f'href="/talks/{talk.pk}/"' in points


def test_employee_home_open_points_leave_out_talks_i_lead(ward: Hospital, client_as: Signer):
    talk = booked(ward.doctor_li, ward.head, at(TODAY + timedelta(days=1), 9))
    Talk.objects.filter(pk=talk.pk).update(agenda=[{"text": "李明的要点", "source": "own"}])

    points = section(html(client_as(ward.head).get("/home/me/")), "home-open-points")

    assert "李明的要点" not in points


# --- the manager's start page -----------------------------------------------------------------


def test_manager_home_lists_the_team_with_the_last_and_next_talk(ward: Hospital, client_as: Signer):
    held(ward.doctor_li, ward.head, at(date(2026, 11, 24), 9))
    booked(ward.head_nurse, ward.head, at(TODAY + timedelta(days=2), 14))

    team = section(html(client_as(ward.head).get("/home/team/")), "home-team")

    li = team.split(f'data-employee-id="{ward.doctor_li.pk}"')[1].split("</tr>")[0]
    zhou = team.split(f'data-employee-id="{ward.head_nurse.pk}"')[1].split("</tr>")[0]
    assert "2026-11-24" in li
    assert "2026-12-11 14:00" in zhou


def test_manager_home_names_who_has_had_no_talk_lately(ward: Hospital, client_as: Signer):
    held(ward.doctor_li, ward.head, at(date(2026, 8, 4), 9))

    lagging = section(html(client_as(ward.head).get("/home/team/")), "home-not-lately")

    assert f'data-employee-id="{ward.doctor_li.pk}"' in lagging
    assert "2026-08-04" in lagging
    assert f'data-employee-id="{ward.head_nurse.pk}"' in lagging
    assert f'href="/talks/new/?with={ward.doctor_li.pk}"' in lagging


def test_manager_home_leaves_out_people_talked_with_recently_or_booked(
    ward: Hospital, client_as: Signer
):
    held(ward.doctor_li, ward.head, at(date(2026, 11, 24), 9))
    booked(ward.head_nurse, ward.head, at(TODAY + timedelta(days=2), 14))

    lagging = section(html(client_as(ward.head).get("/home/team/")), "home-not-lately")

    assert "data-employee-id" not in lagging


def test_manager_home_leaves_out_people_with_a_talk_asked_for(ward: Hospital, client_as: Signer):
    asked(ward.nurse_wang, ward.head_nurse, at(TODAY + timedelta(days=2), 15))

    lagging = section(html(client_as(ward.head_nurse).get("/home/team/")), "home-not-lately")

    assert f'data-employee-id="{ward.nurse_wang.pk}"' not in lagging


def test_manager_home_weeks_come_from_the_setting(ward: Hospital, client_as: Signer):
    held(ward.doctor_li, ward.head, at(date(2026, 11, 10), 9))

    with override_settings(MIANTAN_TEAM_TALK_WEEKS=4):
        short = section(html(client_as(ward.head).get("/home/team/")), "home-not-lately")
    with override_settings(MIANTAN_TEAM_TALK_WEEKS=8):
        long = section(html(client_as(ward.head).get("/home/team/")), "home-not-lately")

    assert f'data-employee-id="{ward.doctor_li.pk}"' in short
    assert f'data-employee-id="{ward.doctor_li.pk}"' not in long


def test_manager_home_counts_only_talks_with_the_manager(ward: Hospital, client_as: Signer):
    """A talk 王芳 had with HR does not count as one with her manager."""
    held(ward.nurse_wang, ward.hr_partner, at(date(2026, 12, 1), 9))

    lagging = section(html(client_as(ward.head_nurse).get("/home/team/")), "home-not-lately")

    assert f'data-employee-id="{ward.nurse_wang.pk}"' in lagging


# --- HR's start page --------------------------------------------------------------------------


def test_hr_home_shows_cycle_progress_with_a_link_to_its_pairs(ward: Hospital, client_as: Signer):
    cycle = launched_cycle(ward)

    cycles = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-cycles")

    assert f'href="/hr/cycles/{cycle.pk}/"' in cycles
    assert f'data-cycle-id="{cycle.pk}" data-talks="3" data-held="0"' in cycles


def test_hr_home_lists_imports_that_did_not_go_through(ward: Hospital, client_as: Signer):
    rejected = rejected_org_import(ward)
    failed = failed_metrics_import(ward)

    imports = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-failed-imports")

    assert f'href="/hr/import/{rejected.pk}/"' in imports and "花名册.xlsx" in imports
    assert f'href="/hr/metrics/import/{failed.pk}/"' in imports and "指标.xlsx" in imports


def test_hr_home_forgets_a_failed_import_once_one_succeeded(ward: Hospital, client_as: Signer):
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        rejected_org_import(ward, "旧花名册.xlsx")
    rejected_org_import(ward, "新花名册.xlsx", status=ImportStatus.DONE)
    with time_machine.travel(NOW - timedelta(days=40), tick=False):
        failed_metrics_import(ward, "很久以前.xlsx")

    imports = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-failed-imports")

    assert "旧花名册.xlsx" not in imports and "很久以前.xlsx" not in imports


def test_hr_home_hides_imports_from_hr_of_one_department(ward: Hospital, client_as: Signer):
    rejected_org_import(ward)

    page = html(client_as(ward.hr_cardiology).get("/home/hr/"))

    assert 'data-testid="home-failed-imports"' not in page and "花名册.xlsx" not in page


def test_hr_home_lists_requests_waiting_longer_than_the_sla(ward: Hospital, client_as: Signer):
    late = waiting_since(ward.nurse_wang, ward.head_nurse, NOW - timedelta(hours=60))
    fresh = waiting_since(ward.doctor_li, ward.head, NOW - timedelta(hours=5))

    overdue = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-overdue")

    assert f'data-talk-id="{late.pk}"' in overdue and f'href="/talks/{late.pk}/"' in overdue
    assert f'data-talk-id="{fresh.pk}"' not in overdue


def test_hr_home_sla_comes_from_the_setting(ward: Hospital, client_as: Signer):
    talk = waiting_since(ward.nurse_wang, ward.head_nurse, NOW - timedelta(hours=30))

    with override_settings(MIANTAN_REQUEST_SLA_HOURS=24):
        shorter = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-overdue")
    default = section(html(client_as(ward.hr_partner).get("/home/hr/")), "home-overdue")

    assert f'data-talk-id="{talk.pk}"' in shorter
    assert f'data-talk-id="{talk.pk}"' not in default


def test_hr_home_of_one_department_lists_only_its_requests(ward: Hospital, client_as: Signer):
    inside = waiting_since(ward.nurse_wang, ward.head_nurse, NOW - timedelta(hours=60))
    zhao = EmployeeFactory(department=ward.emergency, manager=ward.zhao)
    outside = waiting_since(zhao, ward.zhao, NOW - timedelta(hours=60))

    overdue = section(html(client_as(ward.hr_cardiology).get("/home/hr/")), "home-overdue")

    assert f'data-talk-id="{inside.pk}"' in overdue
    assert f'data-talk-id="{outside.pk}"' not in overdue


# --- the overview (aggregates only) -----------------------------------------------------------


def test_overview_counts_participation_by_department_without_names(
    ward: Hospital, client_as: Signer
):
    held(ward.doctor_li, ward.head, at(date(2026, 11, 24), 9))
    held(ward.nurse_wang, ward.head_nurse, at(date(2026, 11, 25), 9))
    asked(ward.head_nurse, ward.head, at(TODAY + timedelta(days=1), 9))

    with override_settings(MIANTAN_AGGREGATE_MIN_GROUP=3):
        page = html(client_as(ward.executive).get("/home/overview/"))

    table = section(page, "home-participation")
    medicine = table.split(f'data-department-id="{ward.internal_medicine.pk}"')[1].split("</tr>")[0]
    cells = [cell.split(">", 1)[1].split("<", 1)[0].strip() for cell in medicine.split("<td")[2:]]
    assert cells == ["4", "2", "2", "3", "3"]
    for name in ("李明", "王芳", "周敏", "张伟"):
        assert name not in page


def test_overview_does_not_show_departments_too_small_to_stay_anonymous(
    ward: Hospital, client_as: Signer
):
    with override_settings(MIANTAN_AGGREGATE_MIN_GROUP=3):
        table = section(
            html(client_as(ward.executive).get("/home/overview/")), "home-participation"
        )

    assert f'data-department-id="{ward.emergency.pk}"' not in table
    assert f'data-department-id="{ward.it.pk}"' not in table
    # 人力资源部 (2), 信息科, 急诊科 and the root (1 each): five people together.
    small = table.split('data-department-id="small"')[1].split("</tr>")[0]
    assert "<td" in small and ">5<" in small
    assert 'data-department-id="total"' in table


def test_overview_hides_the_total_when_it_would_give_away_a_small_group(
    ward: Hospital, client_as: Signer
):
    EmployeeFactory(department=ward.cardiology)
    EmployeeFactory(department=ward.cardiology)
    # 内科 has 6 people now; the five elsewhere are too few: the total would give them away.
    with override_settings(MIANTAN_AGGREGATE_MIN_GROUP=6):
        table = section(
            html(client_as(ward.executive).get("/home/overview/")), "home-participation"
        )

    assert f'data-department-id="{ward.internal_medicine.pk}"' in table
    small = table.split('data-department-id="small"')[1].split("</tr>")[0]
    assert 'colspan="5"' in small and ">5<" not in small
    assert 'data-department-id="total"' not in table


def test_overview_period_can_be_a_year(ward: Hospital, client_as: Signer):
    held(ward.doctor_li, ward.head, at(date(2026, 5, 12), 9))

    with override_settings(MIANTAN_AGGREGATE_MIN_GROUP=3):
        quarter = html(client_as(ward.executive).get("/home/overview/"))
        year = html(client_as(ward.executive).get("/home/overview/", {"days": "365"}))

    def talks_held(page: str) -> str:
        row = page.split(f'data-department-id="{ward.internal_medicine.pk}"')[1].split("</tr>")[0]
        return row.split("<td")[4].split(">", 1)[1].split("<", 1)[0]

    assert (talks_held(quarter), talks_held(year)) == ("0", "1")


# --- the administrator's start page ------------------------------------------------------------


def test_admin_home_links_to_the_organisation_pages(ward: Hospital, client_as: Signer):
    links = section(html(client_as(ward.admin).get("/home/setup/")), "home-admin-links")

    for path in ("/hr/roles/", "/hr/import/", "/hr/kpis/", "/departments/"):
        assert f'href="{path}"' in links


# --- the same number of queries for one row and for many --------------------------------------

MANY = 12


def queries_for(client: Client, path: str) -> int:
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    return len(captured)


def test_employee_home_query_count_is_constant(ward: Hospital, client_as: Signer):
    asked(ward.head_nurse, ward.head, at(TODAY + timedelta(days=1), 15))
    booked(ward.doctor_li, ward.head, at(TODAY + timedelta(days=1), 9))
    client = client_as(ward.head)
    few = queries_for(client, "/home/me/")
    for day in range(2, 2 + MANY):
        reporter = EmployeeFactory(department=ward.cardiology, manager=ward.head)
        asked(reporter, ward.head, at(TODAY + timedelta(days=day), 10))
        booked(reporter, ward.head, at(TODAY + timedelta(days=day), 15))

    assert queries_for(client, "/home/me/") == few


def test_manager_home_query_count_is_constant(ward: Hospital, client_as: Signer):
    held(ward.doctor_li, ward.head, at(date(2026, 11, 24), 9))
    client = client_as(ward.head)
    few = queries_for(client, "/home/team/")
    for number in range(MANY):
        reporter = EmployeeFactory(department=ward.cardiology, manager=ward.head)
        held(reporter, ward.head, at(date(2026, 11, 2) + timedelta(days=number), 9))

    assert queries_for(client, "/home/team/") == few


def test_hr_home_query_count_is_constant(ward: Hospital, client_as: Signer):
    launched_cycle(ward)
    rejected_org_import(ward)
    failed_metrics_import(ward)
    waiting_since(ward.nurse_wang, ward.head_nurse, NOW - timedelta(hours=60))
    client = client_as(ward.hr_partner)
    few = queries_for(client, "/home/hr/")
    for number in range(MANY):
        launched_cycle(ward, name=f"周期 {number}")
        rejected_org_import(ward, f"花名册 {number}.xlsx")
        failed_metrics_import(ward, f"指标 {number}.xlsx")
        reporter = EmployeeFactory(department=ward.cardiology, manager=ward.head)
        waiting_since(reporter, ward.head, NOW - timedelta(hours=60 + number))

    assert queries_for(client, "/home/hr/") == few


def test_overview_query_count_is_constant(ward: Hospital, client_as: Signer):
    client = client_as(ward.executive)
    few = queries_for(client, "/home/overview/")
    for number in range(MANY):
        department = DepartmentFactory(parent=ward.root)
        reporter = EmployeeFactory(department=department, manager=ward.head)
        held(reporter, ward.head, at(date(2026, 11, 2) + timedelta(days=number), 9))

    assert queries_for(client, "/home/overview/") == few


def test_admin_home_query_count_is_constant(ward: Hospital, client_as: Signer):
    rejected_org_import(ward)
    client = client_as(ward.admin)
    few = queries_for(client, "/home/setup/")
    for _number in range(MANY):
        EmployeeFactory(department=DepartmentFactory(parent=ward.root))
        rejected_org_import(ward)

    assert queries_for(client, "/home/setup/") == few
