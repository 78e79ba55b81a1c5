"""`manage.py scan_nudges [--organisation ID]`: run every enabled nudge rule now (the worker
round runs them every few minutes by itself) and print how many people each kind nudged."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.nudges.services import scan
from miantan.people.models import Organisation


class Command(BaseCommand):
    help = "Run the enabled nudge rules now and queue the new nudges."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", type=int, help="only this organisation (its id)")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = None
        if options["organisation"] is not None:
            organisation = Organisation.objects.filter(pk=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"no organisation with id {options['organisation']}")
        counts = scan(organisation)
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count}")
