"""The live talk room in a real browser, served with WebSockets: head nurse 周敏 on her
desktop and nurse 王芳 on her phone have the record of their talk open. What one types appears
for the other; two edits of one section at once give the later one both texts to choose from,
nothing is lost; text typed while the network is down is kept and saved once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from miantan.records.models import Block
from tests.conftest import BROWSER_START
from tests.factories import PASSWORD
from tests.notifications.builders import booked_talk
from tests.personas import Hospital
from tests.records import builders
from tests.web.asgi_server import asgi_server  # noqa: F401  (fixture)
from tests.web.test_browser_directory import DESKTOP, PHONE

pytestmark = pytest.mark.browser
AGREEMENT = "[data-testid=section-agreement] [data-testid=field-agreements]"


@pytest.fixture
def two_sides(browser: Browser) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    desktop = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield desktop, phone
    desktop.close()
    phone.close()


def open_record(context: BrowserContext, base: str, username: str, talk_id: int) -> Page:
    page = context.new_page()
    path = f"/talks/{talk_id}/record/"
    page.goto(f"{base}/accounts/login/?next={path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{base}{path}")
    expect(page.locator("[data-live-status]")).to_have_attribute("data-state", "live")
    return page


def type_at_once(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(AGREEMENT).evaluate(
        "(field, text) => { field.focus(); field.value = text;"
        " field.dispatchEvent(new Event('input', {bubbles: true})); }",
        text,
    )


def test_both_sides_edit_the_record_live(asgi_server, hospital: Hospital, two_sides):  # noqa: F811
    base = asgi_server
    talk = booked_talk(hospital, start=BROWSER_START - timedelta(minutes=5))
    record = builders.services.start_record(talk, actor=hospital.head_nurse.user)
    desktop, phone = two_sides
    manager = open_record(desktop, base, "headnurse.zhou", record.talk_id)
    employee = open_record(phone, base, "nurse.wang", record.talk_id)

    # Each sees the other in the room.
    expect(manager.locator("[data-testid=live-people]")).to_contain_text("王芳")
    expect(employee.locator("[data-testid=live-people]")).to_contain_text("周敏")

    # What 周敏 types appears on 王芳's phone.
    manager.fill(AGREEMENT, "下季度带教两名新护士")
    expect(employee.locator(AGREEMENT)).to_have_value("下季度带教两名新护士")

    # Both change the agreement at once: the later save is refused with both texts shown.
    # Each text is set in one round trip to its page, so both are typed well within the
    # autosave delay of each other even on a loaded machine (two `fill` calls may be further
    # apart than that, and the second would then edit on top of the first, with no conflict).
    type_at_once(manager, "带教三名新护士")
    type_at_once(employee, "带教两名新护士，并负责夜班交接培训")
    refused = "[data-testid=section-agreement] [data-testid=conflict]"
    deadline = time.monotonic() + 10
    while not (employee.locator(refused).count() or manager.locator(refused).count()):
        assert time.monotonic() < deadline, "neither side was shown the other's text"
        employee.wait_for_timeout(100)
    stored = Block.objects.get(record=record, section="agreement").values["agreements"]
    assert stored in ("带教三名新护士", "带教两名新护士，并负责夜班交接培训")
    loser = employee if stored == "带教三名新护士" else manager
    typed = "带教两名新护士，并负责夜班交接培训" if loser is employee else "带教三名新护士"
    expect(loser.locator(AGREEMENT)).to_have_value(typed)  # not lost: still in the form
    expect(loser.locator("[data-testid=section-agreement] [data-testid=conflict]")).to_contain_text(
        stored
    )
    # The later writer keeps theirs, knowing the other text: it is saved on top of it.
    loser.click("[data-testid=section-agreement] [data-testid=keep-mine]")
    winner = manager if loser is employee else employee
    expect(winner.locator(AGREEMENT)).to_have_value(typed)

    # The network drops on the phone while 王芳 types; once it is back, her text is saved.
    phone.set_offline(True)
    expect(employee.locator("[data-live-status]")).not_to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    employee.fill("[data-testid=section-went_well] [data-testid=field-project]", "静脉输液质控")
    expect(
        employee.locator("[data-testid=section-went_well] [data-autosave-status]")
    ).to_contain_text("未保存")
    phone.set_offline(False)
    expect(employee.locator("[data-live-status]")).to_have_attribute(
        "data-state", "live", timeout=20_000
    )
    expect(manager.locator("[data-testid=values-went_well]")).to_contain_text("静脉输液质控")
    went_well = Block.objects.get(record=record, section="went_well")
    assert went_well.values["items"][0]["project"] == "静脉输液质控"
