from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.core.errors import DomainError
from miantan.people.models import Employee
from miantan.scheduling.busy_import import import_busy_feed, import_busy_ics


class Command(BaseCommand):
    help = (
        "Import busy time for one employee from an ICS file or a calendar feed URL (only the "
        "times are kept). Replaces that source's blocks for the next 90 days; idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organisation", help="the organisation's short name (slug)")
        parser.add_argument("employee_number")
        parser.add_argument("source", help="an .ics file or an http(s)/webcal URL")

    def handle(self, *args: Any, **options: Any) -> None:
        employee = Employee.objects.filter(
            organisation__slug=options["organisation"], employee_number=options["employee_number"]
        ).first()
        if employee is None:
            raise CommandError("No such employee in that organisation.")
        source = options["source"]
        try:
            if source.startswith(("http://", "https://", "webcal://")):
                result = import_busy_feed(employee, source, actor=None)
            else:
                with open(source, "rb") as handle:
                    result = import_busy_ics(employee, handle.read(), actor=None)
        except (DomainError, OSError) as error:
            raise CommandError(str(getattr(error, "message", error))) from error
        self.stdout.write(
            f"{result.created} busy blocks added, {result.removed} removed, "
            f"{result.skipped} events skipped (free or cancelled)."
        )
