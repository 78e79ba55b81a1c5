from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from miantan.audit.hashing import chain_name, parse_chain_name
from miantan.audit.models import AuditEvent
from miantan.audit.verification import gather_checkpoints, verify_chain
from miantan.core.chain import Checkpoint


class Command(BaseCommand):
    help = (
        "Verify every audit chain (the global one and one per organisation) against its"
        " checkpoints; names the chain and sequence number of every altered, forged, removed,"
        " reordered or re-chained event and of a deleted tail."
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
        counts = dict(
            AuditEvent.objects.order_by("chain")
            .values("chain")
            .annotate(events=Count("pk"))
            .values_list("chain", "events")
        )
        total = sum(counts.values())
        if problems:
            raise CommandError(f"audit trail damaged: {len(problems)} problem(s) in {total} events")
        self.stdout.write(
            self.style.SUCCESS(
                f"audit trail intact: {total} events verified in {len(counts)} chain(s),"
                f" {len(checkpoints)} checkpoint(s) match"
            )
        )
        latest: dict[int, Checkpoint] = {}
        for checkpoint in checkpoints:
            chain = parse_chain_name(checkpoint.chain)
            if chain is not None and checkpoint.seq >= latest.get(chain, checkpoint).seq:
                latest[chain] = checkpoint
        for chain, events in counts.items():
            seen = latest.get(chain)
            against = (
                f"the latest checkpoint at #{seen.seq} ({seen.at})"
                if seen is not None
                else "no checkpoint to compare with"
            )
            self.stdout.write(f"  {chain_name(chain)}: {events} events, {against}")
