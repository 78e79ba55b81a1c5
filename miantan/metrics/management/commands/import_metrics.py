"""`manage.py import_metrics FILE`: import KPI values from an .xlsx or .csv file, all or nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from miantan.core.spreadsheets import rows_not_read
from miantan.metrics.importing import import_values_file
from miantan.people.models import Organisation


class Command(BaseCommand):
    help = (
        "Import KPI values (employee number, KPI, period, value, optional target and source) "
        "from an .xlsx or .csv file. All or nothing: if any row is bad, every bad row is listed "
        "and nothing changes. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", help="short name (slug); needed when there are several"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and count what would change"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        organisation = self._organisation(options["organisation"])
        started = time.monotonic()
        with path.open("rb") as stream:
            outcome, values_file = import_values_file(
                organisation, stream, name=path.name, actor=None, dry_run=options["dry_run"]
            )
        seconds = time.monotonic() - started
        if values_file is not None:
            above, after = values_file.skipped, values_file.notes
            for line in rows_not_read(values_file.header_row, above, after):
                self.stdout.write(line)
        for error in outcome.row_errors(values_file):
            where = _("row %(row)s") % {"row": error.row} if error.row else _("file")
            column = f", {error.column}" if error.column else ""
            self.stderr.write(f"{where}{column}: {error.message}")
        if outcome.problem_count:
            raise CommandError(outcome.message())
        self.stdout.write(self.style.SUCCESS(outcome.message()))
        if options["dry_run"]:
            self.stdout.write(_("Dry run: nothing was changed."))
        if options["verbosity"] > 1:
            rate = outcome.rows / seconds if seconds else 0
            self.stdout.write(f"{outcome.rows} rows in {seconds:.2f} s ({rate:,.0f} rows/s)")

    def _organisation(self, slug: str | None) -> Organisation:
        if slug:
            organisation = Organisation.objects.filter(slug=slug).first()
            if organisation is None:
                raise CommandError(f"no organisation with the short name {slug!r}")
            return organisation
        organisations = list(Organisation.objects.all()[:2])
        if len(organisations) != 1:
            raise CommandError("give the organisation with --organisation SLUG")
        return organisations[0]
