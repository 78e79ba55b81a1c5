"""HR keeps the holiday calendar: days set by hand, a whole year from a file, the confirmation
of a year's adjusted working days, and the notices HR gets while a year is not settled."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.scheduling.enums import DayKind
from miantan.scheduling.holidays import calendars_for_organisations
from miantan.scheduling.models import HolidayOverride, HolidayYear
from miantan.scheduling.queries import (
    HolidayNotice,
    Source,
    access_holiday_day,
    holiday_notices,
    holiday_year,
    year_states,
)
from miantan.scheduling.services import (
    InvalidHoliday,
    confirm_holiday_year,
    load_holidays,
    remove_holiday_day,
    save_holiday_day,
)
from tests.personas import Hospital, OtherOrganisation
from tests.scheduling.builders import at

TODAY = date(2026, 12, 7)
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
    with time_machine.travel(at(TODAY, 9), tick=False):
        yield


def calendar_of(hospital: Hospital):  # type: ignore[no-untyped-def]
    key = hospital.organisation.pk
    return calendars_for_organisations([key])[key]


def test_hr_sets_a_company_day_off_that_wins_over_the_package(hospital: Hospital) -> None:
    day = save_holiday_day(
        hospital.organisation,
        day=date(2027, 3, 8),
        kind=DayKind.HOLIDAY,
        name="公司年会",
        actor=hospital.hr_partner.user,
    )

    assert day.created_by == hospital.hr_partner and not day.from_file
    assert not calendar_of(hospital).is_working_day(date(2027, 3, 8))
    event = AuditEvent.objects.get(action="scheduling.holiday_day.saved")
    assert event.data["date"] == "2027-03-08" and event.data["replaced"] is None


def test_setting_a_day_again_replaces_it(hospital: Hospital) -> None:
    for kind, name in ((DayKind.HOLIDAY, "公司年会"), (DayKind.WORKING_DAY, "调休上班")):
        save_holiday_day(
            hospital.organisation,
            day=date(2027, 3, 6),
            kind=kind,
            name=name,
            actor=hospital.admin.user,
        )

    [row] = HolidayOverride.objects.filter(organisation=hospital.organisation)
    assert (row.kind, row.name) == (DayKind.WORKING_DAY, "调休上班")
    assert calendar_of(hospital).is_working_day(date(2027, 3, 6))  # a Saturday worked


def test_a_holiday_of_the_estimate_can_be_worked_after_all(hospital: Hospital) -> None:
    # The package moves 春节 2027 off the weekend to Tuesday 9 and Wednesday 10 February.
    assert not calendar_of(hospital).is_working_day(date(2027, 2, 10))

    save_holiday_day(
        hospital.organisation,
        day=date(2027, 2, 10),
        kind=DayKind.WORKING_DAY,
        name="上班",
        actor=hospital.hr_partner.user,
    )

    assert calendar_of(hospital).is_working_day(date(2027, 2, 10))


def test_an_ordinary_weekday_is_no_adjusted_working_day(hospital: Hospital) -> None:
    with pytest.raises(InvalidHoliday) as raised:
        save_holiday_day(
            hospital.organisation,
            day=date(2027, 3, 3),
            kind=DayKind.WORKING_DAY,
            name="上班",
            actor=hospital.hr_partner.user,
        )
    assert set(raised.value.errors) == {"date"}
    assert not HolidayOverride.objects.exists()


def test_a_day_needs_a_name_and_a_kind(hospital: Hospital) -> None:
    with pytest.raises(InvalidHoliday) as raised:
        save_holiday_day(
            hospital.organisation,
            day=date(2027, 3, 3),
            kind="maybe",
            name="  ",
            actor=hospital.hr_partner.user,
        )
    assert set(raised.value.errors) == {"kind", "name"}


@pytest.mark.parametrize("who", ["hr_cardiology", "head", "doctor_li", "executive"])
def test_only_hr_for_the_whole_organisation_and_admins_change_the_calendar(
    hospital: Hospital, who: str
) -> None:
    actor = getattr(hospital, who).user
    with pytest.raises(PermissionDenied):
        save_holiday_day(
            hospital.organisation,
            day=date(2027, 3, 8),
            kind=DayKind.HOLIDAY,
            name="公司年会",
            actor=actor,
        )
    with pytest.raises(PermissionDenied):
        confirm_holiday_year(hospital.organisation, 2027, actor=actor)
    with pytest.raises(PermissionDenied):
        load_holidays(COMPANY_FILE, actor=actor, organisation=hospital.organisation)

    assert not HolidayOverride.objects.exists() and not HolidayYear.objects.exists()
    denied = AuditEvent.objects.filter(outcome="denied").values_list("action", flat=True)
    assert set(denied) == {
        "scheduling.holiday_day.saved",
        "scheduling.holidays.confirmed",
        "scheduling.holidays.loaded",
    }


def test_another_organisations_hr_cannot_change_the_calendar(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    with pytest.raises(PermissionDenied):
        save_holiday_day(
            hospital.organisation,
            day=date(2027, 3, 8),
            kind=DayKind.HOLIDAY,
            name="x",
            actor=other_org.employee.user,
        )
    day = save_holiday_day(
        hospital.organisation,
        day=date(2027, 3, 8),
        kind=DayKind.HOLIDAY,
        name="公司年会",
        actor=hospital.hr_partner.user,
    )
    with pytest.raises(Http404):
        access_holiday_day(other_org.employee.user, day.pk)


def test_taking_a_day_back_lets_the_package_decide_again(hospital: Hospital) -> None:
    day = save_holiday_day(
        hospital.organisation,
        day=date(2027, 2, 8),
        kind=DayKind.WORKING_DAY,
        name="上班",
        actor=hospital.hr_partner.user,
    )

    remove_holiday_day(
        access_holiday_day(hospital.hr_partner.user, day.pk), actor=hospital.admin.user
    )

    assert not calendar_of(hospital).is_working_day(date(2027, 2, 8))
    event = AuditEvent.objects.get(action="scheduling.holiday_day.removed")
    assert event.data == {"date": "2027-02-08", "kind": "working_day", "name": "上班"}


def test_a_company_file_replaces_the_year_for_that_organisation_only(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    save_holiday_day(
        hospital.organisation,
        day=date(2027, 3, 8),
        kind=DayKind.HOLIDAY,
        name="公司年会",
        actor=hospital.hr_partner.user,
    )

    counts = load_holidays(
        COMPANY_FILE,
        actor=hospital.hr_partner.user,
        source="2027.json",
        organisation=hospital.organisation,
    )

    assert counts == {2027: 4}
    calendar = calendar_of(hospital)
    assert calendar.is_working_day(date(2027, 3, 8))  # the day set by hand went with the year
    assert calendar.is_working_day(date(2027, 2, 20))  # the file's adjusted Saturday
    assert calendar.is_working_day(date(2027, 2, 10))  # the package's estimate is not read
    other = calendars_for_organisations([other_org.organisation.pk])[other_org.organisation.pk]
    assert not other.is_working_day(date(2027, 2, 10))
    state = year_states(hospital.organisation.pk, [2027])[2027]
    assert state.source == Source.ORGANISATION_FILE and state.confirmed_by == "file"
    assert state.own is not None and state.own.loaded_by == hospital.hr_partner


def test_the_years_source_and_confirmation(hospital: Hospital) -> None:
    states = year_states(hospital.organisation.pk, [2026, 2027, 2101])

    assert (states[2026].source, states[2026].confirmed_by) == (Source.PACKAGE, "package")
    assert (states[2027].source, states[2027].confirmed) == (Source.PACKAGE, False)
    assert (states[2101].source, states[2101].known) == (Source.NONE, False)


def test_hr_confirms_a_year_and_may_withdraw_it(hospital: Hospital) -> None:
    confirm_holiday_year(hospital.organisation, 2027, actor=hospital.hr_partner.user)

    state = year_states(hospital.organisation.pk, [2027])[2027]
    assert state.confirmed_by == "hr" and state.own is not None
    assert state.own.confirmed_by == hospital.hr_partner
    assert state.own.confirmed_at == at(TODAY, 9)

    confirm_holiday_year(hospital.organisation, 2027, actor=hospital.admin.user, confirmed=False)
    assert not year_states(hospital.organisation.pk, [2027])[2027].confirmed
    actions = AuditEvent.objects.filter(action__startswith="scheduling.holidays.").order_by("pk")
    assert list(actions.values_list("action", flat=True)) == [
        "scheduling.holidays.confirmed",
        "scheduling.holidays.unconfirmed",
    ]


def test_hr_is_told_from_october_when_next_years_adjusted_days_are_not_confirmed(
    hospital: Hospital,
) -> None:
    assert holiday_notices(hospital.organisation, date(2026, 9, 30)) == []
    assert holiday_notices(hospital.organisation, TODAY) == [HolidayNotice("not_confirmed", 2027)]

    confirm_holiday_year(hospital.organisation, 2027, actor=hospital.hr_partner.user)

    assert holiday_notices(hospital.organisation, TODAY) == []


def test_hr_is_told_when_a_year_has_no_data_at_all(hospital: Hospital) -> None:
    notices = holiday_notices(hospital.organisation.pk, date(2100, 10, 5))

    assert [(n.code, n.year) for n in notices] == [("not_confirmed", 2100), ("no_data", 2101)]
    assert "尚无 2101 年的法定节假日数据" in notices[1].message  # Chinese by default
    with translation.override("en"):
        assert "ordinary weekdays (Monday to Friday)" in str(notices[1])


def test_the_year_view_names_each_day_and_its_source(hospital: Hospital) -> None:
    save_holiday_day(
        hospital.organisation,
        day=date(2027, 3, 8),
        kind=DayKind.HOLIDAY,
        name="公司年会",
        actor=hospital.hr_partner.user,
    )

    view = holiday_year(hospital.hr_cardiology.user, 2027, language="en")

    by_day = {d.day: d for d in view.days_off}
    assert by_day[date(2027, 2, 8)].name == "Chinese New Year (Spring Festival)"
    assert by_day[date(2027, 2, 8)].origin == Source.PACKAGE
    assert by_day[date(2027, 3, 8)].origin == "own" and by_day[date(2027, 3, 8)].entry
    assert view.working_days == [] and view.package_version.startswith("0.")
    with pytest.raises(Http404):
        holiday_year(hospital.doctor_li.user, 2027, language="en")
