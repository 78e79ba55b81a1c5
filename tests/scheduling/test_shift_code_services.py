"""Shift codes and the default working hours: who may change them, what is refused, what a
change means for rosters and availability."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time

import pytest
from django.core.exceptions import PermissionDenied

from miantan.audit.models import AuditEvent
from miantan.core.errors import ConflictError
from miantan.scheduling.availability import load_availability
from miantan.scheduling.enums import ShiftKind
from miantan.scheduling.models import RosterEntry, ShiftCode, WorkingHours
from miantan.scheduling.rosters import RosterOutcome, import_roster_file
from miantan.scheduling.work_patterns import (
    WorkPatternError,
    create_shift_code,
    default_hours_of,
    reinstate_shift_code,
    retire_shift_code,
    set_default_working_hours,
    update_shift_code,
)
from tests.personas import Hospital, OtherOrganisation

NIGHT = {"code": "夜班", "name_en": "Night", "start": time(20), "end": time(8)}


def night(hospital: Hospital, **changes: object) -> ShiftCode:
    fields = {**NIGHT, "kind": ShiftKind.NIGHT, **changes}
    return create_shift_code(hospital.organisation, actor=hospital.hr_partner.user, **fields)


def roster(hospital: Hospital, text: str) -> RosterOutcome:
    stream = io.BytesIO(text.encode("utf-8"))
    return import_roster_file(hospital.organisation, stream, name="排班.csv", actor=None)


# --- creating --------------------------------------------------------------------------------


def test_shift_code_created_by_hr_crosses_midnight_and_is_a_duty(hospital: Hospital) -> None:
    shift = night(hospital, name="夜间班")

    assert (shift.code, shift.name, shift.name_en) == ("夜班", "夜间班", "Night")
    assert shift.crosses_midnight and shift.is_duty
    event = AuditEvent.objects.get(action="scheduling.shift_code.created")
    assert event.actor_id == hospital.hr_partner.user.pk
    assert event.data["start"] == "20:00" and event.data["end"] == "08:00"


def test_shift_code_created_by_an_administrator(hospital: Hospital) -> None:
    shift = create_shift_code(
        hospital.organisation,
        code="白班",
        start=time(8),
        end=time(17),
        kind=ShiftKind.DAY,
        actor=hospital.admin.user,
    )

    assert not shift.crosses_midnight and not shift.is_duty


def test_shift_code_folds_full_width_text_and_drops_seconds(hospital: Hospital) -> None:
    shift = night(hospital, code=" Ｎ班 ", start=time(20, 0, 30))

    assert shift.code == "N班"
    assert shift.start == time(20)


@pytest.mark.parametrize("persona", ["hr_cardiology", "head", "doctor_li", "executive"])
def test_shift_code_creation_is_refused_without_organisation_wide_reach(
    hospital: Hospital, persona: str
) -> None:
    with pytest.raises(PermissionDenied):
        create_shift_code(
            hospital.organisation,
            actor=getattr(hospital, persona).user,
            kind=ShiftKind.NIGHT,
            **NIGHT,
        )

    assert not ShiftCode.objects.exists()
    assert AuditEvent.objects.filter(
        action="scheduling.shift_code.created", outcome="denied"
    ).exists()


def test_shift_code_creation_in_another_organisation_is_refused(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    with pytest.raises(PermissionDenied):
        create_shift_code(
            other_org.organisation, actor=hospital.hr_partner.user, kind=ShiftKind.NIGHT, **NIGHT
        )

    assert not ShiftCode.objects.exists()


def test_shift_code_with_a_taken_code_is_refused(hospital: Hospital) -> None:
    night(hospital)

    with pytest.raises(WorkPatternError) as refused:
        night(hospital, name_en="")

    assert "夜班" in str(refused.value.errors["code"])
    assert ShiftCode.objects.count() == 1


def test_shift_code_whose_name_is_another_code_is_refused(hospital: Hospital) -> None:
    night(hospital)

    with pytest.raises(WorkPatternError) as refused:
        night(hospital, code="N", name="夜班", name_en="")

    assert set(refused.value.errors) == {"name"}


def test_shift_code_english_name_is_compared_like_a_roster_header(hospital: Hospital) -> None:
    night(hospital)

    with pytest.raises(WorkPatternError) as refused:
        night(hospital, code="N", name_en=" NIGHT ")

    assert set(refused.value.errors) == {"name_en"}


def test_shift_code_said_to_end_the_same_day_but_ending_next_day_is_refused(
    hospital: Hospital,
) -> None:
    with pytest.raises(WorkPatternError) as refused:
        night(hospital, overnight=False)

    assert "20:00–08:00" in str(refused.value.errors["overnight"])
    assert not ShiftCode.objects.exists()


def test_shift_code_said_to_end_the_next_day_but_ending_same_day_is_refused(
    hospital: Hospital,
) -> None:
    with pytest.raises(WorkPatternError) as refused:
        night(hospital, start=time(8), end=time(20), overnight=True)

    assert set(refused.value.errors) == {"overnight"}


def test_shift_code_of_24_hours_is_overnight(hospital: Hospital) -> None:
    shift = night(hospital, code="值班", name_en="", start=time(8), end=time(8), overnight=True)

    assert shift.length().total_seconds() == 24 * 3600


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "x" * 21}, "code"),
        ({"name_en": "x" * 101}, "name_en"),
        ({"kind": "party"}, "kind"),
    ],
)
def test_shift_code_with_bad_fields_is_refused(
    hospital: Hospital, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(WorkPatternError) as refused:
        night(hospital, **changes)

    assert field in refused.value.errors
    assert not AuditEvent.objects.filter(action="scheduling.shift_code.created").exists()


# --- changing --------------------------------------------------------------------------------


def test_shift_code_update_records_what_changed(hospital: Hospital) -> None:
    shift = night(hospital)

    update_shift_code(
        shift,
        code="夜班",
        name_en="Night",
        start=time(21),
        end=time(8),
        kind=ShiftKind.NIGHT,
        actor=hospital.admin.user,
    )

    shift.refresh_from_db()
    assert shift.start == time(21)
    event = AuditEvent.objects.get(action="scheduling.shift_code.updated")
    assert event.data == {"changes": {"start": ["20:00", "21:00"]}}


def test_shift_code_update_without_a_change_writes_nothing(hospital: Hospital) -> None:
    shift = night(hospital)

    update_shift_code(shift, kind=ShiftKind.NIGHT, actor=hospital.hr_partner.user, **NIGHT)

    assert not AuditEvent.objects.filter(action="scheduling.shift_code.updated").exists()


def test_shift_code_update_may_keep_its_own_names(hospital: Hospital) -> None:
    shift = night(hospital, name="Night")

    update_shift_code(
        shift, name="Night", kind=ShiftKind.ON_CALL, actor=hospital.hr_partner.user, **NIGHT
    )

    assert ShiftCode.objects.get().kind == ShiftKind.ON_CALL


def test_shift_code_update_is_refused_to_department_hr(hospital: Hospital) -> None:
    shift = night(hospital)

    with pytest.raises(PermissionDenied):
        update_shift_code(
            shift,
            kind=ShiftKind.DAY,
            actor=hospital.hr_cardiology.user,
            **{**NIGHT, "end": time(23)},
        )

    assert ShiftCode.objects.get().end == time(8)


def test_shift_code_change_of_times_applies_to_rosters_already_imported(
    hospital: Hospital,
) -> None:
    shift = night(hospital)
    roster(hospital, "工号,日期,班次\nH0011,2026-12-01,夜班\n")
    window = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))

    update_shift_code(
        shift, kind=ShiftKind.NIGHT, actor=hospital.hr_partner.user, **{**NIGHT, "start": time(22)}
    )

    busy = load_availability([hospital.doctor_li], *window)[hospital.doctor_li.pk].shifts
    assert [f"{s.start:%H:%M}" for s in busy] == ["14:00"]  # 22:00 in Shanghai


# --- retiring --------------------------------------------------------------------------------


def test_retired_shift_code_is_refused_by_a_new_roster(hospital: Hospital) -> None:
    retire_shift_code(night(hospital), actor=hospital.hr_partner.user)

    outcome = roster(hospital, "工号,日期,班次\nH0011,2026-12-01,夜班\n")

    assert not outcome.applied
    assert "夜班" in outcome.errors[0].message
    assert not RosterEntry.objects.exists()


def test_retired_shift_code_still_counts_on_rosters_that_have_it(hospital: Hospital) -> None:
    shift = night(hospital)
    roster(hospital, "工号,日期,班次\nH0011,2026-12-01,夜班\n")

    retire_shift_code(shift, actor=hospital.admin.user)

    window = (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    availability = load_availability([hospital.doctor_li], *window)[hospital.doctor_li.pk]
    assert [s.code for s in availability.shifts] == ["夜班"]
    assert AuditEvent.objects.filter(action="scheduling.shift_code.retired").count() == 1


def test_shift_code_reinstated_is_accepted_by_rosters_again(hospital: Hospital) -> None:
    shift = night(hospital)
    retire_shift_code(shift, actor=hospital.hr_partner.user)

    reinstate_shift_code(shift, actor=hospital.hr_partner.user)

    assert roster(hospital, "工号,日期,班次\nH0011,2026-12-01,Night\n").applied


def test_shift_code_retired_twice_is_a_conflict(hospital: Hospital) -> None:
    shift = night(hospital)
    retire_shift_code(shift, actor=hospital.hr_partner.user)

    with pytest.raises(ConflictError):
        retire_shift_code(shift, actor=hospital.hr_partner.user)


def test_shift_code_retirement_is_refused_to_an_employee(hospital: Hospital) -> None:
    shift = night(hospital)

    with pytest.raises(PermissionDenied):
        retire_shift_code(shift, actor=hospital.doctor_li.user)

    assert ShiftCode.objects.get().retired_at is None


def test_shift_code_named_in_chinese_is_found_by_the_roster_import(hospital: Hospital) -> None:
    night(hospital, code="N", name="夜班", name_en="")

    outcome = roster(hospital, "工号,日期,班次\nH0011,2026-12-01,夜班\n")

    assert outcome.applied
    assert RosterEntry.objects.get().shift_code.code == "N"


# --- working hours ---------------------------------------------------------------------------

LUNCH = [(time(8, 30), time(12)), (time(13), time(17, 30))]


def test_working_hours_replace_the_organisation_default(hospital: Hospital) -> None:
    WorkingHours.objects.create(
        organisation=hospital.organisation, weekday=5, start=time(9), end=time(12)
    )

    changed = set_default_working_hours(
        hospital.organisation, hours={d: LUNCH for d in range(5)}, actor=hospital.hr_partner.user
    )

    assert changed
    assert default_hours_of(hospital.organisation) == {d: LUNCH for d in range(5)}
    event = AuditEvent.objects.get(action="scheduling.working_hours.changed")
    assert event.data["from"] == {"5": ["09:00-12:00"]}
    assert event.data["to"]["0"] == ["08:30-12:00", "13:00-17:30"]


def test_working_hours_keep_an_employees_own_hours(hospital: Hospital) -> None:
    WorkingHours.objects.create(
        organisation=hospital.organisation,
        employee=hospital.doctor_li,
        weekday=0,
        start=time(7),
        end=time(15),
    )

    set_default_working_hours(hospital.organisation, hours={0: LUNCH}, actor=hospital.admin.user)

    assert WorkingHours.objects.filter(employee=hospital.doctor_li).count() == 1


def test_working_hours_saved_again_unchanged_write_nothing(hospital: Hospital) -> None:
    set_default_working_hours(hospital.organisation, hours={0: LUNCH}, actor=hospital.admin.user)

    changed = set_default_working_hours(
        hospital.organisation, hours={0: list(reversed(LUNCH))}, actor=hospital.admin.user
    )

    assert not changed
    assert AuditEvent.objects.filter(action="scheduling.working_hours.changed").count() == 1


@pytest.mark.parametrize(
    ("hours", "field", "words"),
    [
        ({0: [(time(18), time(9))]}, "day0", "18:00–09:00"),
        ({2: [(time(9), time(13)), (time(12), time(18))]}, "day2", "09:00–13:00"),
        ({0: []}, "hours", ""),
        ({7: [(time(9), time(18))]}, "hours", ""),
        ({1: [(time(8), time(9))] * 5}, "day1", ""),
    ],
)
def test_working_hours_with_bad_stretches_are_refused(
    hospital: Hospital, hours: dict, field: str, words: str
) -> None:
    with pytest.raises(WorkPatternError) as refused:
        set_default_working_hours(hospital.organisation, hours=hours, actor=hospital.admin.user)

    assert field in refused.value.errors
    assert words in str(refused.value.errors[field])
    assert not WorkingHours.objects.exists()


def test_working_hours_error_names_the_weekday_in_the_language(hospital: Hospital) -> None:
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(WorkPatternError) as refused:
        set_default_working_hours(
            hospital.organisation, hours={0: [(time(18), time(9))]}, actor=hospital.admin.user
        )

    assert str(refused.value.errors["day0"]).startswith("星期一")


@pytest.mark.parametrize("persona", ["hr_cardiology", "head", "nurse_wang"])
def test_working_hours_are_refused_without_organisation_wide_reach(
    hospital: Hospital, persona: str
) -> None:
    with pytest.raises(PermissionDenied):
        set_default_working_hours(
            hospital.organisation, hours={0: LUNCH}, actor=getattr(hospital, persona).user
        )

    assert not WorkingHours.objects.exists()


def test_working_hours_decide_when_a_person_is_free(hospital: Hospital) -> None:
    set_default_working_hours(
        hospital.organisation, hours={0: [(time(10), time(11))]}, actor=hospital.admin.user
    )
    monday = date(2026, 12, 7)
    window = (
        datetime.combine(monday, time(0), tzinfo=UTC),
        datetime.combine(monday, time(23), tzinfo=UTC),
    )

    free = load_availability([hospital.zhao], *window)[hospital.zhao.pk].free

    assert [(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in free] == [("02:00", "03:00")]
