"""The performance profile in a real browser: a doctor's radar on a phone, in both languages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.metrics.kpi_builders import assign, kpi, months, values
from tests.personas import Hospital
from tests.web.test_browser_directory import PHONE, assert_fits_the_screen, sign_in

pytestmark = pytest.mark.browser

# Counts the pixels a chart has painted on its canvas (transparent ones are left untouched).
PAINTED_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  return painted;
}"""


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def li_profile(hospital: Hospital) -> str:
    org = hospital.organisation
    position = hospital.doctor_li.position
    periods = months(org, 6, last=timezone.localdate())
    for code, name, name_en, target, series in (
        (
            "patient_satisfaction",
            "患者满意度",
            "Patient satisfaction",
            85,
            [72, 70, 67, 65, 62, 60],
        ),
        ("outpatient_visits", "门诊量", "Outpatient visits", 400, [380, 410, 395, 420, 430, 415]),
        ("record_quality", "病历书写质量", "Medical record quality", 90, [91, 92, 90, 93, 94, 92]),
    ):
        indicator = kpi(org, code, name, name_en=name_en)
        assign(indicator, target, position=position)
        values(hospital.doctor_li, indicator, periods, series)
    return f"/people/{hospital.doctor_li.pk}/profile/"


def assert_radar_painted(page: Page) -> None:
    radar = page.locator("#radar-chart")
    expect(radar).to_have_attribute("data-rendered", "true")
    expect(radar.locator("canvas")).to_have_count(1)
    box = radar.locator("canvas").bounding_box()
    assert box is not None and 300 <= box["width"] <= PHONE["width"]
    assert page.evaluate(PAINTED_PIXELS, "#radar-chart") > 2000


def test_browser_profile_radar_on_a_phone_in_chinese_and_english(
    live_server, hospital: Hospital, li_profile: str, phone: Page
):
    base = live_server.url
    sign_in(phone, base, "doctor.li")

    phone.goto(f"{base}{li_profile}")
    expect(phone.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(phone.locator("h1")).to_contain_text("李明")
    expect(phone.locator("[data-testid=kpi-table]")).to_contain_text("患者满意度")
    expect(phone.locator("[data-testid=flags]").first).to_be_visible()
    assert_radar_painted(phone)
    assert_fits_the_screen(phone, PHONE["width"])

    phone.click("form.lang button[value=en]")
    expect(phone).to_have_url(f"{base}{li_profile}")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("h1")).to_contain_text("Performance profile")
    expect(phone.locator("[data-testid=kpi-table]")).to_contain_text("Patient satisfaction")
    expect(phone.locator("[data-testid=flags]").first).to_contain_text(
        "Completion below 80 % of the target"
    )
    assert_radar_painted(phone)
    assert phone.locator(".chart-trend canvas").count() == 3
    assert_fits_the_screen(phone, PHONE["width"])
