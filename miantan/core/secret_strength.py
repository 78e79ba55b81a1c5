"""Whether a configured secret is fit for production: not an example, long and random enough.

Used by the deploy checks (`manage.py check --deploy`) and by the production settings, which
refuse to start with a secret that fails. Pure functions: no Django, no database.
"""

from __future__ import annotations

import math
import string
from collections import Counter

from .chain import KeyRing, KeyRingError

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_BITS = 128
# The data keys seal text with AES-256-GCM: each is exactly 32 random bytes.
DATA_KEY_BYTES = 32
# Values from examples, documentation and the settings of development, tests and benchmarks.
_PLACEHOLDERS = (
    "change-me",
    "changeme",
    "change_me",
    "replace",
    "example",
    "insecure",
    "not-for-production",
    "dummy",
    "sample",
    "your-secret",
    "secret-key",
    "secretkey",
    "password",
)
_PRINTABLE = frozenset(string.printable.encode())


def secret_key_problem(value: str) -> str | None:
    """Why this SECRET_KEY must not be used in production, or None when it may."""
    key = value.strip()
    if not key:
        return "it is empty"
    lowered = key.lower()
    if any(marker in lowered for marker in _PLACEHOLDERS):
        return "it is an example or placeholder value"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it has {len(key)} characters; at least {MIN_SECRET_KEY_LENGTH} are needed"
    if len(set(key)) < 10 or _repeats(key, 8) or _shannon_bits(key) < MIN_SECRET_KEY_BITS:
        return "it is too regular to be random (few different characters, or repeats)"
    return None


def data_keys_problem(spec: str) -> str | None:
    """Why this key ring ("id:base64-key[,…]") is malformed or weak, or None when it is fit:
    every key is exactly 32 random bytes (AES-256)."""
    try:
        ring = KeyRing.parse(spec)
    except KeyRingError as error:
        return str(error)
    for key_id, key in ring.keys.items():
        if len(key) != DATA_KEY_BYTES:
            return f"key '{key_id}': {len(key)} bytes, an AES-256 key has exactly {DATA_KEY_BYTES}"
        problem = key_bytes_problem(key)
        if problem:
            return f"key '{key_id}': {problem}"
    return None


def key_bytes_problem(key: bytes) -> str | None:
    """Why these key bytes are not random bytes, or None. 32 random bytes are readable text
    with a chance of about 1 in 10^14; fewer than 16 different values, or four bytes that occur
    twice, are rarer than 1 in 10^6."""
    if all(byte in _PRINTABLE for byte in key):
        return "its bytes are readable text, not random bytes"
    if len(set(key)) < 16 or _repeats(key, 4):
        return "its bytes repeat too much to be random"
    return None


def _shannon_bits(text: str) -> float:
    """Length × entropy of the character frequencies: what the key is worth if its
    characters were drawn independently, an upper bound on its real strength."""
    counts = Counter(text)
    total = len(text)
    per_character = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_character * total


def _repeats(data: str | bytes, width: int) -> bool:
    """Whether some run of `width` characters (bytes) occurs twice. In a random key of 64
    hexadecimal digits an 8-character repeat has a chance of about 1 in 2.5 million."""
    seen = set()
    for start in range(len(data) - width + 1):
        piece = data[start : start + width]
        if piece in seen:
            return True
        seen.add(piece)
    return False
