"""Every service a page or the API calls with a signed-in user checks who that user is, so a
view that forgot its own check would still not let anyone through. Each refusal changes
nothing. (Talks: tests/interviews/test_talk_rules.py; roles: tests/people/test_role_grants.py;
evidence and cycles have their own tests.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from miantan.accounts.models import ApiToken
from miantan.accounts.services import revoke_token
from miantan.metrics.enums import PeriodKind
from miantan.metrics.models import Kpi, KpiAssignment, MetricsImport
from miantan.metrics.services import (
    assign_kpi,
    load_pack_for,
    remove_assignment,
    set_kpi_range,
    update_assignment,
)
from miantan.metrics.uploads import start_metrics_import
from miantan.people.importing import start_org_import
from miantan.people.models import OrgImport
from miantan.scheduling.busy_import import import_busy_ics
from miantan.scheduling.feeds import create_feed_token, revoke_feed_token
from miantan.scheduling.models import BusyBlock, CalendarFeedToken
from tests.factories import api_token_for
from tests.personas import Hospital, OtherOrganisation

# Everyone but HR for the whole hospital (孙丽) and its administrator (郑毅): the HR partner
# of 心内科 alone, the department head, a manager, an employee, the executive.
NOT_ORGANISATION_WIDE = ["hr_cardiology", "head", "head_nurse", "doctor_li", "executive"]


@pytest.fixture
def visits(hospital: Hospital) -> Kpi:
    return Kpi.objects.create(organisation=hospital.organisation, code="visits", name="门诊量")


@pytest.fixture
def assignment(hospital: Hospital, visits: Kpi) -> KpiAssignment:
    return KpiAssignment.objects.create(
        organisation=hospital.organisation, kpi=visits, department=hospital.cardiology, target=400
    )


def catalogue_changes(hospital: Hospital, visits: Kpi, assignment: KpiAssignment) -> dict:
    return {
        "assign": lambda user: assign_kpi(
            hospital.organisation,
            kpi=visits,
            department=hospital.emergency,
            position=None,
            period_kind=PeriodKind.MONTH,
            weight=1,
            target=300,
            actor=user,
        ),
        "update": lambda user: update_assignment(assignment, weight=2, target=420, actor=user),
        "remove": lambda user: remove_assignment(assignment, actor=user),
        "pack": lambda user: load_pack_for(hospital.organisation, "hospital", actor=user),
        "range": lambda user: set_kpi_range(visits, minimum=0, maximum=1000, actor=user),
    }


@pytest.mark.parametrize("change", ["assign", "update", "remove", "pack", "range"])
@pytest.mark.parametrize("viewer", NOT_ORGANISATION_WIDE)
def test_kpi_catalogue_services_refuse_all_but_organisation_wide_hr_and_admins(
    hospital: Hospital, visits: Kpi, assignment: KpiAssignment, viewer: str, change: str
):
    before = list(KpiAssignment.objects.values_list("pk", "weight", "target"))

    with pytest.raises(PermissionDenied):
        catalogue_changes(hospital, visits, assignment)[change](getattr(hospital, viewer).user)

    assert list(KpiAssignment.objects.values_list("pk", "weight", "target")) == before
    assert list(Kpi.objects.values_list("code", "min_value")) == [("visits", None)]


@pytest.mark.parametrize("change", ["assign", "update", "remove", "pack", "range"])
def test_kpi_catalogue_services_refuse_another_organisations_administrator(
    hospital: Hospital,
    other_org: OtherOrganisation,
    visits: Kpi,
    assignment: KpiAssignment,
    change: str,
):
    with pytest.raises(PermissionDenied):
        catalogue_changes(hospital, visits, assignment)[change](other_org.employee.user)


@pytest.mark.parametrize("change", ["assign", "update", "remove", "pack", "range"])
@pytest.mark.parametrize("viewer", ["hr_partner", "admin"])
def test_kpi_catalogue_services_let_organisation_wide_hr_and_admins_through(
    hospital: Hospital, visits: Kpi, assignment: KpiAssignment, viewer: str, change: str
):
    catalogue_changes(hospital, visits, assignment)[change](getattr(hospital, viewer).user)


UPLOADS: dict[str, tuple[Callable[..., Any], Any]] = {
    "organisation": (start_org_import, OrgImport),
    "metrics": (start_metrics_import, MetricsImport),
}


@pytest.mark.parametrize("kind", sorted(UPLOADS))
@pytest.mark.parametrize("viewer", NOT_ORGANISATION_WIDE)
def test_imports_refuse_all_but_organisation_wide_hr_and_admins(
    hospital: Hospital, kind: str, viewer: str
):
    start, model = UPLOADS[kind]
    upload = SimpleUploadedFile("people.csv", "工号,姓名\nH0099,新人\n".encode())

    with pytest.raises(PermissionDenied):
        start(
            hospital.organisation,
            upload=upload,
            original_name="people.csv",
            actor=getattr(hospital, viewer).user,
        )

    assert not model.objects.exists()


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_imports_refuse_another_organisations_administrator(
    hospital: Hospital, other_org: OtherOrganisation, kind: str
):
    start, model = UPLOADS[kind]

    with pytest.raises(PermissionDenied):
        start(
            hospital.organisation,
            upload=SimpleUploadedFile("people.csv", b"a,b\n"),
            original_name="people.csv",
            actor=other_org.employee.user,
        )

    assert not model.objects.exists()


def test_api_token_is_revoked_by_its_owner_only(hospital: Hospital):
    token, _secret = api_token_for(hospital.zhao)

    with pytest.raises(PermissionDenied):
        revoke_token(token, actor=hospital.admin.user)

    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    revoke_token(token, actor=hospital.zhao.user)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


@pytest.mark.parametrize("viewer", ["head_nurse", "hr_partner", "admin"])
def test_calendar_feed_and_busy_time_are_the_persons_own(hospital: Hospital, viewer: str):
    """Not even 王芳's manager, HR or an administrator manage her calendar."""
    user = getattr(hospital, viewer).user
    wang = hospital.nurse_wang
    create_feed_token(wang, actor=wang.user)

    with pytest.raises(PermissionDenied):
        create_feed_token(wang, actor=user)
    with pytest.raises(PermissionDenied):
        revoke_feed_token(wang, actor=user)
    with pytest.raises(PermissionDenied):
        import_busy_ics(wang, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", actor=user)

    assert CalendarFeedToken.objects.filter(employee=wang, revoked_at__isnull=True).count() == 1
    assert not BusyBlock.objects.filter(employee=wang).exists()
