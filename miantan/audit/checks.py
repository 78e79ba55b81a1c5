"""System checks: the audit key ring must be readable everywhere, and set in production."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, register

from miantan.core.chain import KeyRing, KeyRingError

from . import keys

_HINT = (
    "Set MIANTAN_AUDIT_KEYS (or MIANTAN_AUDIT_KEYS_FILE) to id:base64-key, a random key of at"
    " least 32 bytes kept outside the database; see docs/operations.md."
)


@register(Tags.security)
def audit_key_ring_is_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        spec = keys.configured_spec()
        if spec:
            KeyRing.parse(spec)
    except KeyRingError as error:
        return [Error(f"The audit key ring is malformed: {error}.", hint=_HINT, id="audit.E002")]
    return []


@register(Tags.security, deploy=True)
def audit_key_is_configured(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    try:
        derived = keys.is_derived()
    except KeyRingError:
        return []  # audit.E002 names it
    if derived:
        return [
            Error(
                "No audit key is configured: the audit trail would be signed with a key"
                " derived from SECRET_KEY.",
                hint=_HINT,
                id="audit.E001",
            )
        ]
    return []
