"""The deployment's Ed25519 signing keys: the server's signature on signed records and the
seal of the archive's chain (a `miantan.core.chain.Sealer`).

`MIANTAN_SIGNING_KEYS` ("id:base64-private-seed[,older-id:base64-public-key…]", the first is
current and must hold a 32-byte private seed; older entries may be public keys only, to verify
what they signed before a rotation) or the file named by `MIANTAN_SIGNING_KEYS_FILE` (the same,
one key a line). Without either, a key derived from SECRET_KEY is used, fine for development
and tests; the deploy check refuses it. Public keys are published at
`/.well-known/miantan-signing-keys.json`.

Ed25519 signatures are deterministic, so sealing the same message twice gives the same seal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .chain import KeyRingError

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DERIVED_ID = "derived"


@dataclass(frozen=True)
class SigningRing:
    """Public keys by id, and the private key of the current one (None: verify only)."""

    keys: dict[str, Ed25519PublicKey]
    current_id: str
    private: Ed25519PrivateKey | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, spec: str) -> SigningRing:
        keys: dict[str, Ed25519PublicKey] = {}
        private: Ed25519PrivateKey | None = None
        current = ""
        for number, item in enumerate(re.split(r"[,\s]+", spec.strip()), start=1):
            if not item:
                continue
            key_id, colon, encoded = item.partition(":")
            if not colon or not _KEY_ID.match(key_id):
                raise KeyRingError(
                    f"key {number}: expected id:base64-key with an id of 1-16 letters, digits,"
                    " '-' or '_'"
                )
            if key_id in keys:
                raise KeyRingError(f"key {number}: the id '{key_id}' is used twice")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyRingError(f"key '{key_id}': not valid base64") from None
            if len(raw) != 32:
                raise KeyRingError(f"key '{key_id}': {len(raw)} bytes, an Ed25519 key has 32")
            if not current:
                current = key_id
                private = Ed25519PrivateKey.from_private_bytes(raw)
                keys[key_id] = private.public_key()
            else:
                keys[key_id] = Ed25519PublicKey.from_public_bytes(raw)
        if not keys:
            raise KeyRingError("no key given")
        return cls(keys=keys, current_id=current, private=private)

    @classmethod
    def derived(cls, secret: str, purpose: str, key_id: str = DERIVED_ID) -> SigningRing:
        seed = hashlib.sha256(f"{purpose}\n{secret}".encode()).digest()
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(keys={key_id: private.public_key()}, current_id=key_id, private=private)

    @classmethod
    def public(cls, keys: dict[str, str]) -> SigningRing:
        """A verify-only ring from hex public keys (e.g. from an export, or pinned)."""
        parsed = {
            key_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
            for key_id, value in keys.items()
        }
        return cls(keys=parsed, current_id=next(iter(parsed), ""))

    def mac(self, key_id: str, message: bytes) -> str:
        """The Ed25519 signature of `message`, hex (only with the current key)."""
        if self.private is None or key_id != self.current_id:
            raise KeyRingError(f"no private key '{key_id}' to sign with")
        return self.private.sign(message).hex()

    def sign(self, message: bytes) -> tuple[str, str]:
        return self.current_id, self.mac(self.current_id, message)

    def verifies(self, key_id: str, message: bytes, mac: str) -> bool:
        key = self.keys.get(key_id)
        if key is None:
            return False
        try:
            key.verify(bytes.fromhex(mac), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def public_hex(self, key_id: str | None = None) -> str:
        key = self.keys[key_id or self.current_id]
        return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def published(self) -> dict[str, Any]:
        return {
            "algorithm": "Ed25519",
            "current": self.current_id,
            "keys": {key_id: self.public_hex(key_id) for key_id in self.keys},
        }


def configured_spec() -> str:
    from django.conf import settings

    path = getattr(settings, "MIANTAN_SIGNING_KEYS_FILE", "")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeyRingError(f"MIANTAN_SIGNING_KEYS_FILE {path}: {error.strerror}") from None
    return str(getattr(settings, "MIANTAN_SIGNING_KEYS", "")).strip()


@cache
def ring() -> SigningRing:
    """The deployment's signing ring (read once per process)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        spec = configured_spec()
        if spec:
            return SigningRing.parse(spec)
    except KeyRingError as error:
        raise ImproperlyConfigured(f"signing keys: {error}") from None
    return SigningRing.derived(settings.SECRET_KEY, "miantan.signing")


def is_derived() -> bool:
    return not configured_spec()


def new_key_spec(key_id: str = "k1") -> str:
    """A fresh "id:base64-seed" for MIANTAN_SIGNING_KEYS."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    seed = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return f"{key_id}:{base64.b64encode(seed).decode()}"


def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in {"MIANTAN_SIGNING_KEYS", "MIANTAN_SIGNING_KEYS_FILE", "SECRET_KEY"}:
        ring.cache_clear()


def _connect() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_forget, dispatch_uid="miantan.core.signing")


_connect()
