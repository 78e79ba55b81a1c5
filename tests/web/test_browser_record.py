"""The record of a talk in a real browser: head nurse 周敏 starts the talk on her desktop,
nurse 王芳 fills her self-assessment on her phone, 周敏 comments, 王芳 revises, both
confirm, and the record is ready to sign. Then two tabs editing one section: the later save
is refused with the other text shown, and what was typed in it stays.

The clock runs from conftest.BROWSER_START (a Monday 07:30); the talk is booked for 07:40.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from miantan.interviews.enums import TalkState
from miantan.interviews.models import Talk
from miantan.records.enums import RecordState
from miantan.records.models import Block, Record
from tests.conftest import BROWSER_START
from tests.notifications.builders import booked_talk
from tests.personas import Hospital
from tests.web.test_browser_directory import DESKTOP, PHONE, assert_fits_the_screen, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def desktop_and_phone(browser: Browser) -> Iterator[tuple[Page, Page]]:
    desktop = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield desktop.new_page(), phone.new_page()
    desktop.close()
    phone.close()


def talk_soon(hospital: Hospital) -> Talk:
    return booked_talk(hospital, start=BROWSER_START + timedelta(minutes=10))


def record_url(base: str, talk: Talk) -> str:
    return f"{base}/talks/{talk.pk}/record/"


def save(page: Page, section: str) -> None:
    with page.expect_navigation():
        page.click(f"[data-testid=save-{section}]")
    expect(page.locator(".messages li").first).to_be_visible()


def test_a_talk_recorded_by_both_sides_on_desktop_and_phone(
    live_server, hospital: Hospital, desktop_and_phone: tuple[Page, Page]
):
    base = live_server.url
    talk = talk_soon(hospital)
    manager, employee = desktop_and_phone

    # 周敏 starts the talk from its page and lands on the record.
    sign_in(manager, base, "headnurse.zhou")
    manager.goto(f"{base}/talks/{talk.pk}/")
    manager.click("[data-testid=start]")
    expect(manager).to_have_url(record_url(base, talk))
    expect(manager.locator("[data-testid=record]")).to_have_attribute("data-state", "in_progress")

    # 王芳 opens it from the talk page on her phone and writes her self-assessment.
    sign_in(employee, base, "nurse.wang")
    employee.goto(f"{base}/talks/{talk.pk}/")
    employee.click("[data-testid=open-record-link]")
    expect(employee).to_have_url(record_url(base, talk))
    assert_fits_the_screen(employee, PHONE["width"])
    went_well = employee.locator("[data-testid=section-went_well]")
    went_well.locator("[data-testid=field-project]").fill("静脉输液质控")
    went_well.locator("[data-testid=field-completion]").fill("85")
    save(employee, "went_well")
    to_improve = employee.locator("[data-testid=section-to_improve]")
    to_improve.locator("[data-testid=field-event]").fill("一次给药延误")
    save(employee, "to_improve")
    employee.locator("input[name=f-goals-0-goal]").fill("夜班交接零差错")
    employee.locator("input[name=f-goals-0-due]").fill("2027-01-31")
    save(employee, "plan")
    employee.locator("[data-testid=block-overall-employee] input[name=f-rating][value='4']").check()
    save(employee, "overall")
    with employee.expect_navigation():
        employee.click("[data-testid=submit-overall]")
    assert_fits_the_screen(employee, PHONE["width"])

    # 周敏 comments on the self-assessment and writes her part.
    manager.reload()
    expect(manager.locator("[data-testid=values-went_well]")).to_contain_text("静脉输液质控")
    manager.fill("#comment-went_well", "完成率请按质控报告填写，应为 92%。")
    with manager.expect_navigation():
        manager.click("[data-testid=comment-went_well]")
    manager.locator("[data-testid=section-manager] [data-testid=field-assessment]").fill(
        "本季度护理质量稳定，交接规范。"
    )
    save(manager, "manager")
    manager.locator("[data-testid=section-agreement] [data-testid=field-agreements]").fill(
        "下季度带教两名新护士。"
    )
    save(manager, "agreement")
    manager.locator("[data-testid=block-overall-manager] input[name=f-rating][value='4']").check()
    save(manager, "overall")
    with manager.expect_navigation():
        manager.click("[data-testid=submit-overall]")

    # 王芳 reads the comment and revises.
    employee.reload()
    expect(employee.locator("[data-testid=comments-went_well]")).to_contain_text("92%")
    employee.locator("[data-testid=section-went_well] [data-testid=field-completion]").fill("92")
    save(employee, "went_well")
    expect(employee.locator("[data-testid=revisions-went_well]")).to_be_visible()

    # Both confirm; the record is ready to sign.
    with employee.expect_navigation():
        employee.click("[data-testid=confirm]")
    manager.reload()
    with manager.expect_navigation():
        manager.click("[data-testid=confirm]")
    record = manager.locator("[data-testid=record]")
    expect(record).to_have_attribute("data-state", "confirmed")
    expect(manager.locator("[data-testid=record-state]")).to_have_text("待签署")
    employee.reload()
    expect(employee.locator("[data-testid=record]")).to_have_attribute("data-state", "confirmed")
    expect(employee.locator("[data-testid=confirm]")).to_have_count(0)
    assert_fits_the_screen(employee, PHONE["width"])

    stored = Record.objects.get(talk=talk)
    assert stored.state == RecordState.CONFIRMED
    assert Talk.objects.get(pk=talk.pk).state == TalkState.AWAITING_SIGNATURES
    went = Block.objects.get(record=stored, section="went_well")
    assert went.values["items"][0]["completion"] == 92


def test_two_tabs_editing_one_section_lose_nothing(live_server, hospital: Hospital, browser):
    base = live_server.url
    talk = talk_soon(hospital)
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    first, second = context.new_page(), context.new_page()
    sign_in(first, base, "headnurse.zhou")
    first.goto(f"{base}/talks/{talk.pk}/")
    first.click("[data-testid=start]")
    expect(first).to_have_url(record_url(base, talk))
    second.goto(record_url(base, talk))
    # This server has no WebSockets: once the page has found that out, typing saves nothing by
    # itself, and the Save button below is the stale save being tested (not an autosave).
    expect(second.locator("[data-live-status]")).not_to_have_attribute("data-state", "connecting")

    # Tab two has unsaved text when tab one saves: whether its next poll brings tab one's text
    # first or its own save is refused, it shows both texts and keeps its own.
    text = second.locator("[data-testid=section-agreement] [data-testid=field-agreements]")
    text.fill("Tab two")
    first.locator("[data-testid=section-agreement] [data-testid=field-agreements]").fill("Tab one")
    save(first, "agreement")

    second.click("[data-testid=save-agreement]")
    conflict = second.locator("[data-testid=section-agreement] [data-testid=conflict]").first
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Tab one")
    expect(
        second.locator("[data-testid=section-agreement] [data-testid=field-agreements]")
    ).to_have_value("Tab two")
    block = Block.objects.get(record__talk=talk, section="agreement")
    assert block.values == {"agreements": "Tab one"}
    context.close()
