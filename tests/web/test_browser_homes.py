"""Signing in through the sign-in page, in a real browser, lands each role on its start page:
on a desktop (1280×800) in Chinese and on a phone (390×844) in English. The employee reaches
the talk request in one click. The clock stands on Wednesday 2026-12-09 10:00 in Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from playwright.sync_api import Browser, Page, expect

from miantan.people.models import Employee
from tests.factories import PASSWORD
from tests.personas import Hospital
from tests.web.test_browser_directory import assert_fits_the_screen
from tests.web.test_homes import LANDING, NOW

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
HEADINGS = {
    "/home/me/": ("你好，", "Hello, "),
    "/home/team/": ("我的团队", "My team"),
    "/home/hr/": ("人力资源", "HR"),
    "/home/overview/": ("概况", "Overview"),
    "/home/setup/": ("系统设置", "Set-up"),
}
# What counts as highlighted in the top bar: a visible entry with a background of its own.
HIGHLIGHTED = """() => [...document.querySelectorAll('.topbar .nav-link')]
    .filter(e => e.checkVisibility({checkVisibilityCSS: true})
        && getComputedStyle(e).backgroundColor !== 'rgba(0, 0, 0, 0)')
    .map(e => e.textContent.trim())"""


@pytest.fixture
def frozen(hospital: Hospital) -> Iterator[Hospital]:
    with time_machine.travel(NOW, tick=False):
        yield hospital


def open_browser(browser: Browser, viewport: dict[str, int], locale: str) -> Page:
    phone = viewport["width"] < 760
    context = browser.new_context(
        viewport=viewport, locale=locale, is_mobile=phone, has_touch=phone
    )
    return context.new_page()


def sign_in_at_start(page: Page, base: str, username: str) -> None:
    """Open the site as a bookmark would, sign in on the page it sends to."""
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")


def lands_on_its_home(page: Page, base: str, role: str, *, english: bool, width: int) -> None:
    home = LANDING[role]
    expect(page).to_have_url(f"{base}{home}")
    expect(page.locator("main h1")).to_contain_text(HEADINGS[home][english])
    tabs = page.locator("[data-testid=home-tabs] a[aria-current=page]")
    if tabs.count():
        expect(tabs).to_have_attribute("href", home)
    assert_fits_the_screen(page, width)


@pytest.mark.parametrize("role", sorted(LANDING))
def test_browser_sign_in_lands_on_the_roles_home_on_a_desktop_in_chinese(
    live_server: Any, frozen: Hospital, browser: Browser, role: str
):
    page = open_browser(browser, DESKTOP, "zh-CN")
    sign_in_at_start(page, live_server.url, frozen.by_role(role).user.username)

    lands_on_its_home(page, live_server.url, role, english=False, width=DESKTOP["width"])
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    assert page.evaluate(HIGHLIGHTED) == ["首页"]
    page.context.close()


@pytest.mark.parametrize("role", sorted(LANDING))
def test_browser_sign_in_lands_on_the_roles_home_on_a_phone_in_english(
    live_server: Any, frozen: Hospital, browser: Browser, role: str
):
    Employee.objects.filter(pk=frozen.by_role(role).pk).update(language="en")
    page = open_browser(browser, PHONE, "en-GB")
    sign_in_at_start(page, live_server.url, frozen.by_role(role).user.username)

    lands_on_its_home(page, live_server.url, role, english=True, width=PHONE["width"])
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.context.close()


@pytest.mark.parametrize(
    ("viewport", "locale", "language", "label"),
    [(PHONE, "zh-CN", "zh-hans", "申请面谈"), (DESKTOP, "en-GB", "en", "Request a talk")],
    ids=["phone-zh", "desktop-en"],
)
def test_browser_employee_reaches_the_talk_request_in_one_click(
    live_server: Any,
    frozen: Hospital,
    browser: Browser,
    viewport: dict[str, int],
    locale: str,
    language: str,
    label: str,
):
    Employee.objects.filter(pk=frozen.doctor_li.pk).update(language=language)
    page = open_browser(browser, viewport, locale)
    sign_in_at_start(page, live_server.url, "doctor.li")
    expect(page).to_have_url(f"{live_server.url}/home/me/")

    button = page.get_by_role("link", name=label, exact=True)
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= viewport["height"]
    button.click()

    expect(page).to_have_url(f"{live_server.url}/talks/new/")
    expect(page.locator("[data-testid=talk-request]")).to_be_visible()
    page.context.close()
