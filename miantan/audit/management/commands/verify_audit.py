from typing import Any

from django.core.management.base import BaseCommand, CommandError

from miantan.audit.models import AuditEvent
from miantan.audit.verification import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; names every altered, removed or reordered event."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = list(verify_chain())
        for problem in problems:
            self.stderr.write(str(problem))
        total = AuditEvent.objects.count()
        if problems:
            raise CommandError(f"audit trail damaged: {len(problems)} problem(s) in {total} events")
        self.stdout.write(self.style.SUCCESS(f"audit trail intact: {total} events verified"))
