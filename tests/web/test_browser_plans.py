"""On a 390 px phone: the nurse opens her published improvement plan from "My plans",
acknowledges it with her password and records a check-in; every plans page fits the screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from miantan.plans import services
from miantan.plans.models import PlanAcknowledgement
from tests.factories import PASSWORD
from tests.personas import Hospital
from tests.plans.builders import plan_of_wang
from tests.web.test_browser_directory import assert_fits_the_screen
from tests.web.test_browser_homes import PHONE, open_browser, sign_in_at_start

pytestmark = pytest.mark.browser


def test_browser_a_nurse_acknowledges_her_plan_on_a_phone(
    live_server: Any, hospital: Hospital, browser: Browser
) -> None:
    plan = plan_of_wang(hospital, published=True)
    services.create_action(
        hospital.head_nurse.user,
        employee=hospital.nurse_wang,
        owner=hospital.nurse_wang,
        title="完成静脉输液培训",
        due_on="2026-10-01",
        specific="参加护理部的静脉输液专项培训，考核 90 分以上",
    )
    page = open_browser(browser, PHONE, "zh-CN")
    base = live_server.url
    sign_in_at_start(page, base, hospital.nurse_wang.user.username)
    page.goto(f"{base}/plans/")
    expect(page.locator("[data-testid=overdue]")).to_have_count(1)
    assert_fits_the_screen(page, PHONE["width"])
    page.click(f"a[href='/plans/{plan.pk}/']")
    assert_fits_the_screen(page, PHONE["width"])
    page.fill("#ack-password", PASSWORD)
    page.click("[data-testid=acknowledge]")
    expect(page.locator("[data-testid=plan]")).to_have_attribute("data-state", "acknowledged")
    assert PlanAcknowledgement.objects.filter(plan=plan, version=1).exists()
    target = plan.targets.get()
    page.fill(f"#v-{target.pk}", "3")
    page.fill("#ci-notes", "交接单已改为双人核对")
    page.click("[data-testid=save-check-in]")
    expect(page.locator("[data-testid=progress-report] li")).to_have_count(1)
    assert_fits_the_screen(page, PHONE["width"])
    page.goto(f"{base}/plans/actions/new/")
    assert_fits_the_screen(page, PHONE["width"])
    page.context.close()
