"""The holiday calendar in a real browser, on a phone: HR reads where 2027 comes from, sets a
company day off, and reads the page in English too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from miantan.scheduling.models import HolidayOverride
from tests.personas import Hospital
from tests.web.test_browser_directory import (
    PHONE,
    assert_fits_the_screen,
    open_from_menu,
    sign_in,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_browser_holiday_calendar_on_a_phone(live_server, hospital: Hospital, phone: Page):
    base = live_server.url
    sign_in(phone, base, "hr.sun")

    phone.goto(f"{base}/hr/holidays/?year=2027")
    expect(phone.locator("main h1")).to_have_text("节假日日历")
    year = phone.locator("[data-testid=holiday-year]")
    expect(year).to_have_attribute("data-confirmed", "no")
    expect(phone.locator("[data-testid=holiday-source]")).to_contain_text("holidays")
    expect(phone.locator("[data-testid=days-off] [data-day='2027-02-08']")).to_contain_text("春节")
    assert_fits_the_screen(phone, PHONE["width"])

    form = phone.locator("[data-testid=holiday-day-form]")
    form.locator("input[name=date]").fill("2027-03-08")
    form.locator("input[name=name]").fill("公司年会")
    form.locator("button[type=submit]").click()

    expect(phone.locator(".messages")).to_contain_text("2027-03-08")
    own = phone.locator("[data-testid=days-off] [data-day='2027-03-08']")
    expect(own).to_have_attribute("data-origin", "own")
    expect(own).to_contain_text("孙丽")
    assert HolidayOverride.objects.filter(organisation=hospital.organisation).count() == 1
    assert_fits_the_screen(phone, PHONE["width"])

    open_from_menu(phone, "form.lang button[value=en]")
    expect(phone.locator("main h1")).to_have_text("Holiday calendar")
    expect(phone.locator("[data-testid=days-off] [data-day='2027-02-08']")).to_contain_text(
        "Chinese New Year (Spring Festival)"
    )
    assert_fits_the_screen(phone, PHONE["width"])
