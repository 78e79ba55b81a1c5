"""Setting up without the shell: the installation administrator's organisation pages, HR's shift
codes and working hours, and the first-run checklist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from miantan.metrics.models import Kpi
from miantan.people.enums import Role
from miantan.people.models import Department, Employee, Organisation, RoleAssignment
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import RosterEntry, ShiftCode, WorkingHours
from miantan.scheduling.work_patterns import default_hours_of
from miantan.web.checklist import setup_checklist
from tests.personas import Hospital, OtherOrganisation
from tests.web.test_browser_directory import assert_fits_the_screen

Signer = Callable[[Employee], Client]
PASSWORD = "Violet-tiger-2027!"
SETUP = "/setup/organisations/"
SHIFTS = "/hr/shift-codes/"
HOURS = "/hr/working-hours/"
NOW = "2026-12-03 10:00 +08:00"


@pytest.fixture
def root(db: None) -> Client:
    get_user_model().objects.create_superuser("root", "root@example.test", PASSWORD)
    client = Client()
    client.login(username="root", password=PASSWORD)
    return client


def in_english(client: Client) -> Client:
    client.post(reverse("accounts:language"), {"language": "en"})
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


ORGANISATION = {
    "name": "仁和医院",
    "name_en": "Renhe Hospital",
    "slug": "renhe",
    "time_zone": "Asia/Shanghai",
    "root_name": "",
    "root_code": "",
    "weekdays": ["0", "1", "2", "3", "4"],
    "start": "08:30",
    "end": "17:30",
    "break_start": "12:00",
    "break_end": "13:00",
}
ADMINISTRATOR = {
    "name": "郑毅",
    "employee_number": "R0001",
    "username": "renhe.admin",
    "email": "admin@renhe.example",
    "language": "zh-hans",
    "password": PASSWORD,
    "password_again": PASSWORD,
}


# --- the installation administrator's pages --------------------------------------------------


def test_setup_page_creates_an_organisation_with_root_and_hours(root: Client) -> None:
    response = root.post(SETUP, ORGANISATION)

    organisation = Organisation.objects.get(slug="renhe")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:setup_organisation", args=[organisation.pk])
    assert Department.objects.filter(organisation=organisation, parent=None).count() == 1
    lunch = [(time(8, 30), time(12)), (time(13), time(17, 30))]
    assert default_hours_of(organisation) == {day: lunch for day in range(5)}


def test_setup_page_then_creates_the_first_administrator_who_can_sign_in(root: Client) -> None:
    root.post(SETUP, ORGANISATION)
    organisation = Organisation.objects.get(slug="renhe")
    page = reverse("web:setup_organisation", args=[organisation.pk])
    assert 'data-testid="administrator-form"' in root.get(page).content.decode()

    response = root.post(page, ADMINISTRATOR, follow=True)

    admin = Employee.objects.get(organisation=organisation)
    assert RoleAssignment.objects.filter(employee=admin, role=Role.ADMIN).exists()
    assert 'data-testid="administrator-form"' not in response.content.decode()
    assert "renhe.admin" in response.content.decode()
    newcomer = Client()
    assert newcomer.login(username="renhe.admin", password=PASSWORD)
    assert newcomer.get(reverse("web:org_import")).status_code == 200


def test_setup_page_refuses_a_taken_short_name_on_its_field(
    root: Client, hospital: Hospital
) -> None:
    in_english(root)

    response = root.post(SETUP, {**ORGANISATION, "slug": "hospital"})

    assert response.status_code == 400
    assert "already exists" in response.context["form"].errors["slug"][0]
    assert not Organisation.objects.filter(name="仁和医院").exists()


def test_setup_page_refuses_hours_that_end_before_they_start(root: Client) -> None:
    response = root.post(SETUP, {**ORGANISATION, "start": "18:00", "end": "09:00"})

    assert response.status_code == 400
    assert response.context["form"].errors["start"]
    assert not Organisation.objects.exists()


def test_setup_page_speaks_chinese_by_default(root: Client) -> None:
    response = root.post(SETUP, {**ORGANISATION, "start": "18:00", "end": "09:00"})

    assert response.status_code == 400
    assert response.context["form"].errors["start"] == [
        "星期一：18:00–09:00 在开始之前就结束了；工作时间须在当天结束。"
    ]
    assert "新建组织" in response.content.decode()


def test_setup_page_refuses_a_second_first_administrator(root: Client) -> None:
    root.post(SETUP, ORGANISATION)
    organisation = Organisation.objects.get(slug="renhe")
    page = reverse("web:setup_organisation", args=[organisation.pk])
    root.post(page, ADMINISTRATOR)

    response = root.post(page, {**ADMINISTRATOR, "username": "second", "employee_number": "R2"})

    assert response.status_code == 400
    assert Employee.objects.filter(organisation=organisation).count() == 1


def test_setup_page_refuses_differing_passwords(root: Client) -> None:
    root.post(SETUP, ORGANISATION)
    organisation = Organisation.objects.get(slug="renhe")
    page = reverse("web:setup_organisation", args=[organisation.pk])

    response = root.post(page, {**ADMINISTRATOR, "password_again": "something-else-42"})

    assert response.status_code == 400
    assert not Employee.objects.exists()


def test_setup_page_for_an_unknown_organisation_is_404(root: Client) -> None:
    assert root.get(reverse("web:setup_organisation", args=[987654])).status_code == 404


@pytest.mark.parametrize("persona", ["admin", "hr_partner", "doctor_li"])
def test_setup_pages_are_forbidden_to_organisation_staff(
    hospital: Hospital, client_as: Signer, persona: str
) -> None:
    client = client_as(getattr(hospital, persona))
    page = reverse("web:setup_organisation", args=[hospital.organisation.pk])

    assert client.get(SETUP).status_code == 403
    assert client.post(SETUP, ORGANISATION).status_code == 403
    assert client.post(page, ADMINISTRATOR).status_code == 403
    assert not Organisation.objects.filter(slug="renhe").exists()


def test_setup_page_sends_anonymous_visitors_to_sign_in(db: None) -> None:
    response = Client().get(SETUP)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- shift codes -----------------------------------------------------------------------------

NIGHT = {
    "code": "夜班",
    "name": "",
    "name_en": "Night",
    "start": "20:00",
    "end": "08:00",
    "overnight": "yes",
    "kind": ShiftKind.NIGHT,
}


def night(hospital: Hospital) -> ShiftCode:
    return ShiftCode.objects.create(
        organisation=hospital.organisation,
        code="夜班",
        name_en="Night",
        start=time(20),
        end=time(8),
        kind=ShiftKind.NIGHT,
    )


def test_shift_codes_page_adds_a_code(hospital: Hospital, client_as: Signer) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(SHIFTS, NIGHT, follow=True)

    shift = ShiftCode.objects.get()
    assert (shift.code, shift.start, shift.end, shift.kind) == ("夜班", time(20), time(8), "night")
    assert "The shift code 夜班 was added." in messages_of(response)
    assert "ends the next day" in response.content.decode()


def test_shift_codes_page_refuses_a_next_day_shift_marked_same_day(
    hospital: Hospital, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.admin))

    response = client.post(SHIFTS, {**NIGHT, "overnight": "no"})

    assert response.status_code == 400
    assert "ends the next day" in response.context["form"].errors["overnight"][0]
    assert not ShiftCode.objects.exists()


def test_shift_codes_page_refuses_a_duplicate_in_chinese(
    hospital: Hospital, client_as: Signer
) -> None:
    night(hospital)

    response = client_as(hospital.hr_partner).post(SHIFTS, NIGHT)

    assert response.status_code == 400
    assert "夜班" in response.context["form"].errors["code"][0]
    assert "“" in response.context["form"].errors["code"][0]
    assert ShiftCode.objects.count() == 1


def test_shift_code_edit_page_changes_the_times(hospital: Hospital, client_as: Signer) -> None:
    shift = night(hospital)
    client = client_as(hospital.hr_partner)
    page = reverse("web:shift_code_edit", args=[shift.pk])
    assert client.get(page).context["form"].initial["overnight"] == "yes"

    response = client.post(page, {**NIGHT, "start": "21:00"})

    assert response.status_code == 302
    shift.refresh_from_db()
    assert shift.start == time(21)


def test_shift_code_retire_and_reinstate(hospital: Hospital, client_as: Signer) -> None:
    shift = night(hospital)
    client = client_as(hospital.hr_partner)

    client.post(reverse("web:shift_code_retire", args=[shift.pk]))
    shift.refresh_from_db()
    assert shift.is_retired
    assert 'class="retired"' in client.get(SHIFTS).content.decode()

    client.post(reverse("web:shift_code_reinstate", args=[shift.pk]))
    shift.refresh_from_db()
    assert not shift.is_retired


def test_shift_codes_page_is_read_only_for_department_hr(
    hospital: Hospital, client_as: Signer
) -> None:
    shift = night(hospital)
    client = client_as(hospital.hr_cardiology)

    page = client.get(SHIFTS)

    assert page.status_code == 200
    assert not page.context["may_manage"]
    assert 'data-testid="shift-code-form"' not in page.content.decode()
    assert client.post(SHIFTS, {**NIGHT, "code": "白班"}).status_code == 403
    assert client.get(reverse("web:shift_code_edit", args=[shift.pk])).status_code == 403
    assert client.post(reverse("web:shift_code_retire", args=[shift.pk])).status_code == 403
    assert list(ShiftCode.objects.values_list("code", "retired_at")) == [("夜班", None)]


@pytest.mark.parametrize("persona", ["doctor_li", "head", "executive"])
def test_shift_codes_pages_are_forbidden_without_an_hr_role(
    hospital: Hospital, client_as: Signer, persona: str
) -> None:
    shift = night(hospital)
    client = client_as(getattr(hospital, persona))

    assert client.get(SHIFTS).status_code == 403
    assert client.post(SHIFTS, {**NIGHT, "code": "白班"}).status_code == 403
    assert client.post(reverse("web:shift_code_retire", args=[shift.pk])).status_code == 403
    assert ShiftCode.objects.count() == 1


def test_shift_code_of_another_organisation_is_404(
    hospital: Hospital, other_org: OtherOrganisation, client_as: Signer
) -> None:
    foreign = ShiftCode.objects.create(
        organisation=other_org.organisation,
        code="早班",
        start=time(6),
        end=time(14),
        kind=ShiftKind.DAY,
    )
    client = client_as(hospital.hr_partner)

    assert client.get(reverse("web:shift_code_edit", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("web:shift_code_retire", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("web:shift_code_edit", args=[foreign.pk]), NIGHT).status_code == 404
    foreign.refresh_from_db()
    assert foreign.retired_at is None and foreign.code == "早班"


def shift_code_queries(client: Client) -> int:
    client.get(SHIFTS)  # warm-up
    with CaptureQueriesContext(connection) as captured:
        response = client.get(SHIFTS)
    assert response.status_code == 200
    return len(captured)


def test_shift_codes_page_query_count_is_constant(hospital: Hospital, client_as: Signer) -> None:
    client = client_as(hospital.hr_partner)
    shift = night(hospital)
    RosterEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        date=date(2026, 12, 1),
        shift_code=shift,
    )
    one = shift_code_queries(client)
    for number in range(30):
        extra = ShiftCode.objects.create(
            organisation=hospital.organisation,
            code=f"S{number}",
            start=time(8),
            end=time(16),
            kind=ShiftKind.DAY,
            retired_at=None if number % 3 else "2026-11-01T00:00Z",
        )
        RosterEntry.objects.create(
            organisation=hospital.organisation,
            employee=hospital.nurse_wang,
            date=date(2026, 11, 1 + number % 28),
            shift_code=extra,
        )

    many = shift_code_queries(client)

    assert many == one, f"{one} queries with one shift code, {many} with 31"


# --- working hours ---------------------------------------------------------------------------


def week(**days: tuple[str, str, str, str]) -> dict[str, str]:
    """Form data: `d0=("08:00", "17:00", "12:00", "13:00")` makes Monday a working day."""
    data: dict[str, str] = {}
    for key, (start, end, break_start, break_end) in days.items():
        day = key[1:]
        data.update(
            {
                f"d{day}_works": "on",
                f"d{day}_start": start,
                f"d{day}_end": end,
                f"d{day}_break_start": break_start,
                f"d{day}_break_end": break_end,
            }
        )
    return data


def test_working_hours_page_shows_the_assumed_default_until_saved(
    hospital: Hospital, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).get(HOURS)

    assert not response.context["saved"]
    assert response.context["form"].initial["d0_start"] == time(9)
    assert 'data-testid="working-hours-default"' in response.content.decode()


def test_working_hours_page_saves_a_week_with_a_lunch_break(
    hospital: Hospital, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.admin))

    response = client.post(
        HOURS, week(d0=("08:00", "17:30", "12:00", "14:00"), d5=("09:00", "12:00", "", ""))
    )

    assert response.status_code == 302
    assert default_hours_of(hospital.organisation) == {
        0: [(time(8), time(12)), (time(14), time(17, 30))],
        5: [(time(9), time(12))],
    }
    page = client.get(HOURS)
    assert page.context["form"].initial["d0_break_end"] == time(14)
    assert "The working hours were saved." in messages_of(page)


def test_working_hours_page_refuses_a_break_outside_the_day(
    hospital: Hospital, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(
        HOURS, week(d2=("08:00", "17:00", "18:00", "19:00"))
    )

    assert response.status_code == 400
    assert "星期三" in response.context["form"].errors["d2_works"][0]
    assert not WorkingHours.objects.exists()


def test_working_hours_page_refuses_an_end_before_the_start_by_weekday(
    hospital: Hospital, client_as: Signer
) -> None:
    client = in_english(client_as(hospital.hr_partner))

    response = client.post(HOURS, week(d1=("18:00", "09:00", "", "")))

    assert response.status_code == 400
    assert response.context["form"].errors["d1_works"] == [
        "Tuesday: 18:00–09:00 ends before it starts; working hours end on the day they start."
    ]


def test_working_hours_page_refuses_a_week_without_working_time(
    hospital: Hospital, client_as: Signer
) -> None:
    response = client_as(hospital.hr_partner).post(HOURS, {})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors()


def test_working_hours_page_is_read_only_for_department_hr(
    hospital: Hospital, client_as: Signer
) -> None:
    client = client_as(hospital.hr_cardiology)

    assert client.get(HOURS).status_code == 200
    assert client.post(HOURS, week(d0=("08:00", "17:00", "", ""))).status_code == 403
    assert not WorkingHours.objects.exists()


@pytest.mark.parametrize("persona", ["doctor_li", "head_nurse", "executive"])
def test_working_hours_page_is_forbidden_without_an_hr_role(
    hospital: Hospital, client_as: Signer, persona: str
) -> None:
    client = client_as(getattr(hospital, persona))

    assert client.get(HOURS).status_code == 403
    assert client.post(HOURS, week(d0=("08:00", "17:00", "", ""))).status_code == 403


# --- the first-run checklist -----------------------------------------------------------------


@pytest.fixture
def fresh(db: None) -> tuple[Organisation, Employee]:
    """A new organisation with only its administrator, as the setup leaves it."""
    from miantan.people.services import create_first_administrator
    from miantan.scheduling.work_patterns import set_up_organisation

    with time_machine.travel(NOW, tick=False):
        organisation = set_up_organisation(
            slug="renhe", name="仁和医院", time_zone="Asia/Shanghai", actor=None
        )
        admin = create_first_administrator(
            organisation,
            name="郑毅",
            employee_number="R0001",
            username="renhe.admin",
            password=PASSWORD,
            actor=None,
        )
    return organisation, admin


def items(checklist: Any) -> dict[str, bool]:
    return {item.key: item.done for item in checklist}


def test_checklist_of_a_new_organisation_lists_what_is_missing(fresh) -> None:
    organisation, admin = fresh

    with time_machine.travel(NOW, tick=False):
        checklist = setup_checklist(organisation, admin.user)

    assert [item.key for item in checklist] == [
        "people",
        "kpis",
        "kpi_values",
        "working_hours",
        "holidays",
        "shift_codes",
    ]
    assert items(checklist) | {"holidays": None} == {
        "people": False,
        "kpis": False,
        "kpi_values": False,
        "working_hours": True,
        "holidays": None,
        "shift_codes": False,
    }
    shift_codes = checklist[-1]
    assert shift_codes.optional
    assert all(item.url for item in checklist)
    assert not checklist.complete


def test_checklist_ticks_people_kpis_and_shift_codes_off(fresh) -> None:
    organisation, admin = fresh
    from tests.factories import EmployeeFactory

    EmployeeFactory(department=admin.department, employee_number="R0002")
    Kpi.objects.create(organisation=organisation, code="visits", name="门诊量")
    ShiftCode.objects.create(
        organisation=organisation, code="白班", start=time(8), end=time(17), kind=ShiftKind.DAY
    )

    with time_machine.travel(NOW, tick=False):
        done = items(setup_checklist(organisation, admin.user))

    assert done["people"] and done["kpis"] and done["shift_codes"]
    assert not done["kpi_values"]


def test_checklist_makes_shift_codes_required_once_rosters_are_used(
    hospital: Hospital,
) -> None:
    shift = night(hospital)
    RosterEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        date=date(2026, 12, 1),
        shift_code=shift,
    )
    ShiftCode.objects.filter(pk=shift.pk).update(retired_at="2026-12-02T00:00Z")

    with time_machine.travel(NOW, tick=False):
        checklist = setup_checklist(hospital.organisation)

    shift_codes = checklist[-1]
    assert not shift_codes.optional and not shift_codes.done


def test_checklist_hides_links_department_hr_may_not_open(hospital: Hospital) -> None:
    with time_machine.travel(NOW, tick=False):
        checklist = setup_checklist(hospital.organisation, hospital.hr_cardiology.user)

    urls = {item.key: item.url for item in checklist}
    assert urls["people"] is None and urls["kpis"] is None and urls["kpi_values"] is None
    assert urls["shift_codes"] == reverse("web:shift_codes")
    assert urls["working_hours"] == reverse("web:working_hours")


def test_checklist_links_open_for_the_administrator(fresh, client_as: Signer) -> None:
    organisation, admin = fresh
    client = client_as(admin)

    with time_machine.travel(NOW, tick=False):
        checklist = setup_checklist(organisation, admin.user)
        answers = {item.key: client.get(item.url).status_code for item in checklist}

    assert set(answers.values()) == {200}, answers


def checklist_queries(organisation: Organisation, viewer: Any) -> int:
    with time_machine.travel(NOW, tick=False):
        setup_checklist(organisation, viewer)
        with CaptureQueriesContext(connection) as captured:
            setup_checklist(organisation, viewer)
    return len(captured)


def test_checklist_query_count_does_not_grow_with_the_organisation(hospital: Hospital) -> None:
    from tests.factories import EmployeeFactory

    few = checklist_queries(hospital.organisation, hospital.hr_partner.user)
    for number in range(25):
        EmployeeFactory(department=hospital.emergency, employee_number=f"H9{number:03d}")
        Kpi.objects.create(
            organisation=hospital.organisation, code=f"k{number}", name=f"指标{number}"
        )

    many = checklist_queries(hospital.organisation, hospital.hr_partner.user)

    assert many == few <= 4


def render_checklist(organisation: Organisation, viewer: Any, language: str) -> str:
    from django.utils import translation

    with time_machine.travel(NOW, tick=False), translation.override(language):
        checklist = setup_checklist(organisation, viewer)
        return render_to_string("web/_setup_checklist.html", {"checklist": checklist})


def test_checklist_partial_links_what_is_missing_in_chinese(fresh) -> None:
    organisation, admin = fresh

    html = render_checklist(organisation, admin.user, "zh-hans")

    assert 'data-testid="setup-checklist"' in html
    assert f'href="{reverse("web:org_import")}"' in html
    assert 'data-item="working_hours" data-done="yes"' in html
    assert "人员已导入" in html
    assert "（可选）" in html


def test_checklist_partial_in_english(fresh) -> None:
    organisation, admin = fresh

    html = render_checklist(organisation, admin.user, "en")

    assert "Getting started" in html
    assert "People imported" in html
    assert "Only the administrators so far" in html


def test_checklist_partial_renders_nothing_without_a_checklist() -> None:
    assert render_to_string("web/_setup_checklist.html", {"checklist": None}).strip() == ""


def test_navigation_offers_shift_codes_and_hours_to_hr_only(
    hospital: Hospital, client_as: Signer
) -> None:
    page = client_as(hospital.hr_cardiology).get(HOURS)

    manage = page.context["nav_manage"].items
    assert {SHIFTS, HOURS} <= {item.url for item in manage}
    assert [item.url for item in manage if item.current] == [HOURS]
    other = client_as(hospital.doctor_li).get(reverse("web:talks")).context.get("nav_manage")
    assert other is None or SHIFTS not in {item.url for item in other.items}


# --- on a phone ------------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_hr_keeps_shift_codes_and_hours_on_a_phone(live_server, hospital, browser) -> None:
    from playwright.sync_api import expect

    from tests.factories import PASSWORD as PERSONA_PASSWORD

    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "hr.sun")
    page.fill("#id_password", PERSONA_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{base}{SHIFTS}")
    form = page.locator("[data-testid=shift-code-form]")
    form.locator("#id_code").fill("夜班")
    form.locator("#id_start").fill("20:00")
    form.locator("#id_end").fill("08:00")
    form.get_by_label("次日").check()
    form.locator("input[name=kind][value=night]").check()
    form.locator("button[type=submit]").click()

    expect(page.locator("[data-testid=shift-codes] tr[data-code='夜班']")).to_contain_text(
        "次日结束"
    )
    assert_fits_the_screen(page, 375)

    page.goto(f"{base}{HOURS}")
    page.fill("#id_d0_end", "17:30")
    page.click("[data-testid=working-hours-form] button[type=submit]")

    expect(page.locator(".messages")).to_contain_text("工作时间已保存")
    assert_fits_the_screen(page, 375)
    context.close()
    assert default_hours_of(hospital.organisation)[0][-1] == (time(13), time(17, 30))
