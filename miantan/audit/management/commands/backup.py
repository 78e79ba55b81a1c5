"""`manage.py backup [--output DIR]`: one backup of the database and the uploaded files, with a
manifest to check its restore against (miantan.core.backup; docs/operations.md "Backup and
restore"). Prints the backup's path. The keys are never in it: keep them separately."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.audit import keys
from miantan.audit.models import AuditChainHead
from miantan.core import crypto
from miantan.core.backup import BackupError, create_backup

# The audit chain heads, stored in the manifest and compared after a restore.
HEADS = "audit_chain_heads"


def heads_query() -> str:
    table = AuditChainHead._meta.db_table
    return f'SELECT chain, seq, hash FROM "{table}" ORDER BY chain'  # noqa: S608


def file_roots() -> dict[str, Path | None]:
    """The directories of uploaded files, by the name they have in a backup."""
    media = settings.MEDIA_ROOT
    attachments = getattr(settings, "MIANTAN_ATTACHMENT_ROOT", None)
    return {
        "media": Path(media) if media else None,
        "attachments": Path(attachments) if attachments else None,
    }


def data_key_ids() -> list[str]:
    try:
        return list(crypto.data_ring().keys)
    except ImproperlyConfigured:
        return []


class Command(BaseCommand):
    help = (
        "Write a backup (a directory miantan-backup-<time>) of the database, the uploaded files"
        " and a manifest of row counts, checksums, migration state, audit chain heads and key"
        " ids (never the keys)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=str(Path(settings.VAR_DIR) / "backups"),
            metavar="DIR",
            help="the directory the backup is written into (default: var/backups)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        try:
            path = create_backup(
                Path(options["output"]),
                file_roots=file_roots(),
                queries={HEADS: heads_query()},
                extra={"data_key_ids": data_key_ids(), "audit_key_ids": list(keys.ring().keys)},
            )
        except (BackupError, OSError) as error:
            raise CommandError(f"backup failed: {error}") from None
        size = sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
        if options["verbosity"] > 0:
            self.stderr.write(
                f"backup written in {time.perf_counter() - started:.1f} s,"
                f" {size / 1_000_000:.1f} MB"
            )
        self.stdout.write(str(path))
