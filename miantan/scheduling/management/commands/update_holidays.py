"""`manage.py update_holidays FILE`: load a year's public holidays of mainland China."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from miantan.scheduling.holidays import CalendarFileError
from miantan.scheduling.services import load_holidays


class Command(BaseCommand):
    help = (
        "Load public holidays and adjusted working days of mainland China from a JSON file "
        '({"years": {"2027": {"holidays": {"2027-01-01": "元旦"}, "working_days": [...]}}}), '
        "as the State Council publishes them. Each year in the file replaces that year; a bad "
        "file is reported entry by entry and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CommandError(_("The file is not JSON: %(error)s") % {"error": error}) from error
        try:
            counts = load_holidays(content, actor=None, source=path.name)
        except CalendarFileError as error:
            for problem in error.problems:
                self.stderr.write(problem)
            raise CommandError(str(error.message)) from error
        for year, count in counts.items():
            self.stdout.write(
                self.style.SUCCESS(
                    _("%(year)s: %(count)s days loaded.") % {"year": year, "count": count}
                )
            )
