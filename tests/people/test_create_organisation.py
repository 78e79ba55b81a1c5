"""A new organisation and its first administrator: the services and `manage.py
create_organisation`."""

from __future__ import annotations

import io
from datetime import time

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client

from miantan.audit.models import AuditEvent
from miantan.core.errors import DomainError
from miantan.people.enums import Role
from miantan.people.models import Department, Employee, Organisation, RoleAssignment
from miantan.people.rules import can_import_org
from miantan.people.services import (
    OrganisationError,
    create_first_administrator,
    create_organisation,
    mark_left,
)
from miantan.scheduling.models import WorkingHours
from miantan.scheduling.work_patterns import default_hours_of, set_up_organisation
from tests.personas import Hospital

STRONG = "Violet-tiger-2027!"


@pytest.fixture
def superuser(db: None):
    return get_user_model().objects.create_superuser("root", "root@example.test", STRONG)


def renhe(actor, **changes) -> Organisation:
    fields = {
        "slug": "renhe",
        "name": "仁和医院",
        "name_en": "Renhe Hospital",
        "time_zone": "Asia/Shanghai",
        **changes,
    }
    return set_up_organisation(actor=actor, **fields)


def first_admin(organisation: Organisation, actor, **changes) -> Employee:
    fields = {
        "name": "郑毅",
        "employee_number": "R0001",
        "username": "renhe.admin",
        "email": "admin@renhe.example",
        "password": STRONG,
        **changes,
    }
    return create_first_administrator(organisation, actor=actor, **fields)


# --- the organisation ------------------------------------------------------------------------


def test_organisation_created_by_a_superuser_has_a_root_and_hours(superuser) -> None:
    organisation = renhe(superuser)

    root = Department.objects.get(organisation=organisation)
    assert (root.name, root.name_en, root.code, root.parent_id) == (
        "仁和医院",
        "Renhe Hospital",
        "RENHE",
        None,
    )
    assert root.path == f"/{root.pk}/"
    lunch = [(time(9), time(12)), (time(13), time(18))]
    assert default_hours_of(organisation) == {day: lunch for day in range(5)}
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "people.organisation.created",
        "people.department.created",
        "scheduling.working_hours.changed",
    } <= actions


def test_organisation_takes_the_hours_and_names_given(superuser) -> None:
    organisation = renhe(
        superuser,
        slug=" Renhe-2 ",
        time_zone="Europe/Berlin",
        root_code="HQ",
        root_name="院部",
        hours={day: [(time(8, 30), time(17, 30))] for day in range(6)},
    )

    assert (organisation.slug, organisation.time_zone) == ("renhe-2", "Europe/Berlin")
    assert Department.objects.get(organisation=organisation).code == "HQ"
    assert sorted(default_hours_of(organisation)) == [0, 1, 2, 3, 4, 5]


def test_organisation_with_a_taken_short_name_is_refused(superuser, hospital: Hospital) -> None:
    with pytest.raises(OrganisationError) as refused:
        renhe(superuser, slug="HOSPITAL")

    assert "hospital" in str(refused.value.errors["slug"])
    assert Organisation.objects.get(slug="hospital").name == "市第一人民医院"


def test_organisation_with_an_unknown_time_zone_is_refused(superuser) -> None:
    with pytest.raises(OrganisationError) as refused:
        renhe(superuser, time_zone="Asia/Beijing")

    assert "Asia/Beijing" in str(refused.value.errors["time_zone"])
    assert not Organisation.objects.exists()


def test_organisation_with_hours_ending_before_they_start_is_refused(superuser) -> None:
    with pytest.raises(OrganisationError) as refused:
        renhe(superuser, hours={0: [(time(18), time(9))]}, slug="bad slug!")

    assert {"day0", "slug"} <= set(refused.value.errors)
    assert not Organisation.objects.exists()
    assert not WorkingHours.objects.exists()
    assert not AuditEvent.objects.filter(action="people.organisation.created").exists()


@pytest.mark.parametrize(("field", "value"), [("name", ""), ("slug", ""), ("slug", "-x")])
def test_organisation_with_a_missing_or_bad_field_is_refused(superuser, field, value) -> None:
    with pytest.raises(OrganisationError) as refused:
        renhe(superuser, **{field: value})

    assert field in refused.value.errors


def test_organisation_creation_is_refused_to_an_organisation_administrator(
    hospital: Hospital,
) -> None:
    with pytest.raises(PermissionDenied):
        renhe(hospital.admin.user)
    with pytest.raises(PermissionDenied):
        create_organisation(slug="renhe", name="仁和医院", actor=hospital.admin.user)

    assert not Organisation.objects.filter(slug="renhe").exists()
    denied = AuditEvent.objects.filter(action="people.organisation.created", outcome="denied")
    assert denied.count() == 2


# --- the first administrator -----------------------------------------------------------------


def test_first_administrator_is_an_admin_of_the_root_who_can_sign_in(superuser) -> None:
    organisation = renhe(superuser, time_zone="Asia/Urumqi")

    admin = first_admin(organisation, superuser, language="en")

    assert admin.department.parent_id is None
    assert admin.time_zone == "Asia/Urumqi"
    assert admin.language == "en"
    assert RoleAssignment.objects.filter(employee=admin, role=Role.ADMIN).exists()
    admin.user.refresh_from_db()
    assert admin.user.is_staff and not admin.user.is_superuser
    assert Client().login(username="renhe.admin", password=STRONG)
    assert can_import_org.test(admin.user)


def test_first_administrator_is_refused_while_one_is_active(superuser) -> None:
    organisation = renhe(superuser)
    admin = first_admin(organisation, superuser)

    with pytest.raises(DomainError):
        first_admin(organisation, superuser, username="second", employee_number="R0002")

    mark_left(admin, actor=None)
    second = first_admin(organisation, superuser, username="second", employee_number="R0002")
    assert second.user.username == "second"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "12345678"}, "password"),
        ({"password": "renhe.admin"}, "password"),
        ({"username": "root"}, "username"),
        ({"username": "ROOT"}, "username"),
        ({"username": "has space"}, "username"),
        ({"email": "not-an-address"}, "email"),
        ({"employee_number": ""}, "employee_number"),
        ({"name": ""}, "name"),
    ],
)
def test_first_administrator_with_bad_fields_is_refused(superuser, changes, field) -> None:
    organisation = renhe(superuser)

    with pytest.raises(OrganisationError) as refused:
        first_admin(organisation, superuser, **changes)

    assert field in refused.value.errors
    assert not Employee.objects.filter(organisation=organisation).exists()


def test_first_administrator_is_refused_to_an_organisation_administrator(
    hospital: Hospital, superuser
) -> None:
    organisation = renhe(superuser)

    with pytest.raises(PermissionDenied):
        first_admin(organisation, hospital.admin.user)

    assert not Employee.objects.filter(organisation=organisation).exists()


# --- the command -----------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_organisation", *args, stdout=out)
    return out.getvalue()


def test_command_creates_organisation_root_and_default_hours(db: None) -> None:
    output = run("renhe", "仁和医院", "--name-en", "Renhe Hospital")

    organisation = Organisation.objects.get(slug="renhe")
    assert organisation.name_en == "Renhe Hospital"
    assert Department.objects.filter(organisation=organisation, parent=None).count() == 1
    assert default_hours_of(organisation)[0] == [(time(9), time(12)), (time(13), time(18))]
    assert "--admin-username" in output
    assert not Employee.objects.exists()


def test_command_takes_hours_break_and_weekdays(db: None) -> None:
    run(
        "factory",
        "华星智造",
        "--hours",
        "08:30-17:30",
        "--break",
        "12:00-13:00",
        "--weekdays",
        "1-6",
    )

    hours = default_hours_of(Organisation.objects.get())
    assert sorted(hours) == [0, 1, 2, 3, 4, 5]
    assert hours[5] == [(time(8, 30), time(12)), (time(13), time(17, 30))]


def test_command_creates_the_first_administrator_with_the_password_from_the_environment(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIANTAN_ADMIN_PASSWORD", STRONG)

    output = run("renhe", "仁和医院", "--admin-username", "zheng", "--admin-email", "z@renhe.test")

    admin = Employee.objects.get(user__username="zheng")
    assert admin.email == "z@renhe.test"
    assert RoleAssignment.objects.filter(employee=admin, role=Role.ADMIN).exists()
    assert STRONG not in output
    assert Client().login(username="zheng", password=STRONG)


def test_command_generates_and_prints_a_password_once(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIANTAN_ADMIN_PASSWORD", raising=False)

    output = run("renhe", "仁和医院", "--admin-username", "zheng")

    printed = next(line for line in output.splitlines() if line.startswith("Password"))
    password = printed.rsplit(": ", 1)[1]
    assert len(password) >= 16
    assert Client().login(username="zheng", password=password)


def test_command_refuses_a_taken_short_name_and_changes_nothing(hospital: Hospital) -> None:
    events = AuditEvent.objects.count()

    with pytest.raises(CommandError, match="already exists; nothing was changed"):
        run("hospital", "另一家医院")

    assert Organisation.objects.get(slug="hospital").name == "市第一人民医院"
    assert AuditEvent.objects.count() == events


def test_command_refuses_hours_that_end_before_they_start(db: None) -> None:
    with pytest.raises(CommandError, match="--hours"):
        run("renhe", "仁和医院", "--hours", "18:00-09:00", "--break", "none")

    assert not Organisation.objects.exists()


def test_command_refuses_an_unknown_time_zone(db: None) -> None:
    with pytest.raises(CommandError, match="--time-zone"):
        run("renhe", "仁和医院", "--time-zone", "Mars/Olympus")

    assert not Organisation.objects.exists()


def test_command_with_a_weak_password_creates_nothing(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIANTAN_ADMIN_PASSWORD", "123")

    with pytest.raises(CommandError, match="MIANTAN_ADMIN_PASSWORD"):
        run("renhe", "仁和医院", "--admin-username", "zheng")

    assert not Organisation.objects.exists()
    assert not get_user_model().objects.filter(username="zheng").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--hours", "9-18"],
        ["--hours", "25:00-26:00"],
        ["--weekdays", "0-4"],
        ["--break", "13:00-12:00"],
        ["--break", "11:00-19:00"],
    ],
)
def test_command_refuses_malformed_options(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError):
        run("renhe", "仁和医院", *args)

    assert not Organisation.objects.exists()
