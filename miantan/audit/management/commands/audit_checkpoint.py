from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.audit.hashing import chain_name
from miantan.audit.models import AuditChainHead, AuditCheckpoint
from miantan.audit.services import (
    as_signed,
    export_checkpoint_line,
    organisation_of,
    write_checkpoint,
)
from miantan.audit.verification import DATABASE


class Command(BaseCommand):
    help = (
        "Sign the current head of every audit chain (the global one and one per organisation)"
        " as a checkpoint, store it, append it to MIANTAN_AUDIT_CHECKPOINT_FILE and print it,"
        " one line per chain (keep the printed lines elsewhere: a cron job mails them). With"
        " --export FILE, write every stored checkpoint to FILE."
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
        heads = list(AuditChainHead.objects.filter(seq__gt=0).order_by("chain"))
        if not heads:
            self.stderr.write("the audit trail is empty: nothing to checkpoint")
            return
        target = settings.MIANTAN_AUDIT_CHECKPOINT_FILE or "no file configured"
        for head in heads:
            name = chain_name(head.chain)
            checkpoint = write_checkpoint(organisation_of(head.chain))
            if checkpoint is not None:
                self.stderr.write(f"{name}: checkpoint of #{checkpoint.seq} written ({target})")
            else:
                # Only a head that is checkpointed already gets none.
                checkpoint = AuditCheckpoint.objects.filter(chain=head.chain).latest("seq", "pk")
                self.stderr.write(f"{name}: the head #{checkpoint.seq} is already checkpointed")
            self.stdout.write(as_signed(checkpoint, source=DATABASE).to_json())

    def _export(self, path: Path) -> None:
        count = 0
        for checkpoint in AuditCheckpoint.objects.order_by("chain", "seq", "pk"):
            if not export_checkpoint_line(as_signed(checkpoint, source=DATABASE).to_json(), path):
                raise CommandError(f"cannot write {path}")
            count += 1
        self.stderr.write(f"{count} checkpoint(s) written to {path}")
