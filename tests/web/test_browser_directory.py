"""The directory in a real browser: signing in, searching as you type, on a phone and a desktop."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
PEOPLE_ROWS = "[data-testid=people-table] tbody tr"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


def sign_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/")
    expect(page).to_have_url(f"{base_url}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    # Signed in, the start page of the person's role (tests/web/test_browser_homes.py).
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/home/[a-z]+/$"))


def open_from_menu(page: Page, selector: str) -> None:
    """Follow a navigation entry; on a phone the entries sit in the menu, opened first."""
    button = page.locator(".site-nav > summary")
    if button.is_visible():
        button.click()
    page.click(selector)


# The innermost elements reaching past the screen's right edge, named in a failure.
WIDEST = """(width) => {
  const right = (e) => Math.round(e.getBoundingClientRect().right + window.scrollX);
  const past = (e) => right(e) > width;
  const classes = (e) => (typeof e.className === "string" ? e.className.trim() : "");
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (classes(e) ? "." + classes(e).split(/\\s+/).join(".") : "");
  return Array.from(document.querySelectorAll("body *"))
    .filter((e) => past(e) && !Array.from(e.children).some(past))
    .slice(0, 5)
    .map((e) => name(e) + " " + right(e) + " px");
}"""


def assert_fits_the_screen(page: Page, width: int) -> None:
    # Measured once the stylesheet has loaded: before it, tables are not yet in their scrollers.
    page.wait_for_load_state("load")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        widest = ", ".join(page.evaluate(WIDEST, width))
        raise AssertionError(f"{page.url} is {scroll_width} px wide on {width} px: {widest}")


def test_browser_directory_search_on_a_phone(live_server, hospital, phone: Page):
    base = live_server.url
    sign_in(phone, base, "hr.sun")
    assert_fits_the_screen(phone, PHONE["width"])

    open_from_menu(phone, "nav.mainnav a[href='/people/']")
    expect(phone.locator("h1")).to_have_text("人员")
    expect(phone.locator(PEOPLE_ROWS)).to_have_count(9)
    assert_fits_the_screen(phone, PHONE["width"])

    phone.fill("#id_q", "王")
    expect(phone.locator(PEOPLE_ROWS)).to_have_count(1)
    expect(phone.locator(PEOPLE_ROWS)).to_contain_text("心内科护理组")
    expect(phone).to_have_url(f"{base}/people/?q=%E7%8E%8B&department=&position=&status=active")
    assert_fits_the_screen(phone, PHONE["width"])

    phone.click(f"{PEOPLE_ROWS} a:text('王芳')")
    expect(phone).to_have_url(f"{base}/people/{hospital.nurse_wang.pk}/")
    expect(phone.locator("h1")).to_have_text("王芳")
    expect(phone.locator(".facts")).to_contain_text("周敏")
    assert_fits_the_screen(phone, PHONE["width"])


def test_browser_language_switch_on_a_desktop(live_server, hospital, desktop: Page):
    base = live_server.url
    sign_in(desktop, base, "hr.sun")
    desktop.goto(f"{base}/me/")
    expect(desktop.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(desktop.locator("nav.mainnav")).to_contain_text("我的档案")

    desktop.click("form.lang button[value=en]")

    expect(desktop).to_have_url(f"{base}/me/")
    expect(desktop.locator("html")).to_have_attribute("lang", "en")
    navigation = desktop.locator("nav.mainnav")
    expect(navigation).to_contain_text("My profile")
    expect(navigation).to_contain_text("People")
    expect(navigation).to_contain_text("Who viewed my records")
    expect(desktop.locator(".facts")).to_contain_text("Employee number")

    desktop.click("nav.mainnav a[href='/people/']")
    expect(desktop.locator("h1")).to_have_text("People")
    expect(desktop.locator("label[for=id_q]")).to_have_text("Name or employee number")
