"""The department profile's charts: heat map cells carry their numbers in a readable colour,
and the gap bars draw a surplus apart from a shortfall (also for "lower is better" KPIs)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, expect

from miantan.metrics.enums import Direction
from miantan.metrics.profiles import (
    COMPLETION_CAP,
    HEAT_SCALE,
    contrast,
    heat_colour,
    text_colour,
)
from miantan.people.models import Employee
from tests.factories import PASSWORD
from tests.metrics.kpi_builders import assign, kpi, months, values
from tests.personas import Hospital
from tests.web.test_browser_directory import PHONE

Signer = Callable[[Employee], Client]


@pytest.fixture
def team(hospital: Hospital, time_machine: Any) -> None:
    """心内科 and its nursing group, June 2026. Completions per person:

    | KPI (target)         | 李明 | 张伟 | 周敏 | 王芳 | average           |
    | 门诊量 (400)          | 75   | 85   | 90   | 100  | 87.5: 12.5 below   |
    | 患者满意度 (80)       | 75   | 125  | 110  | 100  | 102.5: 2.5 above   |
    | 次品率 (2, lower)     | 200+ | 50   | 100  | 125  | 118.8: 18.8 above  |
    """
    time_machine.move_to("2026-07-10 10:00 +08:00", tick=False)
    org = hospital.organisation
    period = months(org, 1)
    visits = kpi(org, "outpatient_visits", "门诊量", name_en="Outpatient visits", unit="人次")
    satisfaction = kpi(org, "patient_satisfaction", "患者满意度", name_en="Patient satisfaction")
    defects = kpi(org, "defect_rate", "次品率", name_en="Defect rate", direction=Direction.LOWER)
    for indicator, target in ((visits, 400), (satisfaction, 80), (defects, 2)):
        assign(indicator, target, department=hospital.cardiology)
    people = (hospital.doctor_li, hospital.head, hospital.head_nurse, hospital.nurse_wang)
    for person, numbers in zip(
        people, ((300, 60, 1), (340, 100, 4), (360, 88, 2), (400, 80, 1.6)), strict=True
    ):
        for indicator, number in zip((visits, satisfaction, defects), numbers, strict=True):
            values(person, indicator, period, [number])


def page_of(client: Client, hospital: Hospital) -> Any:
    url = reverse("web:department_profile", kwargs={"department_id": hospital.cardiology.pk})
    return client.get(url)


def charts_of(response: Any) -> dict[str, Any]:
    found = re.search(
        r'<script id="department-charts" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert found is not None
    return json.loads(found.group(1))


def test_heat_map_cells_carry_their_numbers(
    hospital: Hospital, team: None, client_as: Signer
) -> None:
    charts = charts_of(page_of(client_as(hospital.head), hospital))

    heatmap = charts["heatmap"]
    shown = {
        (heatmap["people"][cell["value"][1]], heatmap["kpis"][cell["value"][0]]): cell["text"]
        for cell in heatmap["cells"]
    }
    assert shown[("李明", "门诊量")] == "75"
    assert shown[("张伟", "患者满意度")] == "125"
    assert shown[("李明", "次品率")] == "200+"
    assert shown[("张伟", "次品率")] == "50"
    assert len(shown) == 12


def test_heat_map_numbers_contrast_with_their_cells(
    hospital: Hospital, team: None, client_as: Signer
) -> None:
    heatmap = charts_of(page_of(client_as(hospital.head), hospital))["heatmap"]

    assert heatmap["scale"]["colors"] == [colour for _value, colour in HEAT_SCALE]
    for cell in heatmap["cells"]:
        background = heat_colour(cell["value"][2])
        assert contrast(background, cell["label"]["color"]) >= 4.5, cell


def test_heat_map_numbers_are_also_a_table(
    hospital: Hospital, team: None, client_as: Signer
) -> None:
    page = page_of(client_as(hospital.hr_partner), hospital).content.decode()

    table = page[page.index('data-testid="heat-table"') :]
    table = table[: table.index("</table>")]
    li = table[table.index("李明") :]
    li = li[: li.index("</tr>")]
    assert re.findall(r"<td>([^<]*)</td>", li) == ["200.0 %", "75.0 %", "75.0 %"]


def test_gap_bars_draw_a_surplus_apart_from_a_shortfall(
    hospital: Hospital, team: None, client_as: Signer
) -> None:
    bars = charts_of(page_of(client_as(hospital.head), hospital))["bars"]

    assert bars["kpis"] == ["次品率", "门诊量", "患者满意度"]
    assert bars["below"] == [None, -12.5, None]
    assert bars["above"] == [18.8, None, 2.5]


def test_summary_says_below_or_above_the_target(
    hospital: Hospital, team: None, client_as: Signer
) -> None:
    client = client_as(hospital.head)
    client.post(reverse("accounts:language"), {"language": "en"})

    response = page_of(client, hospital)

    summary = {s.code: s for s in response.context["team"].kpis}
    assert (summary["outpatient_visits"].shortfall, summary["outpatient_visits"].surplus) == (
        12.5,
        0.0,
    )
    assert summary["outpatient_visits"].below_target == 3
    assert summary["defect_rate"].surplus == 18.8
    page = response.content.decode()
    assert '<span class="gap below">12.5 % below</span>' in page
    assert '<span class="gap above">18.8 % above</span>' in page


@pytest.mark.parametrize("completion", [x / 2 for x in range(0, int(COMPLETION_CAP) * 2 + 1)])
def test_every_heat_colour_has_readable_text(completion: float) -> None:
    background = heat_colour(completion)

    assert contrast(background, text_colour(background)) >= 4.5


def test_heat_colours_follow_the_scale() -> None:
    assert heat_colour(10) == heat_colour(50) == "#b3261e"
    assert heat_colour(90) == "#f4d06f"
    assert heat_colour(130) == heat_colour(COMPLETION_CAP) == "#1e7a3c"
    assert heat_colour(70) == "#d47b46"


# --- in a browser -------------------------------------------------------------------------------

CHART_OPTIONS = """(selector) => {
  const chart = echarts.getInstanceByDom(document.querySelector(selector));
  const option = chart.getOption();
  return option.series.map((s) => ({
    name: s.name,
    type: s.type,
    labelShown: Boolean(s.label && s.label.show),
    data: s.data,
  }));
}"""


@pytest.mark.browser
def test_browser_department_heat_map_shows_numbers_on_a_phone(
    live_server: Any, hospital: Hospital, team: None, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    url = reverse("web:department_profile", kwargs={"department_id": hospital.cardiology.pk})

    # Signed in on the way to the page itself.
    page.goto(f"{live_server.url}{reverse('accounts:login')}?next={url}")
    page.fill("#id_username", "head.zhang")
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}{url}")

    expect(page.locator("#heatmap-chart")).to_have_attribute("data-rendered", "true")
    [heat] = page.evaluate(CHART_OPTIONS, "#heatmap-chart")
    assert heat["type"] == "heatmap" and heat["labelShown"]
    assert {cell["text"] for cell in heat["data"]} >= {"75", "125", "200+", "50"}
    box = page.locator("#heatmap-chart").bounding_box()
    assert box is not None and box["width"] >= 3 * 44
    below, above = page.evaluate(CHART_OPTIONS, "#gap-chart")
    assert (below["name"], above["name"]) == ("低于目标", "高于目标")
    assert below["data"] == [None, -12.5, None] and above["data"] == [18.8, None, 2.5]
    context.close()
