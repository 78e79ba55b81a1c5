"""Deploy checks of the archive (`manage.py check --deploy`): the server's signing key must be
configured, not derived from SECRET_KEY, and the PDFs should be signed with the organisation's
certificate rather than the self-signed demo one."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from miantan.core import signing
from miantan.core.chain import KeyRingError

SIGNING_HINT = (
    "Set MIANTAN_SIGNING_KEYS (or MIANTAN_SIGNING_KEYS_FILE) to a key of its own, e.g. the"
    ' output of: python3 -c "from miantan.core.signing import new_key_spec;'
    ' print(new_key_spec())" (see docs/operations.md, Signing keys).'
)


@register(Tags.security, deploy=True)
def signing_key_is_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        spec = signing.configured_spec()
        if spec:
            signing.SigningRing.parse(spec)
    except KeyRingError as error:
        return [
            Error(f"The signing keys are malformed: {error}.", hint=SIGNING_HINT, id="archive.E002")
        ]
    if not spec:
        return [
            Error(
                "No signing key is configured: signed records and the archive chain would be"
                " signed with a key derived from SECRET_KEY.",
                hint=SIGNING_HINT,
                id="archive.E001",
            )
        ]
    return []


@register(deploy=True)
def pdf_certificate_is_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    files = [
        getattr(settings, "MIANTAN_PDF_CERTIFICATE", ""),
        getattr(settings, "MIANTAN_PDF_PRIVATE_KEY", ""),
    ]
    if all(files):
        unreadable = [name for name in files if not os.access(name, os.R_OK)]
        if not unreadable:
            return []
        return [
            Error(
                f"The PDF signing files cannot be read: {', '.join(unreadable)}.",
                hint="Check the paths in MIANTAN_PDF_CERTIFICATE and MIANTAN_PDF_PRIVATE_KEY.",
                id="archive.E003",
            )
        ]
    return [
        Warning(
            "Exported PDFs are signed with a self-signed demo certificate: PDF readers show the"
            " file unchanged but the signer as untrusted.",
            hint="Set MIANTAN_PDF_CERTIFICATE and MIANTAN_PDF_PRIVATE_KEY to the organisation's"
            " document-signing certificate and key (docs/operations.md, Signed PDFs).",
            id="archive.W001",
        )
    ]
