from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.audit.models import AuditCheckpoint
from miantan.audit.services import as_signed, export_checkpoint_line, write_checkpoint
from miantan.audit.verification import DATABASE


class Command(BaseCommand):
    help = (
        "Sign the audit chain's current head as a checkpoint, store it, append it to"
        " MIANTAN_AUDIT_CHECKPOINT_FILE and print it (keep the printed line elsewhere: a cron"
        " job mails it). With --export FILE, write every stored checkpoint to FILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--export",
            metavar="FILE",
            help="append every checkpoint in the database to FILE (JSON lines) instead",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["export"]:
            self._export(Path(options["export"]))
            return
        checkpoint = write_checkpoint()
        if checkpoint is None:
            latest = AuditCheckpoint.objects.order_by("-seq").first()
            if latest is None:
                self.stderr.write("the audit trail is empty: nothing to checkpoint")
                return
            self.stderr.write(f"the head #{latest.seq} is already checkpointed")
        else:
            latest = checkpoint
            target = settings.MIANTAN_AUDIT_CHECKPOINT_FILE or "no file configured"
            self.stderr.write(f"checkpoint of #{checkpoint.seq} written ({target})")
        self.stdout.write(as_signed(latest, source=DATABASE).to_json())

    def _export(self, path: Path) -> None:
        count = 0
        for checkpoint in AuditCheckpoint.objects.order_by("seq", "pk"):
            if not export_checkpoint_line(as_signed(checkpoint, source=DATABASE).to_json(), path):
                raise CommandError(f"cannot write {path}")
            count += 1
        self.stderr.write(f"{count} checkpoint(s) written to {path}")
