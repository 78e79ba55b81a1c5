"""Requesting a talk on a phone, in a real browser: nurse 王芳 asks her manager, head nurse
周敏, in three steps; 周敏 finds the request in her inbox and accepts it. Once in English (the
words are checked), once in Chinese (the default; the states are checked by data attributes).

The clock runs from a fixed Monday morning (conftest.BROWSER_START): both people work weekdays
08:00–12:00 and 14:00–17:30, and 王芳 is away until the second working day from then, so the
best slot is 08:00 on that day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from miantan.people.models import Employee
from miantan.people.services import set_language
from miantan.scheduling.enums import LeaveKind
from miantan.scheduling.holidays import is_working_day
from miantan.scheduling.models import Leave, WorkingHours
from tests.personas import Hospital
from tests.scheduling.builders import SHANGHAI, at
from tests.web.test_browser_directory import assert_fits_the_screen, open_from_menu, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OpenPhone = Callable[[], Page]


@pytest.fixture
def open_phone(browser: Browser) -> Iterator[OpenPhone]:
    """A new phone (its own browser context, so its own session) each time it is called."""
    contexts = []

    def open_one() -> Page:
        context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()


@pytest.fixture
def first_slot(hospital: Hospital) -> datetime:
    """Working hours for both people, and 王芳 away until the day of the best slot."""
    for person in (hospital.nurse_wang, hospital.head_nurse):
        for weekday in range(5):
            for start, end in ((time(8), time(12)), (time(14), time(17, 30))):
                WorkingHours.objects.create(
                    organisation=hospital.organisation,
                    employee=person,
                    weekday=weekday,
                    start=start,
                    end=end,
                )
    day = second_working_day_from(datetime.now(SHANGHAI).date())
    Leave.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        kind=LeaveKind.TRAINING,
        start=datetime.now(UTC) - timedelta(hours=1),
        end=at(day, 0),
    )
    return at(day, 8)


def second_working_day_from(today: date) -> date:
    day, found = today, 0
    while found < 2:
        day += timedelta(days=1)
        found += is_working_day(day)
    return day


def english(*people: Employee) -> None:
    for person in people:
        set_language(person, language="en", actor=None)


def request_a_talk(phone: Page, base: str, manager: Employee, start: datetime) -> str:
    """王芳's three steps; returns the talk page's path."""
    sign_in(phone, base, "nurse.wang")
    open_from_menu(phone, "[data-testid=nav-talks]")
    expect(phone).to_have_url(f"{base}/talks/")
    assert_fits_the_screen(phone, PHONE["width"])

    phone.click("[data-testid=request-talk]")
    form = phone.locator("[data-testid=talk-request]")
    expect(form).to_have_attribute("data-step", "1")
    assert_fits_the_screen(phone, PHONE["width"])
    phone.click(f"label[data-employee-id='{manager.pk}']")
    phone.select_option("#id_topic", "quarterly_review")
    phone.fill("#id_message", "想聊聊本季度的工作")
    phone.click("[data-testid=next]")

    expect(form).to_have_attribute("data-step", "2")
    best = phone.locator("[data-testid=slots] [data-rank='1']")
    expect(best).to_have_attribute("data-start", start.astimezone(UTC).isoformat())
    expect(best.locator(".slot-time")).to_have_text("08:00–08:45")
    expect(phone.locator("[data-testid=slots] [data-rank]")).to_have_count(5)
    assert_fits_the_screen(phone, PHONE["width"])
    # A preference ranks the slots again in place (htmx); the best one stays.
    phone.check("#id_before_ten")
    expect(best.locator(".slot-reasons span").first).to_have_attribute("data-code", "before")
    best.click()
    expect(best.locator("input")).to_be_checked()
    phone.click("[data-testid=next]")

    expect(form).to_have_attribute("data-step", "3")
    confirmed = phone.locator("[data-testid=confirm-time]")
    expect(confirmed).to_contain_text(f"{start:%Y-%m-%d}")
    expect(confirmed).to_contain_text("08:00–08:45")
    assert_fits_the_screen(phone, PHONE["width"])
    phone.click("[data-testid=send]")

    talk = phone.locator("[data-testid=talk]")
    expect(talk).to_have_attribute("data-state", "requested")
    assert_fits_the_screen(phone, PHONE["width"])
    return phone.url.removeprefix(base)


def accept_the_request(phone: Page, base: str, talk_path: str) -> None:
    """周敏 finds the request in her inbox and accepts the proposed time."""
    sign_in(phone, base, "headnurse.zhou")
    expect(phone.locator("[data-testid=talks-waiting]")).to_have_text("1")
    open_from_menu(phone, "[data-testid=nav-talks]")
    row = phone.locator(f"[data-testid=inbox] a[href='{talk_path}']")
    expect(row).to_contain_text("王芳")
    assert_fits_the_screen(phone, PHONE["width"])

    row.click()
    expect(phone).to_have_url(f"{base}{talk_path}")
    assert_fits_the_screen(phone, PHONE["width"])
    phone.click("[data-testid=accept]")

    expect(phone.locator("[data-testid=talk]")).to_have_attribute("data-state", "scheduled")
    assert_fits_the_screen(phone, PHONE["width"])


def test_browser_talk_requested_on_a_phone_and_accepted_in_english(
    live_server, hospital: Hospital, first_slot: datetime, open_phone: OpenPhone
):
    base = live_server.url
    english(hospital.nurse_wang, hospital.head_nurse)
    nurse = open_phone()

    talk_path = request_a_talk(nurse, base, hospital.head_nurse, first_slot)

    expect(nurse.locator("html")).to_have_attribute("lang", "en")
    expect(nurse.locator(".messages")).to_contain_text("Your request was sent to 周敏.")
    expect(nurse.locator("[data-testid=proposal]")).to_contain_text("proposed by 王芳")
    expect(nurse.locator("[data-testid=talk-state]")).to_have_text("requested")

    manager = open_phone()
    accept_the_request(manager, base, talk_path)

    expect(manager.locator(".messages")).to_contain_text(
        "You accepted the time: the talk is scheduled."
    )
    expect(manager.locator("[data-testid=talk-state]")).to_have_text("scheduled")
    expect(manager.locator("[data-testid=talk-time]")).to_contain_text(
        f"{first_slot:%Y-%m-%d} {WEEKDAYS[first_slot.weekday()]} 08:00–08:45"
    )
    expect(manager.locator("[data-testid=agenda] ol li").first).to_be_visible()
    expect(manager.locator("[data-testid=talks-waiting]")).to_have_count(0)

    nurse.reload()
    expect(nurse.locator("[data-testid=talk]")).to_have_attribute("data-state", "scheduled")
    expect(nurse.locator("[data-testid=talk-time]")).to_contain_text("08:00–08:45")


def test_browser_talk_requested_on_a_phone_and_accepted_in_chinese(
    live_server, hospital: Hospital, first_slot: datetime, open_phone: OpenPhone
):
    base = live_server.url
    nurse = open_phone()

    talk_path = request_a_talk(nurse, base, hospital.head_nurse, first_slot)

    expect(nurse.locator("html")).to_have_attribute("lang", "zh-Hans")
    manager = open_phone()
    accept_the_request(manager, base, talk_path)

    expect(manager.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(manager.locator("[data-testid=talk-time]")).to_contain_text(f"{first_slot:%Y-%m-%d}")
    expect(manager.locator("[data-testid=talk-time]")).to_contain_text("08:00–08:45")
    nurse.reload()
    expect(nurse.locator("[data-testid=talk]")).to_have_attribute("data-state", "scheduled")
