"""`manage.py create_organisation SLUG NAME`: set up a new organisation from a script."""

from __future__ import annotations

import os
import re
import secrets
from datetime import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.dates import WEEKDAYS_ABBR

from miantan.core.errors import DomainError, InvalidFields
from miantan.metrics.packs import PACKS, pack_key
from miantan.metrics.services import PackLoad, load_pack_for
from miantan.people.enums import Language
from miantan.people.models import Organisation
from miantan.people.services import DEFAULT_TIME_ZONE, create_first_administrator
from miantan.records.scripts import install_builtin_scripts
from miantan.records.templates import install_builtin_templates
from miantan.scheduling.work_patterns import set_up_organisation

PASSWORD_VARIABLE = "MIANTAN_ADMIN_PASSWORD"  # noqa: S105 - the variable's name, not a secret
_STRETCH = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


class Command(BaseCommand):
    help = (
        "Create an organisation with its root department and default working hours, and "
        "optionally its first administrator (an employee with the admin role and a login). "
        "The administrator's password is read from the environment variable "
        f"{PASSWORD_VARIABLE}, or generated and printed once. Refuses, changing nothing, when "
        "the short name is taken or any value is bad."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="short name: letters a–z, digits, hyphens (renhe)")
        parser.add_argument("name", help="the organisation's name (仁和医院)")
        parser.add_argument("--name-en", default="", help="English name")
        parser.add_argument(
            "--time-zone",
            default=DEFAULT_TIME_ZONE,
            help=f"IANA name (default {DEFAULT_TIME_ZONE})",
        )
        parser.add_argument("--root-code", default="", help="root department code (default: SLUG)")
        parser.add_argument("--root-name", default="", help="root department name (default: NAME)")
        parser.add_argument(
            "--hours",
            default="09:00-18:00",
            help="working time on working days, one or more stretches: 08:30-17:30 or "
            "08:00-12:00,14:00-17:30 (default 09:00-18:00)",
        )
        parser.add_argument(
            "--break",
            dest="lunch",
            default=None,
            help="a break cut out of --hours: 12:00-13:00 (the default with the default hours; "
            "'none' for no break)",
        )
        parser.add_argument(
            "--weekdays",
            default="1-5",
            help="working weekdays, 1 = Monday: 1-5, 1-6 or 1,2,3,4,5 (default 1-5)",
        )
        parser.add_argument(
            "--industry",
            action="append",
            default=[],
            help=f"load this industry's KPI pack into the catalogue: {', '.join(PACKS)} "
            "(may be given more than once)",
        )
        admin = parser.add_argument_group("first administrator")
        admin.add_argument("--admin-username", default="", help="login name")
        admin.add_argument("--admin-email", default="", help="e-mail address")
        admin.add_argument("--admin-name", default="", help="name (default: the login name)")
        admin.add_argument(
            "--admin-number", default="", help="employee number (default: the login name)"
        )
        admin.add_argument(
            "--admin-language", default=Language.ZH_HANS, choices=Language.values, help="language"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if Organisation.objects.filter(slug__iexact=options["slug"].strip()).exists():
            raise CommandError(
                f"An organisation with the short name {options['slug']!r} already exists; "
                "nothing was changed."
            )
        hours = _week_hours(options["hours"], options["lunch"], options["weekdays"])
        packs = _packs(options["industry"])
        username = options["admin_username"].strip()
        password, generated = _password(username)
        try:
            with transaction.atomic():
                organisation = set_up_organisation(
                    slug=options["slug"],
                    name=options["name"],
                    name_en=options["name_en"],
                    time_zone=options["time_zone"],
                    root_code=options["root_code"],
                    root_name=options["root_name"],
                    hours=hours,
                    actor=None,
                )
                templates = install_builtin_templates(organisation)
                install_builtin_scripts(organisation)
                if username:
                    create_first_administrator(
                        organisation,
                        name=options["admin_name"] or username,
                        employee_number=options["admin_number"] or username,
                        username=username,
                        email=options["admin_email"],
                        password=password,
                        language=options["admin_language"],
                        actor=None,
                    )
                loaded = [load_pack_for(organisation, pack, actor=None) for pack in packs]
        except DomainError as error:
            raise CommandError(_describe(error)) from None
        self._report(
            organisation, hours, username, password if generated else "", loaded, len(templates)
        )

    def _report(
        self,
        organisation: Organisation,
        hours: dict[int, list[tuple[time, time]]],
        username: str,
        generated_password: str,
        loaded: list[PackLoad],
        templates: int,
    ) -> None:
        days = ", ".join(str(WEEKDAYS_ABBR[day]) for day in sorted(hours))
        stretches = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in next(iter(hours.values())))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {organisation.name} ({organisation.slug}), time zone "
                f"{organisation.time_zone}, with its root department and working hours "
                f"{stretches} on {days}."
            )
        )
        self.stdout.write(f"Installed {templates} built-in talk record templates.")
        for load in loaded:
            self.stdout.write(
                f"Loaded the KPI pack {load.pack!r}: {len(load.kpis)} KPIs in the catalogue."
            )
        if not username:
            self.stdout.write(
                "Next: create its first administrator (this command with --admin-username, or "
                "the organisations page of an installation administrator)."
            )
            return
        self.stdout.write(
            f"Administrator {username} may sign in at {settings.MIANTAN_BASE_URL}/accounts/login/"
        )
        if generated_password:
            self.stdout.write(f"Password (shown only now): {generated_password}")


def _week_hours(text: str, lunch: str | None, weekdays: str) -> dict[int, list[tuple[time, time]]]:
    """The --hours, --break and --weekdays options as weekday → stretches (0 = Monday). Only
    the form is checked here; the service names stretches that end before they start."""
    stretches = [_stretch(part) for part in text.split(",") if part.strip()]
    if not stretches:
        raise CommandError("--hours needs at least one stretch such as 09:00-18:00")
    if lunch is None and text == "09:00-18:00":
        lunch = "12:00-13:00"
    if lunch and lunch.lower() != "none":
        begins, ends = _stretch(lunch)
        stretches = [piece for a, b in stretches for piece in _cut(a, b, begins, ends)]
    return {day: list(stretches) for day in _weekdays(weekdays)}


def _stretch(text: str) -> tuple[time, time]:
    match = _STRETCH.match(text)
    if match is None:
        raise CommandError(f"{text.strip()!r} is not a stretch of time such as 09:00-18:00")
    hour, minute, end_hour, end_minute = (int(group) for group in match.groups())
    try:
        return time(hour, minute), time(end_hour, end_minute)
    except ValueError:
        raise CommandError(f"{text.strip()!r} has a time that does not exist") from None


def _cut(begins: time, ends: time, break_start: time, break_end: time) -> list[tuple[time, time]]:
    """A stretch without the break; a break outside it leaves it whole."""
    if break_end <= break_start:
        raise CommandError(f"the break {break_start:%H:%M}-{break_end:%H:%M} ends before it starts")
    if not (begins < break_start < break_end < ends):
        if begins < break_end and break_start < ends:
            raise CommandError(
                f"the break {break_start:%H:%M}-{break_end:%H:%M} must lie inside the working "
                f"time {begins:%H:%M}-{ends:%H:%M}"
            )
        return [(begins, ends)]
    return [(begins, break_start), (break_end, ends)]


def _weekdays(text: str) -> list[int]:
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        first, _dash, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise CommandError(f"--weekdays: {part!r} is not a weekday (1-7) or a range (1-5)")
        low, high = int(first), int(last or first)
        if not 1 <= low <= high <= 7:
            raise CommandError(f"--weekdays: {part!r} is not between 1 (Monday) and 7 (Sunday)")
        days.update(range(low - 1, high))
    return sorted(days)


def _packs(industries: list[str]) -> list[str]:
    """The --industry options as pack names, each once, checked before anything is created."""
    packs: list[str] = []
    for industry in industries:
        try:
            key = pack_key(industry)
        except DomainError as error:
            raise CommandError(f"--industry: {error.message}") from None
        if key not in packs:
            packs.append(key)
    return packs


def _password(username: str) -> tuple[str, bool]:
    """The first administrator's password and whether it was generated."""
    given = os.environ.get(PASSWORD_VARIABLE, "")
    if given or not username:
        return given, False
    return secrets.token_urlsafe(12), True


# Where each field of the services' errors came from on the command line.
_SOURCES = {
    "slug": "SLUG",
    "name": "NAME",
    "time_zone": "--time-zone",
    "root_code": "--root-code",
    "hours": "--hours",
    "username": "--admin-username",
    "email": "--admin-email",
    "employee_number": "--admin-number",
    "password": PASSWORD_VARIABLE,
}


def _describe(error: DomainError) -> str:
    if isinstance(error, InvalidFields):
        problems = "; ".join(
            f"{_SOURCES.get(field, '--hours' if field.startswith('day') else field)}: {message}"
            for field, message in error.errors.items()
        )
        return f"{problems} (nothing was changed)"
    return f"{error.message} (nothing was changed)"
