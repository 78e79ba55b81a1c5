"""/hr/cycles/: HR partners and administrators create review cycles, launch them and follow
their progress; everyone else gets 403, another organisation's cycle 404."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from miantan.interviews.cycles import create_cycle, launch_cycle
from miantan.interviews.enums import CycleState
from miantan.interviews.models import ReviewCycle, Talk
from miantan.people.enums import Role
from miantan.people.models import Department, Employee
from miantan.scheduling.enums import LeaveKind
from miantan.scheduling.models import Leave
from tests.factories import DepartmentFactory, EmployeeFactory, RoleAssignmentFactory
from tests.personas import Hospital, OtherOrganisation
from tests.scheduling.builders import at
from tests.web.test_browser_directory import PHONE, assert_fits_the_screen, sign_in

Signer = Callable[[Employee], Client]
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 30)
FRIDAY_NEXT = date(2026, 12, 11)
LIST = reverse("web:cycles")


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    time_machine.move_to(datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI), tick=False)


def detail_url(cycle: ReviewCycle | int) -> str:
    cycle_id = cycle if isinstance(cycle, int) else cycle.pk
    return reverse("web:cycle_detail", kwargs={"cycle_id": cycle_id})


def launch_url(cycle: ReviewCycle) -> str:
    return reverse("web:cycle_launch", kwargs={"cycle_id": cycle.pk})


def draft(actor: Employee, departments: list[Department], name: str = "2026 Q4") -> ReviewCycle:
    return create_cycle(
        actor=actor.user,
        name=name,
        topic="quarterly_review",
        period="2026 Q4",
        departments=departments,
        window_start=MONDAY,
        window_end=FRIDAY_NEXT,
        duration_minutes=45,
    )


@pytest.fixture
def cycle(hospital: Hospital) -> ReviewCycle:
    return draft(hospital.hr_partner, [hospital.root])


@pytest.fixture
def foreign_cycle(other_org: OtherOrganisation) -> ReviewCycle:
    return draft(other_org.employee, [other_org.department], name="星河 Q4")


def form_data(hospital: Hospital, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "2026 年第四季度面谈",
        "topic": "quarterly_review",
        "period": "2026 Q4",
        "departments": [hospital.cardiology.pk],
        "window_start": "2026-11-30",
        "window_end": "2026-12-11",
        "duration_minutes": "45",
        **overrides,
    }


def in_english(client: Client) -> Client:
    client.post(reverse("accounts:language"), {"language": "en"})
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- who may open them -------------------------------------------------------------------------


def test_cycles_page_lists_cycles_for_hr(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).get(LIST)

    assert response.status_code == 200
    assert response.context["cycles"] == [cycle]
    assert b"2026 Q4" in response.content


def test_cycles_page_opens_for_an_administrator(hospital: Hospital, client_as: Signer) -> None:
    assert client_as(hospital.admin).get(LIST).status_code == 200


@pytest.mark.parametrize("persona", ["doctor_li", "head_nurse", "head", "executive"])
def test_cycle_pages_are_forbidden_without_hr_or_admin(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer, persona: str
) -> None:
    client = client_as(getattr(hospital, persona))

    assert client.get(LIST).status_code == 403
    assert client.post(LIST, form_data(hospital)).status_code == 403
    assert client.get(detail_url(cycle)).status_code == 403
    assert client.post(launch_url(cycle)).status_code == 403
    assert not Talk.objects.exists()


def test_cycle_pages_send_anonymous_visitors_to_sign_in(cycle: ReviewCycle) -> None:
    response = Client().get(detail_url(cycle))

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_cycle_of_another_organisation_is_not_found(
    hospital: Hospital, foreign_cycle: ReviewCycle, client_as: Signer
) -> None:
    client = client_as(hospital.hr_partner)

    assert client.get(detail_url(foreign_cycle)).status_code == 404
    assert client.post(launch_url(foreign_cycle)).status_code == 404
    assert ReviewCycle.objects.get(pk=foreign_cycle.pk).state == CycleState.DRAFT


def test_unknown_cycle_is_not_found(hospital: Hospital, client_as: Signer) -> None:
    assert client_as(hospital.hr_partner).get(detail_url(987654)).status_code == 404


def test_cycle_beyond_an_hr_partners_departments_is_not_found(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    RoleAssignmentFactory(employee=hospital.zhao, role=Role.HR, department=hospital.emergency)
    client = client_as(hospital.zhao)

    assert client.get(LIST).status_code == 200
    assert client.get(LIST).context["cycles"] == []
    assert client.get(detail_url(cycle)).status_code == 404


# --- creating ----------------------------------------------------------------------------------


def test_hr_creates_a_cycle(hospital: Hospital, client_as: Signer) -> None:
    response = client_as(hospital.hr_partner).post(LIST, form_data(hospital))

    created = ReviewCycle.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(created)
    assert created.name == "2026 年第四季度面谈"
    assert list(created.departments.all()) == [hospital.cardiology]
    assert created.state == CycleState.DRAFT


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"window_start": "2026-11-20"}, "The first day is today or later."),
        ({"window_end": "2027-02-15"}, "A cycle lasts at most 60 days."),
        ({"window_end": "2026-11-29"}, "The last day is before the first day."),
        ({"name": ""}, "This field is required."),
        ({"departments": []}, "This field is required."),
        ({"duration_minutes": "500"}, "240"),
    ],
)
def test_creating_with_bad_input_answers_400_and_changes_nothing(
    hospital: Hospital, client_as: Signer, overrides: dict[str, Any], message: str
) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(LIST, form_data(hospital, **overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReviewCycle.objects.exists()


def test_creating_for_another_organisations_department_is_refused(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        LIST, form_data(hospital, departments=[other_org.department.pk])
    )

    assert response.status_code == 400
    assert not ReviewCycle.objects.exists()


def test_the_form_offers_only_departments_in_the_hr_scope(
    hospital: Hospital, client_as: Signer
) -> None:
    RoleAssignmentFactory(employee=hospital.zhao, role=Role.HR, department=hospital.emergency)

    response = client_as(hospital.zhao).get(LIST)

    offered = list(response.context["form"].fields["departments"].queryset)
    assert offered == [hospital.emergency]


# --- launching and following -------------------------------------------------------------------


def test_hr_launches_a_cycle_from_its_page(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(launch_url(cycle), follow=True)

    assert response.redirect_chain == [(detail_url(cycle), 302)]
    assert messages_of(response) == [
        "The cycle was launched: 3 talks, a time proposed for 3, 0 without a time."
    ]
    assert ReviewCycle.objects.get(pk=cycle.pk).state == CycleState.LAUNCHED
    assert Talk.objects.filter(cycle=cycle).count() == 3
    progress = response.context["progress"]
    assert progress["buckets"]["proposed"] == 3
    assert b'data-testid="cycle-progress"' in response.content


def test_launching_twice_shows_an_error_and_changes_nothing(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))
    client.post(launch_url(cycle), follow=True)

    response = client.post(launch_url(cycle), follow=True)

    assert messages_of(response) == ["This cycle has already been launched."]
    assert Talk.objects.filter(cycle=cycle).count() == 3


def test_launch_answers_405_to_get(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    assert client_as(hospital.hr_partner).get(launch_url(cycle)).status_code == 405


def test_draft_page_offers_the_launch(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).get(detail_url(cycle))

    assert response.status_code == 200
    assert b'data-testid="cycle-launch"' in response.content
    assert b'data-testid="cycle-progress"' not in response.content


def test_cycle_page_lists_pairs_without_a_time_with_the_reason(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    Leave.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        kind=LeaveKind.ANNUAL,
        start=at(MONDAY, 0),
        end=at(FRIDAY_NEXT + timedelta(days=1), 0),
    )
    client = in_english(client_as(hospital.hr_partner))
    client.post(launch_url(cycle))

    response = client.get(detail_url(cycle))

    rows = response.context["infeasible"]
    assert [(row["employee_person"].name, row["reason"]) for row in rows] == [
        ("王芳", "employee_on_leave")
    ]
    assert "The employee is on leave for the whole window." in response.content.decode()


def test_cycle_page_shows_progress_per_manager(
    hospital: Hospital, cycle: ReviewCycle, client_as: Signer
) -> None:
    client = client_as(hospital.hr_partner)
    client.post(launch_url(cycle))

    response = client.get(detail_url(cycle))

    managers = {row["name"]: row["total"] for row in response.context["managers"]}
    assert managers == {"张伟": 2, "周敏": 1}


# --- query counts ------------------------------------------------------------------------------


def ward_cycle(hospital: Hospital, talks: int) -> ReviewCycle:
    """A launched cycle of a new ward: its head nurse (reporting to 张伟) and talks − 1 nurses,
    one of them on leave (so that the page lists a pair without a time)."""
    ward = DepartmentFactory(parent=hospital.cardiology, name=f"病房{talks}")
    lead = EmployeeFactory(department=ward, manager=hospital.head)
    nurses = [EmployeeFactory(department=ward, manager=lead) for _ in range(talks - 1)]
    Leave.objects.create(
        organisation=hospital.organisation,
        employee=nurses[0],
        kind=LeaveKind.SICK,
        start=at(MONDAY, 0),
        end=at(FRIDAY_NEXT + timedelta(days=1), 0),
    )
    created = draft(hospital.hr_partner, [ward], name=f"病房 {talks}")
    launch_cycle(created, actor=hospital.hr_partner.user)
    assert created.talks.count() == talks
    return created


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_cycle_page_query_count_is_constant(hospital: Hospital, client_as: Signer) -> None:
    few, many = ward_cycle(hospital, 5), ward_cycle(hospital, 50)
    client = client_as(hospital.hr_partner)
    queries_for(client, detail_url(few))  # warm up the session and the caches

    assert queries_for(client, detail_url(few)) == queries_for(client, detail_url(many))


def test_cycles_list_query_count_is_constant(hospital: Hospital, client_as: Signer) -> None:
    client = client_as(hospital.hr_partner)
    draft(hospital.hr_partner, [hospital.root], name="first")
    queries_for(client, LIST)
    one = queries_for(client, LIST)
    for number in range(10):
        draft(hospital.hr_partner, [hospital.cardiology, hospital.emergency], name=f"c{number}")

    assert queries_for(client, LIST) == one


# --- in a browser ------------------------------------------------------------------------------


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_browser_cycle_created_and_launched_on_a_phone(
    live_server: Any, hospital: Hospital, phone: Page
) -> None:
    base = live_server.url
    sign_in(phone, base, "hr.sun")
    phone.goto(f"{base}{LIST}")
    assert_fits_the_screen(phone, PHONE["width"])

    phone.fill("#id_name", "2026 年第四季度面谈")
    phone.select_option("#id_departments", str(hospital.root.pk))
    phone.fill("#id_window_start", "2026-11-30")
    phone.fill("#id_window_end", "2026-12-11")
    phone.click("[data-testid=cycle-form] button[type=submit]")
    expect(phone.locator("[data-testid=cycle-launch]")).to_be_visible()
    phone.wait_for_load_state()
    assert_fits_the_screen(phone, PHONE["width"])

    phone.click("[data-testid=cycle-launch] button[type=submit]")
    expect(phone.locator("[data-testid=cycle-progress]")).to_be_visible()
    expect(phone.locator("[data-testid=cycle-managers]")).to_contain_text("张伟")
    phone.wait_for_load_state()
    assert_fits_the_screen(phone, PHONE["width"])

    phone.click("form.lang button")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    phone.wait_for_load_state()
    assert_fits_the_screen(phone, PHONE["width"])
