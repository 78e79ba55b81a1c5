"""`manage.py import_org FILE`: the organisation import from the command line, run at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.core.spreadsheets import rows_not_read
from miantan.people.enums import ImportStatus
from miantan.people.importing import (
    check_org_file,
    confirm_org_import,
    run_org_import,
    save_org_file,
)
from miantan.people.models import Organisation
from miantan.people.org_file import FileError, read_org_file


class Command(BaseCommand):
    help = (
        "Import or update the organisation from an .xlsx or .csv file. All or nothing: "
        "if any row is bad, every bad row is listed and nothing changes. Departments the file "
        "names without a parent are placed by the reporting line and listed with the reason."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--organisation", help="short name (slug); needed when there are several"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and show what would change"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        organisation = self._organisation(options["organisation"])
        if options["dry_run"]:
            self._dry_run(organisation, path)
            return
        with path.open("rb") as stream:
            org_import = save_org_file(
                organisation,
                upload=File(stream, name=path.name),
                original_name=path.name,
                actor=None,
            )
        run_org_import(org_import)
        if org_import.status == ImportStatus.CHECKED:
            # On the command line the operator has the list printed; --dry-run shows it first.
            self._departments(org_import.report.get("departments", []))
            confirm_org_import(org_import, actor=None, queue=False)
            run_org_import(org_import)
        self._report(org_import.report)
        if org_import.status != ImportStatus.DONE:
            raise CommandError(self._refusal(len(org_import.report.get("errors", []))))

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

    def _dry_run(self, organisation: Organisation, path: Path) -> None:
        try:
            with path.open("rb") as stream:
                org_file = read_org_file(stream, path.name)
        except FileError as error:
            raise CommandError(error.message) from error
        plan = check_org_file(organisation, org_file)
        if not plan.errors:
            self._departments(plan.department_tree())
        self._report(
            {
                "errors": [error.as_dict() for error in plan.errors],
                "summary": plan.summary(),
                "changes": [] if plan.errors else plan.changes(),
                "header_row": org_file.header_row,
                "rows_above": [note.as_dict() for note in org_file.skipped],
                "rows_after": [note.as_dict() for note in org_file.notes],
            }
        )
        if plan.errors:
            raise CommandError(self._refusal(len(plan.errors)))
        self.stdout.write(_("Dry run: nothing was changed."))

    def _departments(self, nodes: list[dict[str, Any]], depth: int = 0) -> None:
        """The new departments under their existing ancestors, indented; each placed by the
        reporting line with the reason."""
        if depth == 0 and nodes:
            self.stdout.write(_("New departments:"))
        for node in nodes:
            mark = "+ " if node["new"] else "  "
            self.stdout.write(f"{'  ' * depth}{mark}{node['name']} ({node['code']})")
            if node["reason"]:
                self.stdout.write(f"{'  ' * (depth + 2)}{node['reason']}")
            self._departments(node["children"], depth + 1)

    def _report(self, report: dict[str, Any]) -> None:
        above, after = report.get("rows_above", []), report.get("rows_after", [])
        for line in rows_not_read(report.get("header_row"), above, after):
            self.stdout.write(line)
        for error in report.get("errors", []):
            where = _("row %(row)s") % {"row": error["row"]} if error["row"] else _("file")
            column = f", {error['column']}" if error["column"] else ""
            self.stderr.write(f"{where}{column}: {error['message']}")
        if report.get("errors"):
            return
        for change in report.get("changes", []):
            if change["action"] == "created":
                self.stdout.write(f"+ {change['employee_number']} {change['name']}")
            for name, (old, new) in change["fields"].items():
                line = f"~ {change['employee_number']} {change['name']}: {name}: {old} → {new}"
                self.stdout.write(line)
        summary = report.get("summary", {})
        message = _("Created %(created)s, updated %(updated)s, unchanged %(unchanged)s.")
        self.stdout.write(self.style.SUCCESS(message % summary))

    def _refusal(self, count: int) -> str:
        message = ngettext(
            "The file was rejected with %(count)s problem; nothing was changed.",
            "The file was rejected with %(count)s problems; nothing was changed.",
            count,
        )
        return message % {"count": count}
