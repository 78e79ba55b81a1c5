"""The request page as people use it: slots in the new year without any holiday file, the days
to search, whom the picker lists first, reasons that fit the organisation, holiday notices for
HR only, and accepting a time that someone booked meanwhile. The clock stands on Monday
7 December 2026, 07:00 in Shanghai."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from miantan.interviews.models import Talk
from miantan.interviews.services import TalkRequest, accept_time, propose_time, request_talk
from miantan.people.models import Employee
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import ShiftCode
from tests.factories import EmployeeFactory, api_token_for
from tests.personas import Hospital
from tests.scheduling.builders import at, hospital_hours, shift_codes

MONDAY = date(2026, 12, 7)
Signer = Callable[[Employee], Client]


@pytest.fixture
def ward(hospital: Hospital) -> Iterator[Hospital]:
    """The hospital in English, with its default working hours, on Monday morning."""
    Employee.objects.filter(organisation=hospital.organisation).update(language="en")
    hospital_hours(hospital.organisation)
    with time_machine.travel(at(MONDAY, 7), tick=False):
        yield hospital


def step_one(other: Employee, **changes: Any) -> dict[str, Any]:
    return {
        "step": "1",
        "go": "next",
        "other": other.pk,
        "topic": "career",
        "duration_minutes": "45",
        "urgency": "normal",
        **changes,
    }


def step_two(other: Employee, **changes: Any) -> dict[str, Any]:
    return {**step_one(other), "step": "2", "go": "rerank", "slot": "none", **changes}


def page(response: Any) -> str:
    return response.content.decode()


def slot_days(html: str) -> list[str]:
    return re.findall(r'class="slot-day" id="day-[^"]+" data-day="([^"]+)"', html)


def people_listed(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-employee-id="(\d+)"', html)]


# --- slots in a year without a holiday file --------------------------------------------------


def test_talk_request_offers_2027_slots_without_a_holiday_file(ward: Hospital, client_as: Signer):
    with time_machine.travel(at(date(2026, 12, 28), 7), tick=False):
        html = page(
            client_as(ward.nurse_wang).post(
                "/talks/new/", step_two(ward.head_nurse, not_before="2026-12-31")
            )
        )

    days = slot_days(html)
    assert days[:3] == ["2026-12-31", "2027-01-04", "2027-01-05"]  # 元旦 on Friday 1 January
    assert 'data-testid="holidays-unknown"' not in html


# --- the days to search ----------------------------------------------------------------------


def test_talk_request_date_range_limits_the_slots(ward: Hospital, client_as: Signer):
    client = client_as(ward.nurse_wang)
    html = page(
        client.post(
            "/talks/new/",
            step_two(ward.head_nurse, not_before="2026-12-14", not_after="2026-12-16"),
        )
    )

    assert slot_days(html) == ["2026-12-14", "2026-12-15", "2026-12-16"]
    assert 'name="not_before" value="2026-12-14"' in html


def test_talk_request_date_range_goes_with_the_request(ward: Hospital, client_as: Signer):
    client = client_as(ward.nurse_wang)
    data = step_two(ward.head_nurse, not_before="2026-12-14", not_after="2026-12-18", go="next")

    confirm = page(client.post("/talks/new/", data))
    response = client.post("/talks/new/", {**data, "step": "3", "go": "send"})

    assert 'data-testid="confirm-days"' in confirm and "from 2026-12-14 to 2026-12-18" in confirm
    assert '<input type="hidden" name="not_after" value="2026-12-18">' in confirm
    assert response.status_code == 302
    talk = Talk.objects.get()
    assert (talk.not_before, talk.not_after) == (date(2026, 12, 14), date(2026, 12, 18))


def test_talk_request_date_range_refuses_an_end_before_the_start(ward: Hospital, client_as: Signer):
    data = step_two(ward.head_nurse, not_before="2026-12-16", not_after="2026-12-14", go="next")

    response = client_as(ward.nurse_wang).post("/talks/new/", data)

    assert response.status_code == 400
    assert "The last day is before the first day." in page(response)
    assert not Talk.objects.exists()


def test_talk_request_without_slots_names_the_days_searched(ward: Hospital, client_as: Signer):
    # 1 to 3 January 2027: 元旦 and a weekend.
    html = page(
        client_as(ward.nurse_wang).post(
            "/talks/new/",
            step_two(ward.head_nurse, not_before="2027-01-01", not_after="2027-01-03"),
        )
    )

    assert 'data-testid="no-slots"' in html
    assert "No common free time was found from 2027-01-01 to 2027-01-03." in html


# --- whom the picker lists --------------------------------------------------------------------


def test_person_picker_lists_a_managers_direct_reports_first(ward: Hospital, client_as: Signer):
    html = page(client_as(ward.head).get("/talks/new/"))

    listed = people_listed(html)
    reports = {ward.doctor_li.pk, ward.head_nurse.pk}
    assert set(listed[:2]) == reports
    assert ward.hr_partner.pk in listed[2:]  # the HR partner he can ask comes after them
    assert ward.nurse_wang.pk not in listed  # an indirect report is found by searching
    assert "reports to you" in html


def test_person_picker_search_puts_direct_reports_first(ward: Hospital, client_as: Signer):
    # 李华 reports to 周敏, so only indirectly to 张伟; by name she would come before 李明.
    li_hua = EmployeeFactory(
        department=ward.cardiology_nursing, name="李华", manager=ward.head_nurse
    )

    html = page(client_as(ward.head).get("/talks/new/?q=李"))

    listed = people_listed(html)
    assert listed.index(ward.doctor_li.pk) < listed.index(li_hua.pk)


def test_person_picker_of_an_employee_lists_their_manager_first(ward: Hospital, client_as: Signer):
    html = page(client_as(ward.nurse_wang).get("/talks/new/"))

    assert people_listed(html)[0] == ward.head_nurse.pk
    assert "reports to you" not in html


# --- reasons that fit the organisation ----------------------------------------------------------


def test_preferences_offer_no_shift_constraints_without_such_shifts(
    ward: Hospital, client_as: Signer
):
    html = page(client_as(ward.nurse_wang).post("/talks/new/", step_one(ward.head_nurse)))

    assert 'name="before_ten"' in html
    assert 'name="avoid_duty_days"' not in html and 'name="avoid_surgery_days"' not in html


def test_preferences_of_a_factory_offer_duty_days_but_no_surgery_days(
    ward: Hospital, client_as: Signer
):
    for code, start, end, kind in (
        ("早班", time(8), time(16), ShiftKind.DAY),
        ("夜班", time(0), time(8), ShiftKind.NIGHT),
    ):
        ShiftCode.objects.create(
            organisation=ward.organisation, code=code, start=start, end=end, kind=kind
        )

    html = page(
        client_as(ward.nurse_wang).post(
            "/talks/new/", step_two(ward.head_nurse, avoid_surgery_days="on")
        )
    )

    assert 'name="avoid_duty_days"' in html and 'name="avoid_surgery_days"' not in html
    # Sent anyway, the surgery preference is not applied and not given as a reason.
    assert 'data-code="no_surgery_day"' not in html


def test_preferences_of_a_hospital_offer_both(ward: Hospital, client_as: Signer):
    shift_codes(ward.organisation)

    html = page(client_as(ward.nurse_wang).post("/talks/new/", step_one(ward.head_nurse)))

    assert 'name="avoid_duty_days"' in html and 'name="avoid_surgery_days"' in html


def test_slot_reasons_never_say_zero_days(ward: Hospital, client_as: Signer):
    html = page(client_as(ward.nurse_wang).post("/talks/new/", step_one(ward.head_nurse)))

    assert "Earlier slots rank higher: the first possible day" in html
    assert "Earlier slots rank higher: 1 day after the first possible day" in html
    assert " 0 days" not in html


# --- holiday notices are for HR ---------------------------------------------------------------


@pytest.fixture
def end_of_known_time(ward: Hospital) -> Iterator[Hospital]:
    """20 December 2100: four weeks ahead reach into 2101, which no holiday source knows."""
    with time_machine.travel(at(date(2100, 12, 20), 7), tick=False):
        yield ward


def test_unknown_year_offers_weekdays_and_tells_hr(end_of_known_time: Hospital, client_as: Signer):
    ward = end_of_known_time
    html = page(client_as(ward.hr_partner).post("/talks/new/", step_two(ward.nurse_wang)))

    assert 'data-testid="holidays-unknown"' in html and "2101" in html
    assert 'href="/hr/holidays/?year=2101"' in html


def test_unknown_year_is_not_mentioned_to_employees(end_of_known_time: Hospital, client_as: Signer):
    ward = end_of_known_time
    html = page(
        client_as(ward.nurse_wang).post(
            "/talks/new/", step_two(ward.head_nurse, not_before="2101-01-03")
        )
    )

    assert slot_days(html)[0] == "2101-01-03"  # a Monday, offered as an ordinary weekday
    assert 'data-testid="holidays-unknown"' not in html
    assert "holiday" not in html.lower() and "/hr/holidays/" not in html


# --- accepting a time that was booked meanwhile ------------------------------------------------


def clashing_proposal(ward: Hospital) -> Talk:
    """周敏 has booked 王芳 for Tuesday 09:00; 张伟 proposed the same time to 周敏 before."""
    nine = at(MONDAY + timedelta(days=1), 9)
    other = request_talk(ward.head_nurse, requester=ward.head.user, details=TalkRequest("career"))
    propose_time(other, actor=ward.head.user, start=nine)
    booked = request_talk(
        ward.head_nurse,
        requester=ward.nurse_wang.user,
        details=TalkRequest("quarterly_review"),
        slot=(nine, nine + timedelta(minutes=45)),
    )
    accept_time(booked, actor=ward.head_nurse.user)
    return other


def test_accepting_a_time_booked_meanwhile_says_it_clashes_and_why(
    ward: Hospital, client_as: Signer
):
    talk = clashing_proposal(ward)

    response = client_as(ward.head_nurse).post(f"/talks/{talk.pk}/accept/")

    html = page(response)
    assert response.status_code == 409
    error = html.split('data-testid="error"')[1].split("</p>")[0]
    assert "This time is no longer free" in error and "周敏 has another talk" in error
    talk.refresh_from_db()
    assert talk.state == "negotiating" and talk.scheduled_start is None


def test_accepting_a_time_booked_meanwhile_answers_409_in_the_api(ward: Hospital):
    talk = clashing_proposal(ward)
    _token, secret = api_token_for(ward.head_nurse)

    response = Client(headers={"authorization": f"Bearer {secret}"}).post(
        f"/api/v1/talks/{talk.pk}/accept", content_type="application/json"
    )

    body = response.json()
    assert response.status_code == 409 and body["code"] == "time_taken"
    assert [c["reason"] for c in body["conflicts"]] == ["talk"]
    assert body["conflicts"][0]["name"] == "周敏"
    assert datetime.fromisoformat(body["conflicts"][0]["start"]) == at(
        MONDAY + timedelta(days=1), 9
    )
