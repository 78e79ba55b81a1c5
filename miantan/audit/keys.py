"""The audit trail's signing keys: held outside the database, in the environment or a file.

`MIANTAN_AUDIT_KEYS` ("id:base64key[,older-id:key…]", first is current) or the file named by
`MIANTAN_AUDIT_KEYS_FILE` (the same, one key a line). Without either, a key derived from
SECRET_KEY is used, which is fine for development and tests; the deploy check refuses it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from miantan.core.chain import KeyRing, KeyRingError

DERIVED_ID = "derived"
_SETTINGS = {"MIANTAN_AUDIT_KEYS", "MIANTAN_AUDIT_KEYS_FILE", "SECRET_KEY"}


def configured_spec() -> str:
    """The key ring as configured ("" when neither setting is given). Raises KeyRingError
    when the key file cannot be read."""
    path = settings.MIANTAN_AUDIT_KEYS_FILE
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyRingError(f"MIANTAN_AUDIT_KEYS_FILE {path}: {error.strerror}") from None
    return str(settings.MIANTAN_AUDIT_KEYS).strip()


@cache
def ring() -> KeyRing:
    """The key ring every append and verification uses (read once per process)."""
    try:
        spec = configured_spec()
        if spec:
            return KeyRing.parse(spec)
    except KeyRingError as error:
        raise ImproperlyConfigured(f"audit key ring: {error}") from None
    return KeyRing.derived(settings.SECRET_KEY, "miantan.audit", key_id=DERIVED_ID)


def is_derived() -> bool:
    return not configured_spec()


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        ring.cache_clear()


setting_changed.connect(_forget)
