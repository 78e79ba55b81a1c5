"""`check --deploy` on the archive's keys: the server's signing key must be configured and well
formed; a PDF certificate of the organisation's own is recommended over the demo one."""

from __future__ import annotations

from miantan.archive.checks import pdf_certificate_is_configured, signing_key_is_configured
from miantan.archive.pdf import ensure_certificate
from miantan.core.signing import new_key_spec


def test_a_missing_signing_key_is_refused(settings):
    settings.MIANTAN_SIGNING_KEYS = ""
    settings.MIANTAN_SIGNING_KEYS_FILE = ""

    assert [m.id for m in signing_key_is_configured()] == ["archive.E001"]


def test_a_malformed_signing_key_is_named(settings):
    settings.MIANTAN_SIGNING_KEYS = "k1:not base64!"

    assert [m.id for m in signing_key_is_configured()] == ["archive.E002"]


def test_a_configured_signing_key_passes(settings):
    settings.MIANTAN_SIGNING_KEYS = new_key_spec("k7")

    assert signing_key_is_configured() == []


def test_the_demo_pdf_certificate_is_a_warning(settings, tmp_path):
    settings.MIANTAN_PDF_CERTIFICATE = ""
    settings.MIANTAN_PDF_PRIVATE_KEY = ""
    assert [m.id for m in pdf_certificate_is_configured()] == ["archive.W001"]

    settings.MIANTAN_PDF_CERTIFICATE = str(tmp_path / "cert.pem")
    settings.MIANTAN_PDF_PRIVATE_KEY = str(tmp_path / "key.pem")
    assert [m.id for m in pdf_certificate_is_configured()] == ["archive.E003"]  # no such files

    settings.MIANTAN_PDF_CERTIFICATE_DIR = str(tmp_path / "made")
    certificate, private_key = ensure_certificate()
    settings.MIANTAN_PDF_CERTIFICATE = str(certificate)
    settings.MIANTAN_PDF_PRIVATE_KEY = str(private_key)
    assert pdf_certificate_is_configured() == []
