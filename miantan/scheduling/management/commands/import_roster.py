"""`manage.py import_roster FILE`: import shift rosters from an .xlsx or .csv file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from miantan.core.spreadsheets import rows_not_read
from miantan.people.models import Organisation
from miantan.scheduling.rosters import import_roster_file


class Command(BaseCommand):
    help = (
        "Import shift rosters (工号/employee number, 日期/date, 班次/shift) from an .xlsx or "
        ".csv file. All or nothing: if any row is bad, every bad row is listed and nothing "
        "changes. The file decides the shifts of every employee and date it lists, so "
        "importing the same file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", help="short name (slug); needed when there are several"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        organisation = _organisation(options["organisation"])
        with path.open("rb") as stream:
            outcome = import_roster_file(organisation, stream, name=path.name, actor=None)
        for line in rows_not_read(outcome.header_row, outcome.skipped, outcome.notes):
            self.stdout.write(line)
        for error in outcome.errors:
            where = _("row %(row)s") % {"row": error.row} if error.row else _("file")
            column = f", {error.column}" if error.column else ""
            self.stderr.write(f"{where}{column}: {error.message}")
        if outcome.errors:
            raise CommandError(outcome.message())
        self.stdout.write(self.style.SUCCESS(outcome.message()))


def _organisation(slug: str | None) -> Organisation:
    if slug:
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise CommandError(f"no organisation with the short name {slug!r}")
        return organisation
    organisations = list(Organisation.objects.all()[:2])
    if len(organisations) != 1:
        raise CommandError("give the organisation with --organisation SLUG")
    return organisations[0]
