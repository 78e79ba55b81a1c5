"""Valid ranges of KPIs: defaults by unit, in packs and for existing KPIs, set through the
service, and the rule that decides whether a per cent KPI's numbers are fractions."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied
from django.utils import translation

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.metrics.models import Kpi
from miantan.metrics.packs import PACKS, load_pack
from miantan.metrics.ranges import (
    InvalidRange,
    PercentColumn,
    Reading,
    ValueRange,
    default_range,
    fraction_reading,
    read_range,
)
from miantan.metrics.services import set_kpi_range
from miantan.metrics.values_file import PercentCell, is_percent_format, read_number
from tests.metrics.kpi_builders import assign, kpi
from tests.personas import Hospital, OtherOrganisation

NOT_NEGATIVE = (Decimal(0), None)
PER_CENT = (Decimal(0), Decimal(100))


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("%", PER_CENT),
        ("％", PER_CENT),
        ("人次", NOT_NEGATIVE),
        ("台", NOT_NEGATIVE),
        ("元", (None, None)),
        ("分", (None, None)),
        ("", (None, None)),
    ],
)
def test_default_range_follows_the_unit(unit: str, expected: tuple[object, object]) -> None:
    assert default_range(unit) == expected


def test_value_range_reads_as_people_write_it() -> None:
    with translation.override("en"):
        assert [str(r) for r in (ValueRange(), ValueRange(Decimal("0.0000"), None))] == [
            "any value",
            "≥ 0",
        ]
    assert str(ValueRange(Decimal("0.5"), Decimal("100.0000"))) == "0.5–100"
    assert str(ValueRange(None, Decimal(5))) == "≤ 5"


def test_value_range_contains_its_ends() -> None:
    valid = ValueRange(Decimal(0), Decimal(100))

    assert [valid.contains(n) for n in (0, 100, 100.0001, -0.0001)] == [True, True, False, False]
    assert ValueRange().contains(-(10**13))


@pytest.mark.parametrize(
    ("low", "high", "field"),
    [("5", "1", "max_value"), ("abc", "", "min_value"), ("", "1e20", "max_value")],
)
def test_read_range_refuses_bad_ends(low: str, high: str, field: str) -> None:
    with pytest.raises(InvalidRange) as raised:
        read_range(low, high)

    assert list(raised.value.errors) == [field]


def test_read_range_leaves_empty_ends_open() -> None:
    assert read_range("", " 1,000 ") == ValueRange(None, Decimal(1000))


# --- the fraction rule --------------------------------------------------------------------------


def reading(numbers: list[float], reference: float | None = None) -> Reading:
    column = PercentColumn("满意度", reference)
    for number in numbers:
        column.see(number, str(number))
    return column.reading()


@pytest.mark.parametrize(
    ("numbers", "reference", "expected"),
    [
        ([0.92, 0.85, 1.0], None, Reading.FRACTIONS),
        ([0.92, 0.85], 90.0, Reading.FRACTIONS),
        ([0.3, 0.8], 2.0, Reading.SMALL_PERCENTS),
        ([0.003, 0.008], 2.0, Reading.FRACTIONS),
        ([0.3, 0.8], 0.5, Reading.SMALL_PERCENTS),
        ([0.92, 95.0], None, Reading.AS_WRITTEN),
        ([0.0, 1.0, 1.0], None, Reading.AS_WRITTEN),
        ([-0.5, 0.5], None, Reading.AS_WRITTEN),
        ([], None, Reading.AS_WRITTEN),
    ],
)
def test_fraction_rule(numbers: list[float], reference: float | None, expected: Reading) -> None:
    assert reading(numbers, reference) is expected


def test_fraction_rule_ignores_a_target_of_zero() -> None:
    decision = fraction_reading(
        plain_numbers=2, all_between_0_and_1=True, any_fraction=True, average=0.5, reference=0
    )

    assert decision is Reading.FRACTIONS


@pytest.mark.parametrize(
    ("number_format", "percent"),
    [
        ("0%", True),
        ("0.00%", True),
        ("0.0%;[Red]-0.0%", True),
        ('0"%"', False),
        ("0\\%", False),
        ("General", False),
        (None, False),
    ],
)
def test_percentage_formats_are_recognised(number_format: str | None, percent: bool) -> None:
    assert is_percent_format(number_format) is percent


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (PercentCell(0.92), ("92", True)),
        (PercentCell(0.07), ("7", True)),
        (PercentCell(1), ("100", True)),
        ("92%", ("92", True)),
        ("９２．５％", ("92.5", True)),
        (0.92, ("0.92", False)),
        ("0.92", ("0.92", False)),
    ],
)
def test_read_number_tells_per_cents_apart(cell: object, expected: tuple[str, bool]) -> None:
    assert read_number(cell) == expected


# --- packs and existing KPIs --------------------------------------------------------------------


def test_pack_kpis_get_their_ranges(hospital: Hospital) -> None:
    kpis = {k.code: k for k in load_pack(hospital.organisation, "hospital", actor=None)}

    assert (kpis["patient_satisfaction"].min_value, kpis["patient_satisfaction"].max_value) == (
        PER_CENT
    )
    assert (kpis["surgeries"].min_value, kpis["surgeries"].max_value) == NOT_NEGATIVE
    assert (kpis["medical_record_quality"].min_value, kpis["medical_record_quality"].max_value) == (
        PER_CENT
    )


def test_every_pack_kpi_has_an_ordered_range() -> None:
    for items in PACKS.values():
        for item in items:
            low, high = item.min_value, item.max_value
            assert low is None or high is None or low <= high, item.code
            assert (low, high) != (None, None), item.code


def test_loading_a_pack_brings_its_range_back(hospital: Hospital) -> None:
    load_pack(hospital.organisation, "hospital", actor=None)
    Kpi.objects.filter(code="patient_satisfaction").update(max_value=None)

    load_pack(hospital.organisation, "hospital", actor=None)

    assert Kpi.objects.get(code="patient_satisfaction").max_value == Decimal(100)


def test_migration_gives_existing_kpis_the_range_of_their_unit(hospital: Hospital) -> None:
    org = hospital.organisation
    made = {
        "satisfaction": kpi(org, "satisfaction", "满意度", unit="%"),
        "visits": kpi(org, "visits", "门诊量", unit="人次"),
        "revenue": kpi(org, "revenue", "收入", unit="元"),
        "medical_record_quality": kpi(org, "medical_record_quality", "病历质量", unit="分"),
    }
    Kpi.objects.filter(code="medical_record_quality").update(pack="hospital")
    migration = importlib.import_module("miantan.metrics.migrations.0003_kpi_valid_range")

    migration.set_ranges(apps, None)

    ranges = {
        k.code: (k.min_value, k.max_value)
        for k in Kpi.objects.filter(pk__in=[m.pk for m in made.values()])
    }
    assert ranges == {
        "satisfaction": PER_CENT,
        "visits": NOT_NEGATIVE,
        "revenue": (None, None),
        "medical_record_quality": PER_CENT,
    }


# --- set_kpi_range ------------------------------------------------------------------------------


def test_set_kpi_range_saves_and_records_it(hospital: Hospital) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")

    set_kpi_range(visits, minimum="0", maximum="800", actor=hospital.hr_partner.user)

    visits.refresh_from_db()
    assert (visits.min_value, visits.max_value) == (Decimal(0), Decimal(800))
    event = AuditEvent.objects.get(action="metrics.kpi.range_changed")
    assert (event.actor_id, event.organisation_id) == (
        hospital.hr_partner.user.pk,
        visits.organisation_id,
    )


def test_set_kpi_range_with_the_same_range_records_nothing(hospital: Hospital) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")
    set_kpi_range(visits, minimum=0, maximum=None, actor=None)

    set_kpi_range(visits, minimum="0.0", maximum="", actor=None)

    assert AuditEvent.objects.filter(action="metrics.kpi.range_changed").count() == 1


def test_set_kpi_range_refuses_lowest_above_highest(hospital: Hospital) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")

    with pytest.raises(InvalidRange):
        set_kpi_range(visits, minimum=10, maximum=1, actor=None)

    visits.refresh_from_db()
    assert visits.min_value is None


def test_set_kpi_range_refuses_to_leave_out_an_assigned_target(hospital: Hospital) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")
    assign(visits, 400, department=hospital.cardiology)

    with translation.override("zh-hans"), pytest.raises(DomainError) as raised:
        set_kpi_range(visits, minimum=500, maximum=None, actor=None)

    assert raised.value.code == "target_outside_range"
    assert "心内科" in str(raised.value.message)


@pytest.mark.parametrize("persona", ["head", "hr_cardiology", "doctor_li"])
def test_set_kpi_range_is_for_organisation_wide_hr_and_admins(
    hospital: Hospital, persona: str
) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")

    with pytest.raises(PermissionDenied):
        set_kpi_range(visits, minimum=0, maximum=1, actor=getattr(hospital, persona).user)


def test_set_kpi_range_refuses_another_organisations_admin(
    hospital: Hospital, other_org: OtherOrganisation
) -> None:
    visits = kpi(hospital.organisation, "visits", "门诊量")

    with pytest.raises(PermissionDenied):
        set_kpi_range(visits, minimum=0, maximum=1, actor=other_org.employee.user)
