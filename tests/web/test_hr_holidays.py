"""The holiday calendar page for HR: where each year comes from, days set by hand, a whole year
from a file, the confirmation of a year's adjusted working days, who may do what, and both
languages. The clock stands on Monday 7 December 2026."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from miantan.audit.models import AuditEvent
from miantan.people.models import Employee
from miantan.scheduling.enums import DayKind
from miantan.scheduling.models import HolidayOverride, HolidayYear
from tests.personas import Hospital, OtherOrganisation
from tests.scheduling.builders import at

Signer = Callable[[Employee], Client]
URL = "/hr/holidays/"
COMPANY_FILE = {
    "years": {
        "2027": {
            "holidays": {"2027-01-01": "元旦", "2027-02-05": "春节", "2027-02-08": "春节"},
            "working_days": ["2027-02-20"],
        }
    }
}


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(at(date(2026, 12, 7), 9), tick=False):
        yield


@pytest.fixture
def english(hospital: Hospital) -> Hospital:
    Employee.objects.filter(organisation=hospital.organisation).update(language="en")
    return hospital


def page(response: Any) -> str:
    return response.content.decode()


def upload(content: Any, name: str = "2027.json") -> SimpleUploadedFile:
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    return SimpleUploadedFile(name, data, content_type="application/json")


def test_holiday_page_shows_the_year_its_source_and_confirmation(
    english: Hospital, client_as: Signer
):
    response = client_as(english.hr_partner).get(URL)

    html = page(response)
    assert response.status_code == 200
    assert 'data-year="2026" data-source="package" data-confirmed="yes"' in html
    assert "the “holidays” package, version 0.1" in html
    assert "the State Council’s published schedule" in html
    assert 'data-day="2026-02-14" data-origin="package"' in html  # a Saturday worked for 春节
    # Next year is not settled yet: HR is told, with a link to it.
    assert 'data-testid="holiday-notice" data-code="not_confirmed" data-year="2027"' in html
    assert 'href="?year=2027"' in html


def test_holiday_page_of_2027_shows_the_packages_estimate_not_confirmed(
    english: Hospital, client_as: Signer
):
    html = page(client_as(english.hr_partner).get(URL, {"year": "2027"}))

    assert 'data-year="2027" data-source="package" data-confirmed="no"' in html
    assert "an estimate from the statutory holidays, moved off weekends" in html
    assert 'data-day="2027-02-08" data-origin="package"' in html
    assert "Chinese New Year (Spring Festival)" in html
    assert 'data-testid="no-working-days"' in html
    assert "Mark 2027 as confirmed" in html


def test_holiday_page_is_in_chinese_by_default(hospital: Hospital, client_as: Signer):
    html = page(client_as(hospital.hr_partner).get(URL, {"year": "2027"}))

    assert "节假日日历" in html and "春节" in html and "未确认" in html
    assert "Holiday calendar" not in html


def test_hr_sets_a_day_and_takes_it_back(english: Hospital, client_as: Signer):
    client = client_as(english.hr_partner)

    saved = client.post(
        "/hr/holidays/days/",
        {"date": "2027-03-08", "kind": DayKind.HOLIDAY, "name": "公司年会", "year": "2027"},
    )

    assert saved.status_code == 302 and saved["Location"] == "/hr/holidays/?year=2027"
    html = page(client.get(saved["Location"]))
    assert 'data-day="2027-03-08" data-origin="own"' in html and "公司年会" in html
    assert "by 孙丽" in html
    day = HolidayOverride.objects.get(organisation=english.organisation)

    removed = client.post(f"/hr/holidays/days/{day.pk}/remove/")

    assert removed.status_code == 302 and not HolidayOverride.objects.exists()
    assert AuditEvent.objects.filter(action__startswith="scheduling.holiday_day.").count() == 2


def test_a_weekday_that_is_worked_anyway_is_refused_with_its_reason(
    english: Hospital, client_as: Signer
):
    response = client_as(english.hr_partner).post(
        "/hr/holidays/days/",
        {"date": "2027-03-03", "kind": DayKind.WORKING_DAY, "name": "上班", "year": "2027"},
    )

    assert response.status_code == 400
    assert "2027-03-03 is a weekday that is worked anyway." in page(response)
    assert not HolidayOverride.objects.exists()


def test_hr_marks_a_year_confirmed_and_the_notice_goes(english: Hospital, client_as: Signer):
    client = client_as(english.hr_partner)

    response = client.post("/hr/holidays/confirm/", {"year": "2027", "confirmed": "1"})

    assert response.status_code == 302
    html = page(client.get(URL, {"year": "2027"}))
    assert 'data-confirmed="yes"' in html and "by 孙丽 on 2026-12-07" in html
    assert 'data-testid="holiday-notice"' not in html
    assert "Withdraw the confirmation" in html


def test_hr_loads_a_year_from_a_file(english: Hospital, client_as: Signer):
    client = client_as(english.hr_partner)

    response = client.post("/hr/holidays/upload/", {"file": upload(COMPANY_FILE)})

    assert response.status_code == 302 and response["Location"] == "/hr/holidays/?year=2027"
    html = page(client.get(response["Location"]))
    assert 'data-source="organisation_file" data-confirmed="yes"' in html
    assert "the file “2027.json”, loaded here by 孙丽 on 2026-12-07" in html
    assert 'data-day="2027-02-20" data-origin="organisation_file"' in html
    assert HolidayYear.objects.get(organisation=english.organisation, year=2027).from_file


def test_a_bad_file_names_every_bad_entry_and_loads_nothing(english: Hospital, client_as: Signer):
    bad = {"years": {"2027": {"holidays": {"2027-02-30": "x"}, "working_days": ["2027-03-03"]}}}

    response = client_as(english.hr_partner).post("/hr/holidays/upload/", {"file": upload(bad)})

    html = page(response)
    assert response.status_code == 400
    assert "“2027-02-30” is not a date (YYYY-MM-DD)." in html
    assert "2027-03-03 is a weekday; adjusted working days fall on weekends." in html
    assert not HolidayOverride.objects.exists() and not HolidayYear.objects.exists()


def test_a_file_that_is_not_json_is_refused(english: Hospital, client_as: Signer):
    response = client_as(english.hr_partner).post(
        "/hr/holidays/upload/", {"file": upload(b"\xff\xfe not json", "2027.xlsx")}
    )

    assert response.status_code == 400 and "The file is not JSON" in page(response)


# --- who may ---------------------------------------------------------------------------------


def test_department_hr_sees_the_calendar_but_cannot_change_it(english: Hospital, client_as: Signer):
    client = client_as(english.hr_cardiology)

    html = page(client.get(URL))
    saved = client.post(
        "/hr/holidays/days/", {"date": "2027-03-08", "kind": DayKind.HOLIDAY, "name": "x"}
    )
    confirmed = client.post("/hr/holidays/confirm/", {"year": "2027"})

    assert 'data-testid="holiday-read-only"' in html
    assert (
        'data-testid="holiday-day-form"' not in html and 'data-testid="holiday-confirm"' not in html
    )
    assert saved.status_code == 403 and confirmed.status_code == 403
    assert not HolidayOverride.objects.exists() and not HolidayYear.objects.exists()


@pytest.mark.parametrize("who", ["doctor_li", "head_nurse", "head", "executive"])
def test_people_without_an_hr_role_get_403(english: Hospital, client_as: Signer, who: str):
    client = client_as(getattr(english, who))

    assert client.get(URL).status_code == 403
    assert client.post("/hr/holidays/confirm/", {"year": "2027"}).status_code == 403


def test_an_administrator_may_change_the_calendar(english: Hospital, client_as: Signer):
    response = client_as(english.admin).post("/hr/holidays/confirm/", {"year": "2027"})

    assert response.status_code == 302
    assert HolidayYear.objects.get(year=2027).confirmed_by == english.admin


def test_another_organisations_day_is_out_of_reach(
    english: Hospital, other_org: OtherOrganisation, client_as: Signer
):
    foreign = HolidayOverride.objects.create(
        organisation=other_org.organisation, date=date(2027, 3, 8), kind=DayKind.HOLIDAY
    )

    response = client_as(english.hr_partner).post(f"/hr/holidays/days/{foreign.pk}/remove/")

    assert response.status_code == 404 and HolidayOverride.objects.filter(pk=foreign.pk).exists()


def test_anonymous_visitors_are_sent_to_sign_in(db: None):
    response = Client().get(URL)

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
