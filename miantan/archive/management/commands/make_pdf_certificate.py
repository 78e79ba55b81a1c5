from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from miantan.archive.pdf import certificate_fingerprint, ensure_certificate


class Command(BaseCommand):
    help = (
        "Make the self-signed certificate that signs exported PDFs when MIANTAN_PDF_CERTIFICATE"
        " and MIANTAN_PDF_PRIVATE_KEY are not set (kept in MIANTAN_PDF_CERTIFICATE_DIR); print"
        " its files and SHA-256 fingerprint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace an existing certificate and key with a new pair",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        certificate, private_key = ensure_certificate(force=options["force"])
        self.stdout.write(f"certificate: {certificate}")
        self.stdout.write(f"private key: {private_key}")
        self.stdout.write(f"SHA-256 fingerprint: {certificate_fingerprint(certificate)}")
        configured = getattr(settings, "MIANTAN_PDF_CERTIFICATE", "")
        if configured:
            self.stderr.write(
                f"MIANTAN_PDF_CERTIFICATE is set: exports are signed with {configured},"
                " not with this certificate."
            )
