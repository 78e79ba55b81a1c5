"""`manage.py restore PATH [--database-url URL] [--force]`: load a backup written by
`manage.py backup` into an empty database and its files into the file directories, then check
the result: every table's row count and checksum and the migration state against the manifest,
the audit chain heads, and every audit chain (`verify_chain`, with the checkpoints of the
database). Exit status 1 on any difference. See docs/operations.md "Backup and restore"."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.db.utils import load_backend

from miantan.audit import keys
from miantan.audit.management.commands.backup import HEADS, data_key_ids, file_roots, heads_query
from miantan.audit.verification import gather_checkpoints, verify_chain
from miantan.core.backup import (
    BackupError,
    compare,
    database_label,
    inventory,
    mismatched_tables,
    read_manifest,
    restore_database,
    restore_files,
)


@contextmanager
def default_database(settings_dict: Mapping[str, Any]) -> Iterator[None]:
    """Point the default connection at another database for the duration (the audit
    verification reads through the models)."""
    configured = connections.configure_settings({"default": dict(settings_dict)})["default"]
    wrapper = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, "default")
    saved = connections["default"]
    connections["default"] = wrapper
    try:
        yield
    finally:
        wrapper.close()
        connections["default"] = saved


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into an empty database and check it"
        " against the backup's manifest and the audit chains; exit status 1 on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the backup directory (miantan-backup-<time>)")
        parser.add_argument(
            "--database-url",
            help="the database to restore into (default: the configured database); it must"
            " exist and be empty",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the tables of a database that already holds Miantan tables",
        )
        parser.add_argument(
            "--media-root", help="where the uploaded files go (default: MEDIA_ROOT)"
        )
        parser.add_argument(
            "--attachment-root",
            help="where the attachments go (default: MIANTAN_ATTACHMENT_ROOT)",
        )
        parser.add_argument(
            "--report", metavar="FILE", help="also write the result as JSON into FILE"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backup = Path(options["path"])
        url = options["database_url"]
        target = dj_database_url.parse(url) if url else dict(connections["default"].settings_dict)
        roots = {name: path for name, path in file_roots().items() if path is not None}
        if options["media_root"]:
            roots["media"] = Path(options["media_root"])
        if options["attachment_root"]:
            roots["attachments"] = Path(options["attachment_root"])
        timings: dict[str, float] = {}
        started = time.perf_counter()
        try:
            manifest = read_manifest(backup)
            self._warn_missing_keys(manifest)
            restore_database(backup, manifest, target, force=options["force"])
            timings["database_seconds"] = time.perf_counter() - started
            files = restore_files(backup, manifest, roots)
            checking = time.perf_counter()
            problems = compare(manifest, inventory(target, {HEADS: heads_query()}))
        except (BackupError, OSError) as error:
            raise CommandError(f"restore failed: {error}") from None
        with default_database(target):
            checkpoints, audit_problems = gather_checkpoints(configured_file=False)
            audit_problems += verify_chain(checkpoints)
        timings["check_seconds"] = time.perf_counter() - checking
        timings["seconds"] = time.perf_counter() - started
        for problem in [*problems, *(str(p) for p in audit_problems)]:
            self.stderr.write(problem)
        tables = len(manifest["tables"])
        if options["report"]:
            report = {
                "backup": str(backup),
                "database": database_label(target),
                "tables": tables,
                "rows": sum(entry["rows"] for entry in manifest["tables"].values()),
                "mismatched_tables": mismatched_tables(problems),
                "problems": problems,
                "audit_problems": [str(problem) for problem in audit_problems],
                "files": files,
                **{key: round(value, 3) for key, value in timings.items()},
            }
            Path(options["report"]).write_text(json.dumps(report, indent=1, ensure_ascii=False))
        if problems or audit_problems:
            raise CommandError(
                f"restore check failed: {len(problems)} difference(s) from the backup,"
                f" {len(audit_problems)} audit chain problem(s)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"restored into {database_label(target)}: {tables} tables match the backup"
                f" (rows and checksums), {files} file(s), audit chains intact"
                f" ({timings['seconds']:.1f} s)"
            )
        )

    def _warn_missing_keys(self, manifest: Mapping[str, Any]) -> None:
        rings = {
            "MIANTAN_DATA_KEYS": (manifest.get("data_key_ids") or [], data_key_ids()),
            "the audit key ring": (manifest.get("audit_key_ids") or [], list(keys.ring().keys)),
        }
        for ring, (named, held) in rings.items():
            missing = [key_id for key_id in named if key_id not in held]
            if missing:
                self.stderr.write(
                    self.style.WARNING(
                        f"warning: {ring} lacks key id(s) {', '.join(missing)} named in the"
                        " backup: values sealed with them cannot be read (or verified)"
                    )
                )
