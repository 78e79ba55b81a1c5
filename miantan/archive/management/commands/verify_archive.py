"""`manage.py verify_archive`: check every archived record, its signatures and each
organisation's chain, naming each record that was altered, removed, inserted, reordered,
replaced or rolled back; or check export files without the database (`--file`).

Exit status 0 when nothing was found, 1 otherwise. `--heads` prints each organisation's chain
head as JSON lines, to keep elsewhere (e.g. mailed daily to an auditor): a later verification
with `--expect-heads FILE` then also notices a chain cut off or rewritten after that moment."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from miantan.archive import verification


class Command(BaseCommand):
    help = "Check the signed archive (hashes, signatures, chains) or export files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", action="append", default=[], help="an export to check")
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            metavar="ID:HEX",
            help="check exports with this Ed25519 public key (as published)",
        )
        parser.add_argument("--organisation", type=int, help="only this organisation")
        parser.add_argument("--heads", action="store_true", help="print the chain heads")
        parser.add_argument(
            "--expect-heads", help="JSON lines printed by --heads earlier: check against them"
        )
        parser.add_argument("--json", action="store_true", help="findings as JSON lines")

    def handle(self, *args: Any, **options: Any) -> None:
        findings: list[verification.Finding] = []
        if options["file"]:
            pinned = dict(self._key(k) for k in options["public_key"]) or None
            for name in options["file"]:
                try:
                    data = json.loads(Path(name).read_text(encoding="utf-8"))
                except (OSError, ValueError) as error:
                    raise CommandError(f"{name}: cannot be read ({error})") from None
                found = verification.verify_export(data, pinned=pinned)
                self._print(found, options["json"], prefix=f"{name}: ")
                findings += found
                if not found:
                    self.stdout.write(f"{name}: verified, 0 findings")
        else:
            if options["heads"]:
                for head in verification.heads():
                    self.stdout.write(json.dumps(head, sort_keys=True))
                return
            started = time.monotonic()
            summary = verification.Summary()
            stream = (
                verification.verify_organisation(options["organisation"], summary)
                if options["organisation"]
                else verification.verify_all(summary)
            )
            for finding in stream:
                findings.append(finding)
                self._print([finding], options["json"])
            if options["expect_heads"]:
                found = self._against_heads(Path(options["expect_heads"]))
                self._print(found, options["json"])
                findings += found
            seconds = time.monotonic() - started
            self.stderr.write(
                f"{summary.records} archived records in {summary.organisations} organisations"
                f" checked in {seconds:.1f} s: {len(findings)} findings"
            )
        if findings:
            sys.exit(1)

    def _print(self, found: list[verification.Finding], as_json: bool, prefix: str = "") -> None:
        for finding in found:
            if as_json:
                self.stdout.write(json.dumps(finding.as_json(), ensure_ascii=False))
            else:
                self.stdout.write(f"{prefix}{finding}")

    def _key(self, spec: str) -> tuple[str, str]:
        key_id, colon, value = spec.partition(":")
        if not colon:
            raise CommandError("--public-key takes ID:HEX")
        return key_id, value

    def _against_heads(self, path: Path) -> list[verification.Finding]:
        from miantan.archive.models import ArchiveEntry

        found = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                head = json.loads(line)
                organisation, seq, digest = (
                    int(head["organisation"]),
                    int(head["seq"]),
                    head["hash"],
                )
            except (ValueError, KeyError, TypeError):
                raise CommandError(f"{path}:{number}: not a chain head") from None
            entry = ArchiveEntry.objects.filter(organisation_id=organisation, seq=seq).first()
            if entry is None:
                found.append(
                    verification.Finding(
                        kind="removed",
                        detail=f"the chain no longer reaches #{seq}, which {path} saw",
                        organisation_id=organisation,
                        seq=seq,
                    )
                )
            elif entry.hash != digest:
                found.append(
                    verification.Finding(
                        kind="altered",
                        detail=f"entry #{seq} differs from the head {path} saw: rewritten",
                        organisation_id=organisation,
                        seq=seq,
                        record_id=entry.record_id,
                    )
                )
        return found
