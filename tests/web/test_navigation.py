"""The navigation: one bar at every width. At 1280 px it fits in one row in English, with the
pages for HR and administrators in one "Manage" group and the pages about oneself in the
account menu; on a phone it is one compact bar whose menu opens with one button, without
JavaScript too. Exactly one entry is marked as the current section on every page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from miantan.people.models import Employee
from tests.personas import Hospital
from tests.web.test_browser_directory import sign_in
from tests.web.test_browser_homes import HIGHLIGHTED, PHONE
from tests.web.test_homes import NOW

Signer = Callable[[Employee], Client]
DESKTOP = {"width": 1280, "height": 800}


def current(client: Client, path: str) -> list[str]:
    """Every entry marked current: bar entries, groups and the pages inside them."""
    context = client.get(path).context
    marked = [item.key for item in context["nav"] if item.current]
    for group in (context["nav_manage"], context["nav_account"]):
        if group is not None and group.current:
            marked.append(group.key)
            marked += [f"{group.key}/{item.key}" for item in group.items if item.current]
    return marked


@pytest.mark.parametrize(
    ("role", "path", "expected"),
    [
        ("HR", "/home/hr/", ["home"]),
        ("HR", "/talks/", ["talks"]),
        ("HR", "/talks/new/", ["talks"]),
        ("HR", "/people/", ["people"]),
        ("manager", "/team/", ["team"]),
        ("HR", "/departments/", ["departments"]),
        ("HR", "/hr/import/", ["manage", "manage/org_import"]),
        ("HR", "/hr/metrics/import/", ["manage", "manage/metrics_import"]),
        ("HR", "/hr/kpis/", ["manage", "manage/kpi_catalogue"]),
        ("admin", "/hr/roles/", ["manage", "manage/roles"]),
        ("HR", "/hr/cycles/", ["manage", "manage/cycles"]),
        ("employee", "/me/", ["account", "account/me"]),
        ("employee", "/me/access-log/", ["account", "account/access_log"]),
        ("employee", "/me/notifications/", ["account", "account/notifications"]),
        ("employee", "/me/calendar/", ["account", "account/calendar_settings"]),
        ("employee", "/accounts/tokens/", ["account", "account/tokens"]),
    ],
)
def test_navigation_marks_one_section_current(
    hospital: Hospital, client_as: Signer, role: str, path: str, expected: list[str]
):
    assert current(client_as(hospital.by_role(role)), path) == expected


def test_navigation_marks_a_persons_pages_under_people_or_the_team(
    hospital: Hospital, client_as: Signer
):
    nurse = hospital.nurse_wang.pk

    assert current(client_as(hospital.hr_partner), f"/people/{nurse}/profile/") == ["people"]
    assert current(client_as(hospital.head_nurse), f"/people/{nurse}/") == ["people"]
    assert current(client_as(hospital.nurse_wang), f"/people/{nurse}/") == ["account"]


def test_navigation_groups_the_pages_for_hr_and_administrators(
    hospital: Hospital, client_as: Signer
):
    def manage(role: str) -> list[str]:
        group = client_as(hospital.by_role(role)).get("/me/").context["nav_manage"]
        return [item.key for item in group.items] if group else []

    everything = {"cycles", "org_import", "metrics_import", "kpi_catalogue", "roles", "holidays"}
    assert everything <= set(manage("admin")) and everything <= set(manage("HR"))
    assert {"cycles", "roles"} <= set(manage("department HR"))
    assert not {"org_import", "metrics_import", "kpi_catalogue"} & set(manage("department HR"))
    assert manage("employee") == manage("executive") == manage("department head") == []


def test_navigation_puts_the_pages_about_oneself_in_the_account_menu(
    hospital: Hospital, client_as: Signer
):
    page = client_as(hospital.doctor_li).get("/home/me/").content.decode()
    account = page.split('data-nav="account"')[1].split("</details>")[0]

    for path in ("/me/", "/me/access-log/", "/me/notifications/", "/me/calendar/"):
        assert f'href="{path}"' in account
    assert 'data-testid="sign-out"' in account


def test_navigation_of_a_login_without_an_employee_is_signing_out(db: None, django_user_model: Any):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password="x" * 12))

    page = client.get("/setup/organisations/").content.decode()

    assert "site-nav" not in page and 'data-testid="sign-out"' in page


def test_navigation_is_not_shown_to_anonymous_visitors(db: None):
    page = Client().get("/accounts/login/").content.decode()

    assert "site-nav" not in page and 'class="lang"' in page


# --- in a real browser ---------------------------------------------------------------------------


@pytest.fixture
def frozen(hospital: Hospital) -> Iterator[Hospital]:
    with time_machine.travel(NOW, tick=False):
        yield hospital


def browser_page(browser: Browser, viewport: dict[str, int], *, javascript: bool = True) -> Page:
    phone = viewport["width"] < 760
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN",
        is_mobile=phone,
        has_touch=phone,
        java_script_enabled=javascript,
    )
    return context.new_page()


def in_language(hospital: Hospital, language: str) -> None:
    Employee.objects.filter(organisation=hospital.organisation).update(language=language)


def bar_height(page: Page) -> float:
    return float(page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height"))


# The vertical middle of each entry of the bar: one row when they all agree within 4 px.
ROW_MIDDLES = """() => [...document.querySelectorAll('.topbar .brand, .topbar .nav-items > li')]
    .filter(e => e.checkVisibility())
    .map(e => { const r = e.getBoundingClientRect(); return r.top + r.height / 2; })"""


@pytest.mark.browser
@pytest.mark.parametrize("role", ["admin", "HR", "department head"])
def test_browser_navigation_fits_one_row_at_1280_px_in_english(
    live_server: Any, frozen: Hospital, browser: Browser, role: str
):
    in_language(frozen, "en")
    page = browser_page(browser, DESKTOP)
    sign_in(page, live_server.url, frozen.by_role(role).user.username)

    for path in ("/people/", "/hr/cycles/" if role != "department head" else "/team/"):
        page.goto(f"{live_server.url}{path}")
        middles = page.evaluate(ROW_MIDDLES)
        assert len(middles) >= 6 and max(middles) - min(middles) <= 4, f"{path}: {middles}"
        assert bar_height(page) <= 60
        assert len(page.evaluate(HIGHLIGHTED)) == 1, page.evaluate(HIGHLIGHTED)
    page.context.close()


@pytest.mark.browser
def test_browser_navigation_manage_group_opens_and_is_the_one_highlight(
    live_server: Any, frozen: Hospital, browser: Browser
):
    in_language(frozen, "en")
    page = browser_page(browser, DESKTOP)
    sign_in(page, live_server.url, "admin.zheng")
    page.goto(f"{live_server.url}/hr/roles/")

    assert page.evaluate(HIGHLIGHTED) == ["Manage"]
    page.click("[data-nav=manage] > summary")
    expect(page.locator("[data-nav=manage] a[data-nav=kpi_catalogue]")).to_be_visible()
    page.click("[data-nav=manage] a[data-nav=kpi_catalogue]")
    expect(page).to_have_url(f"{live_server.url}/hr/kpis/")
    assert page.evaluate(HIGHLIGHTED) == ["Manage"]
    page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize(("language", "label"), [("zh-hans", "菜单"), ("en", "Menu")])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_browser_navigation_on_a_phone_is_one_bar_with_a_menu(
    live_server: Any,
    frozen: Hospital,
    browser: Browser,
    language: str,
    label: str,
    javascript: bool,
):
    in_language(frozen, language)
    page = browser_page(browser, PHONE, javascript=javascript)
    sign_in(page, live_server.url, "hr.sun")
    page.goto(f"{live_server.url}/hr/import/")

    assert bar_height(page) <= 60
    button = page.locator(".site-nav > summary")
    expect(button).to_contain_text(label)
    expect(page.locator("nav.mainnav a[href='/people/']")).to_be_hidden()

    button.click()
    expect(page.locator("nav.mainnav a[href='/people/']")).to_be_visible()
    expect(page.locator("[data-nav=account] a[href='/me/access-log/']")).to_be_visible()
    highlighted = page.evaluate(HIGHLIGHTED)
    assert highlighted == (["导入组织架构"] if language == "zh-hans" else ["Import organisation"])
    assert bar_height(page) <= 60
    page.click("nav.mainnav a[href='/people/']")
    expect(page).to_have_url(f"{live_server.url}/people/")
    page.context.close()
