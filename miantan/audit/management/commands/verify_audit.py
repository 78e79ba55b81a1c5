from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.audit.models import AuditEvent
from miantan.audit.verification import gather_checkpoints, verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit trail's signed hash chain against its checkpoints; names every"
        " altered, forged, removed, reordered or re-chained event and a deleted tail."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoints",
            action="append",
            default=[],
            metavar="FILE",
            help="a file of checkpoints kept outside the database (JSON lines, as written by"
            " audit_checkpoint); may be given several times",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            checkpoints, problems = gather_checkpoints(options["checkpoints"])
        except OSError as error:
            raise CommandError(f"cannot read {error.filename}: {error.strerror}") from None
        problems += verify_chain(checkpoints)
        for problem in problems:
            self.stderr.write(str(problem))
        total = AuditEvent.objects.count()
        if problems:
            raise CommandError(f"audit trail damaged: {len(problems)} problem(s) in {total} events")
        latest = max(checkpoints, key=lambda checkpoint: checkpoint.seq, default=None)
        against = (
            f", {len(checkpoints)} checkpoint(s) match, the latest at #{latest.seq} ({latest.at})"
            if latest is not None
            else ", no checkpoint to compare with"
        )
        self.stdout.write(
            self.style.SUCCESS(f"audit trail intact: {total} events verified{against}")
        )
