"""The organisation's switch for emotion cues, a section of HR's record templates page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from miantan.audit.models import AuditEvent
from miantan.people.models import Employee, Organisation
from tests.personas import Hospital
from tests.web.test_browser_directory import PHONE, assert_fits_the_screen, sign_in

Signer = Callable[[Employee], Client]
SWITCH = "web:talk_cues"
PAGE = "web:record_templates"


def cues_on(hospital: Hospital) -> bool:
    return Organisation.objects.get(pk=hospital.organisation.pk).talk_cues_enabled


def test_hr_for_the_whole_organisation_switches_cues_off_and_on(
    hospital: Hospital, client_as: Signer
) -> None:
    client = client_as(hospital.hr_partner)
    page = client.get(reverse(PAGE)).content.decode()
    assert 'data-testid="talk-cues-form"' in page and "关闭情绪提示" in page

    response = client.post(reverse(SWITCH), {"enabled": "0"})

    assert response.status_code == 302 and response["Location"] == reverse(PAGE)
    assert not cues_on(hospital)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "情绪提示已关闭：面谈中任何人都看不到。"
    ]
    page = client.get(reverse(PAGE)).content.decode()
    assert "已关闭" in page and "开启情绪提示" in page

    client.post(reverse(SWITCH), {"enabled": "1"})
    assert cues_on(hospital)
    events = AuditEvent.objects.filter(action="records.cues.switched").order_by("pk")
    assert [(e.actor_id, e.data) for e in events] == [
        (hospital.hr_partner.user_id, {"enabled": False}),
        (hospital.hr_partner.user_id, {"enabled": True}),
    ]


def test_a_department_hr_partner_sees_the_state_but_no_switch(
    hospital: Hospital, client_as: Signer
) -> None:
    client = client_as(hospital.hr_cardiology)

    page = client.get(reverse(PAGE)).content.decode()
    refused = client.post(reverse(SWITCH), {"enabled": "0"})

    assert 'data-testid="talk-cues-state"' in page
    assert 'data-testid="talk-cues-form"' not in page
    assert refused.status_code == 403
    assert cues_on(hospital)
    [event] = AuditEvent.objects.filter(action="records.cues.switched")
    assert event.outcome == "denied"


def test_an_employee_cannot_switch_cues(hospital: Hospital, client_as: Signer) -> None:
    assert client_as(hospital.doctor_li).post(reverse(SWITCH), {"enabled": "0"}).status_code == 403
    assert cues_on(hospital)


def test_a_switch_without_a_choice_changes_nothing(hospital: Hospital, client_as: Signer) -> None:
    response = client_as(hospital.admin).post(reverse(SWITCH), {"enabled": "maybe"})

    assert response.status_code == 302
    assert cues_on(hospital)
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["请选择开启还是关闭情绪提示。"]
    assert not AuditEvent.objects.filter(action="records.cues.switched").exists()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_browser_hr_switches_cues_off_on_a_phone(
    live_server: Any, hospital: Hospital, phone: Page
) -> None:
    sign_in(phone, live_server.url, hospital.hr_partner.user.username)
    phone.goto(f"{live_server.url}{reverse(PAGE)}")
    section = phone.locator("[data-testid=talk-cues]")
    expect(section).to_be_visible()
    assert_fits_the_screen(phone, PHONE["width"])

    section.get_by_role("button", name="关闭情绪提示").click()

    expect(phone.locator("[data-testid=talk-cues-state]")).to_contain_text("已关闭")
    expect(section.get_by_role("button", name="开启情绪提示")).to_be_visible()
    assert not cues_on(hospital)
    assert_fits_the_screen(phone, PHONE["width"])
