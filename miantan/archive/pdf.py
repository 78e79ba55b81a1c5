"""The PDF of an archived record (PRODUCT.md D5): rendered from a template in the record's
language with WeasyPrint (Chinese in embedded Noto CJK fonts), then signed with the deployment's
document-signing certificate as a PAdES baseline signature, so that any PDF reader can tell
whether a byte of it changed since.

Settings (paths to PEM files; both or neither):
- MIANTAN_PDF_CERTIFICATE: the signing certificate, optionally followed by its issuers.
- MIANTAN_PDF_PRIVATE_KEY: its private key; MIANTAN_PDF_PRIVATE_KEY_PASSWORD if encrypted.
- MIANTAN_PDF_CERTIFICATE_DIR: where a self-signed demo certificate is made when neither is set
  (default: VAR_DIR / "pdf-signing").
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import functools
import io
import os
import re
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from miantan.archive.document import (
    ArchiveDocument,
    DocumentAddendum,
    DocumentAppeal,
    DocumentSignature,
)

TEMPLATE = "archive/record_pdf.html"
# The page layout, apart from the HTML: its margin boxes carry translated text.
STYLESHEET = "archive/record_pdf.css"
CERTIFICATE_FILE = "certificate.pem"
PRIVATE_KEY_FILE = "private-key.pem"
DEMO_COMMON_NAME = "Miantan demo document signing"
DEMO_VALIDITY = timedelta(days=3653)
SIGNATURE_FIELD = "MiantanArchive"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_T = TypeVar("_T")


# --- rendering --------------------------------------------------------------------------------


def render_pdf(document: ArchiveDocument) -> bytes:
    """The record as an A4 PDF in its own language, fonts embedded; not yet signed."""
    # WeasyPrint loads Pango when imported: only the processes that export pay for it.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    with translation.override(document.language):
        context = _context(document)
        html = render_to_string(TEMPLATE, context)
        css = render_to_string(STYLESHEET, context)
    # Every image is inline: the fetcher refuses anything but data: URIs, so that no text in a
    # record can make the renderer read a file or a URL.
    fetcher = URLFetcher(allowed_protocols=("data",))
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string=css, url_fetcher=fetcher)]
    )
    return pdf


@dataclass(frozen=True)
class _AddendumView:
    addendum: DocumentAddendum
    written_at: str
    signatures: list[_SignatureView]


@dataclass(frozen=True)
class _SignatureView:
    signature: DocumentSignature
    signed_at: str
    handwriting_uri: str


@dataclass(frozen=True)
class _AppealView:
    appeal: DocumentAppeal
    opened_at: str
    resolved_at: str


def _context(document: ArchiveDocument) -> dict[str, Any]:
    return {
        "doc": document,
        "html_lang": "zh-Hans" if document.language.startswith("zh") else document.language,
        "held_at": _local(document.held_at),
        "signatures": [
            _SignatureView(s, _utc(s.signed_at), _png_data_uri(s.handwriting_png))
            for s in document.signatures
        ],
        "appeals": [
            _AppealView(a, _utc(a.opened_at), _utc(a.resolved_at) if a.resolved_at else "")
            for a in document.appeals
        ],
        "addenda": [
            _AddendumView(
                a,
                _utc(a.written_at),
                [
                    _SignatureView(s, _utc(s.signed_at), _png_data_uri(s.handwriting_png))
                    for s in a.signatures
                ],
            )
            for a in document.addenda
        ],
        "footer_left": _css_string(
            gettext("Talk #%(talk)s · record version %(version)s")
            % {"talk": document.talk_id, "version": document.record_version}
        ),
        "footer_page": _css_counters(gettext("Page %(page)s / %(pages)s")),
        "footer_right": _css_string(f"SHA-256 {document.snapshot_sha256[:16]}…"),
    }


def _utc(moment: datetime) -> str:
    # Archive times are the server's UTC clock; a naive one is taken as UTC, never as local.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _local(moment: datetime | None) -> str:
    """The talk's time in the deployment's zone, named, so that the PDF reads the same for
    whoever downloads it."""
    if moment is None:
        return ""
    zone = ZoneInfo(settings.TIME_ZONE)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(zone):%Y-%m-%d %H:%M} ({settings.TIME_ZONE})"


def _png_data_uri(png: bytes | None) -> str:
    if not png or not png.startswith(PNG_MAGIC):
        return ""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _css_counters(text: str) -> SafeString:
    """A translated "Page %(page)s / %(pages)s" as CSS `content`, the numbers from the page
    counters (the word order differs between languages)."""
    counters = {"%(page)s": "counter(page)", "%(pages)s": "counter(pages)"}
    parts = re.split(r"(%\(pages?\)s)", text)
    return mark_safe(  # noqa: S308 - literal parts go through _css_string
        " ".join(counters.get(part) or _css_string(part) for part in parts if part)
    )


def _css_string(text: str) -> SafeString:
    """A quoted CSS string for the page margin boxes (in the stylesheet template)."""
    escaped = "".join(
        ch if ch.isprintable() and ch not in '"\\<>' else f"\\{ord(ch):x} " for ch in text
    )
    return mark_safe(f'"{escaped}"')  # noqa: S308 - every character outside the safe set is escaped


# --- signing ----------------------------------------------------------------------------------


def export_pdf(document: ArchiveDocument) -> bytes:
    """The record as a signed PDF, ready to hand out."""
    with translation.override(document.language):
        reason = gettext("Signed talk record #%(talk)s, version %(version)s, SHA-256 %(hash)s") % {
            "talk": document.talk_id,
            "version": document.record_version,
            "hash": document.snapshot_sha256,
        }
    return sign_pdf(render_pdf(document), reason=reason, location=document.organisation)


def sign_pdf(pdf: bytes, *, reason: str, location: str = "") -> bytes:
    """`pdf` with a PAdES baseline signature (B-B) of the deployment over the whole file."""
    with warnings.catch_warnings():
        # pyHanko imports DSA key classes to read old signatures; this signer never uses DSA.
        warnings.filterwarnings("ignore", "DSA is deprecated")
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

    signer = _signer()
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location or None,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    pdf_signer = signers.PdfSigner(metadata, signer=signer)

    def sign() -> bytes:
        # pyHanko runs its own event loop (asyncio.run) for the signing.
        output: io.BytesIO = pdf_signer.sign_pdf(writer, output=io.BytesIO())
        return output.getvalue()

    return outside_any_event_loop(sign)


def outside_any_event_loop(work: Callable[[], _T]) -> _T:
    """`work()`, in a thread of its own when this thread already runs an event loop (an async
    view, or a server that keeps one open), where asyncio.run would refuse to start."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-sign") as pool:
        return pool.submit(work).result()


def signing_paths() -> tuple[Path, Path]:
    """The certificate and key that sign: those of the settings, or the demo pair (made once)."""
    certificate = getattr(settings, "MIANTAN_PDF_CERTIFICATE", "") or ""
    private_key = getattr(settings, "MIANTAN_PDF_PRIVATE_KEY", "") or ""
    if certificate and private_key:
        return Path(certificate), Path(private_key)
    if certificate or private_key:
        raise ImproperlyConfigured(
            "MIANTAN_PDF_CERTIFICATE and MIANTAN_PDF_PRIVATE_KEY must be set together."
        )
    return ensure_certificate()


def _signer() -> Any:
    certificate, private_key = signing_paths()
    password = getattr(settings, "MIANTAN_PDF_PRIVATE_KEY_PASSWORD", "") or ""
    try:
        stamps = (certificate.stat().st_mtime_ns, private_key.stat().st_mtime_ns)
    except OSError as error:
        raise ImproperlyConfigured(f"Cannot read the PDF signing files: {error}") from error
    # Keyed by the files' times too: a certificate replaced on disk is picked up without restart.
    return _load_signer(str(certificate), str(private_key), password, stamps)


@functools.lru_cache(maxsize=4)
def _load_signer(certificate: str, private_key: str, password: str, stamps: tuple[int, int]) -> Any:
    from pyhanko.keys import load_certs_from_pemder, load_private_key_from_pemder
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    try:
        chain = list(load_certs_from_pemder([certificate]))
        key = load_private_key_from_pemder(private_key, passphrase=password.encode() or None)
    except (OSError, ValueError, TypeError) as error:
        raise ImproperlyConfigured(f"Cannot load the PDF signing key pair: {error}") from error
    if not chain:
        raise ImproperlyConfigured(f"No certificate in {certificate}.")
    return signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),
    )


# --- the demo certificate ---------------------------------------------------------------------


def certificate_dir() -> Path:
    configured = getattr(settings, "MIANTAN_PDF_CERTIFICATE_DIR", "") or ""
    if configured:
        return Path(configured)
    var_dir = getattr(settings, "VAR_DIR", None) or Path(settings.BASE_DIR) / "var"
    return Path(var_dir) / "pdf-signing"


def ensure_certificate(*, force: bool = False) -> tuple[Path, Path]:
    """The demo's self-signed signing certificate and key (RSA 3072, ten years), made on first
    use in `certificate_dir()`; `force` makes a new pair. Returns (certificate, key)."""
    folder = certificate_dir()
    certificate, private_key = folder / CERTIFICATE_FILE, folder / PRIVATE_KEY_FILE
    if not force and certificate.exists() and private_key.exists():
        return certificate, private_key
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Two processes exporting their first PDF at once must not write halves of two pairs.
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if force or not (certificate.exists() and private_key.exists()):
            key_pem, certificate_pem = _self_signed_pair()
            _write_atomically(private_key, key_pem, mode=0o600)
            _write_atomically(certificate, certificate_pem, mode=0o644)
    return certificate, private_key


def certificate_fingerprint(certificate: Path) -> str:
    loaded = x509.load_pem_x509_certificate(certificate.read_bytes())
    return loaded.fingerprint(hashes.SHA256()).hex(":").upper()


def _self_signed_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEMO_COMMON_NAME)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + DEMO_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.replace(temporary, path)
