"""Encryption at rest (PRODUCT.md I2): AES-256-GCM under the keys of MIANTAN_DATA_KEYS.

A stored value is ``mt1:<key id>:<base64 of nonce ‖ ciphertext ‖ tag>``. Each value is sealed
with a key derived (HKDF-SHA256) from the ring's key for its *context*: the column it lives in
(``interviews.talk.message``) or, for a private note, its author (``records.note.private:42``).
The context is also the authenticated data, so a value copied into another column or to another
author does not decrypt. Any change to a stored value, or a key id the ring does not hold,
makes reading it fail with `DecryptionError`: never a silent empty value.

The first key of the ring seals new values; the others only open what they sealed before a
rotation (`manage.py rotate_keys` re-seals everything under the current key).
"""

from __future__ import annotations

import base64
import binascii
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from .chain import KeyRing, KeyRingError
from .secret_strength import DATA_KEY_BYTES as KEY_BYTES

PREFIX = "mt1"
NONCE_BYTES = 12


class DecryptionError(ValueError):
    """A stored value could not be opened: changed, malformed, or sealed with a key the ring
    does not hold. Raised loudly; reading never falls back to the raw value."""


class Sealed(str):
    """A value that is a sealed token already (`rotate_keys`, data migrations): the encrypted
    fields store it as it is. Any other text is sealed, even one that looks like a token."""


@lru_cache(maxsize=1)
def data_ring() -> KeyRing:
    """The configured data keys (checked for strength by the deploy check in production).
    Raises ImproperlyConfigured when the ring is missing or malformed."""
    spec = str(getattr(settings, "MIANTAN_DATA_KEYS", "") or "")
    if not spec.strip():
        raise ImproperlyConfigured("MIANTAN_DATA_KEYS is not set: encrypted text cannot be used")
    try:
        ring = KeyRing.parse(spec)
    except KeyRingError as error:
        raise ImproperlyConfigured(f"MIANTAN_DATA_KEYS is refused: {error}") from None
    for key_id, key in ring.keys.items():
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"MIANTAN_DATA_KEYS is refused: key '{key_id}' has {len(key)} bytes,"
                f" an AES-256 key has exactly {KEY_BYTES}"
            )
    return ring


@lru_cache(maxsize=4096)
def _derived(key_id: str, key: bytes, context: str) -> AESGCM:
    material = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"miantan/" + context.encode()
    ).derive(key)
    return AESGCM(material)


def _cipher(key_id: str, context: str) -> AESGCM:
    ring = data_ring()
    try:
        key = ring.keys[key_id]
    except KeyError:
        raise DecryptionError(
            f"the value was sealed with key '{key_id}', which MIANTAN_DATA_KEYS no longer holds"
        ) from None
    return _derived(key_id, key, context)


def _aad(key_id: str, context: str) -> bytes:
    return f"{PREFIX}:{key_id}:{context}".encode()


def encrypt(plaintext: str, *, context: str) -> str:
    """Seal `plaintext` under the current key for `context`. The empty string stays empty."""
    if plaintext == "":
        return ""
    key_id = data_ring().current_id
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(key_id, context).encrypt(nonce, plaintext.encode(), _aad(key_id, context))
    return f"{PREFIX}:{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, context: str) -> str:
    """Open a value sealed by `encrypt` for the same context."""
    if token == "":
        return ""
    key_id, payload = _split(token)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("the stored value is not valid base64") from None
    if len(raw) < NONCE_BYTES + 16:
        raise DecryptionError("the stored value is too short to be sealed text")
    try:
        plain = _cipher(key_id, context).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(key_id, context)
        )
    except InvalidTag:
        raise DecryptionError(
            f"the stored value does not open for '{context}': it was changed or belongs elsewhere"
        ) from None
    return plain.decode()


def encrypt_bytes(data: bytes, *, context: str) -> bytes:
    """Seal a file's content: ``mt1:<key id>:`` then nonce ‖ ciphertext ‖ tag, as bytes."""
    key_id = data_ring().current_id
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(key_id, context).encrypt(nonce, data, _aad(key_id, context))
    return f"{PREFIX}:{key_id}:".encode() + nonce + sealed


def decrypt_bytes(blob: bytes, *, context: str) -> bytes:
    """Open content sealed by `encrypt_bytes` for the same context."""
    prefix, _colon, rest = blob.partition(b":")
    key_id, colon, raw = rest.partition(b":")
    if prefix != PREFIX.encode() or not colon or not key_id:
        raise DecryptionError("the stored file is not sealed content (expected mt1:key:…)")
    if len(raw) < NONCE_BYTES + 16:
        raise DecryptionError("the stored file is too short to be sealed content")
    name = key_id.decode("ascii", "replace")
    try:
        return _cipher(name, context).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(name, context)
        )
    except InvalidTag:
        raise DecryptionError(
            f"the stored file does not open for '{context}': it was changed or belongs elsewhere"
        ) from None


def bytes_key_id(blob: bytes) -> str:
    """The id of the key a sealed file was sealed with ("" for content that is not sealed)."""
    if not blob.startswith(PREFIX.encode() + b":"):
        return ""
    key_id, colon, _rest = blob[len(PREFIX) + 1 :].partition(b":")
    return key_id.decode("ascii", "replace") if colon else ""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def key_id_of(token: str) -> str:
    """The id of the key a value was sealed with ("" for the empty value)."""
    if token == "":
        return ""
    return _split(token)[0]


def is_current(token: str) -> bool:
    """Whether the value needs no re-sealing: empty, or sealed under the current key."""
    return token == "" or key_id_of(token) == data_ring().current_id


def reseal(token: str, *, context: str) -> str:
    """The value sealed under the current key (unchanged when it already is)."""
    if is_current(token):
        return token
    return encrypt(decrypt(token, context=context), context=context)


def reseal_bytes(blob: bytes, *, context: str) -> bytes:
    """File content sealed under the current key (unchanged when it already is)."""
    if bytes_key_id(blob) == data_ring().current_id:
        return blob
    return encrypt_bytes(decrypt_bytes(blob, context=context), context=context)


def _split(token: str) -> tuple[str, str]:
    prefix, _colon, rest = token.partition(":")
    key_id, colon, payload = rest.partition(":")
    if prefix != PREFIX or not colon or not key_id:
        raise DecryptionError("the stored value is not sealed text (expected mt1:key:…)")
    return key_id, payload


def _forget(*, setting: str, **kwargs: object) -> None:
    if setting == "MIANTAN_DATA_KEYS":
        data_ring.cache_clear()
        _derived.cache_clear()


setting_changed.connect(_forget)
