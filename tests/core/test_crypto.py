"""Sealing text and files (core/crypto.py): round trips, the token format, and loud failures for
a changed byte, a value moved to another context, a key the ring no longer holds and a
malformed or wrongly sized key."""

from __future__ import annotations

import base64
import os
import re
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured

from miantan.core import crypto
from miantan.core.crypto import DecryptionError
from miantan.core.secret_strength import data_keys_problem
from tests.config.settings_process import environment, run

CONTEXT = "interviews.talk.message"
TEXT = "想聊聊本季度的夜班安排：连续三个夜班后休息不够。"


def key(size: int = 32) -> str:
    return base64.b64encode(os.urandom(size)).decode()


@pytest.fixture
def ring(settings) -> dict[str, str]:
    """A ring of two keys, k2 current and k1 older."""
    keys = {"k2": key(), "k1": key()}
    settings.MIANTAN_DATA_KEYS = ",".join(f"{name}:{value}" for name, value in keys.items())
    return keys


def flip(token: str, index: int) -> str:
    """The token with one byte of its sealed payload (nonce ‖ ciphertext ‖ tag) changed."""
    prefix, key_id, payload = token.split(":")
    raw = bytearray(base64.b64decode(payload))
    raw[index] ^= 0x01
    return f"{prefix}:{key_id}:{base64.b64encode(bytes(raw)).decode()}"


# --- text -------------------------------------------------------------------------------------


def test_encrypt_round_trips_chinese_text(ring):
    token = crypto.encrypt(TEXT, context=CONTEXT)

    assert crypto.decrypt(token, context=CONTEXT) == TEXT
    assert TEXT not in token and "夜班" not in token


def test_encrypt_writes_a_token_with_the_current_key_id(ring):
    token = crypto.encrypt(TEXT, context=CONTEXT)

    prefix, key_id, payload = token.split(":")
    assert (prefix, key_id) == ("mt1", "k2")
    # 12 bytes of nonce, the ciphertext (as long as the UTF-8 text) and a 16-byte tag.
    assert len(base64.b64decode(payload, validate=True)) == 12 + len(TEXT.encode()) + 16
    assert crypto.key_id_of(token) == "k2" and crypto.is_sealed(token)


def test_the_same_text_sealed_twice_gives_different_tokens(ring):
    first, second = (crypto.encrypt(TEXT, context=CONTEXT) for _ in range(2))

    assert first != second
    assert crypto.decrypt(first, context=CONTEXT) == crypto.decrypt(second, context=CONTEXT)


def test_the_empty_text_stays_empty(ring):
    assert crypto.encrypt("", context=CONTEXT) == ""
    assert crypto.decrypt("", context=CONTEXT) == ""
    assert crypto.key_id_of("") == "" and crypto.is_current("")


@pytest.mark.parametrize(
    "index", [0, 11, 12, 20, -1], ids=["nonce", "nonce-end", "text", "text-2", "tag"]
)
def test_one_changed_byte_makes_reading_fail(ring, index):
    token = crypto.encrypt(TEXT, context=CONTEXT)

    with pytest.raises(DecryptionError, match="was changed or belongs elsewhere"):
        crypto.decrypt(flip(token, index), context=CONTEXT)


def test_a_value_moved_to_another_column_does_not_open(ring):
    token = crypto.encrypt(TEXT, context=CONTEXT)

    with pytest.raises(DecryptionError, match=re.escape("'interviews.talk.closing_reason'")):
        crypto.decrypt(token, context="interviews.talk.closing_reason")


def test_a_private_value_does_not_open_for_another_author(ring):
    token = crypto.encrypt(TEXT, context="records.note.private:41")

    with pytest.raises(DecryptionError):
        crypto.decrypt(token, context="records.note.private:42")


def test_a_token_relabelled_with_another_key_id_does_not_open(ring):
    token = crypto.encrypt(TEXT, context=CONTEXT)

    with pytest.raises(DecryptionError, match="was changed or belongs elsewhere"):
        crypto.decrypt(token.replace("mt1:k2:", "mt1:k1:"), context=CONTEXT)


def test_an_unknown_key_id_fails_with_a_message_naming_it(ring):
    token = crypto.encrypt(TEXT, context=CONTEXT).replace("mt1:k2:", "mt1:gone:")

    with pytest.raises(DecryptionError) as failure:
        crypto.decrypt(token, context=CONTEXT)

    assert str(failure.value) == (
        "the value was sealed with key 'gone', which MIANTAN_DATA_KEYS no longer holds"
    )


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("想聊聊", "not sealed text"),
        ("mt2:k2:AAAA", "not sealed text"),
        ("mt1::AAAA", "not sealed text"),
        ("mt1:k2:not base64!", "not valid base64"),
        ("mt1:k2:" + base64.b64encode(bytes(20)).decode(), "too short"),
    ],
    ids=["plain", "other-format", "no-key-id", "bad-base64", "too-short"],
)
def test_malformed_tokens_fail_loudly(ring, token, reason):
    with pytest.raises(DecryptionError, match=reason):
        crypto.decrypt(token, context=CONTEXT)


def test_an_older_key_still_opens_and_reseal_moves_the_value_to_the_current_key(settings, ring):
    settings.MIANTAN_DATA_KEYS = f"k1:{ring['k1']}"
    old = crypto.encrypt(TEXT, context=CONTEXT)
    settings.MIANTAN_DATA_KEYS = f"k2:{ring['k2']},k1:{ring['k1']}"

    new = crypto.reseal(old, context=CONTEXT)

    assert crypto.key_id_of(old) == "k1" and not crypto.is_current(old)
    assert crypto.decrypt(old, context=CONTEXT) == TEXT
    assert crypto.key_id_of(new) == "k2" and crypto.is_current(new)
    assert crypto.reseal(new, context=CONTEXT) == new
    settings.MIANTAN_DATA_KEYS = f"k2:{ring['k2']}"
    assert crypto.decrypt(new, context=CONTEXT) == TEXT
    with pytest.raises(DecryptionError, match="'k1'"):
        crypto.decrypt(old, context=CONTEXT)


# --- files ------------------------------------------------------------------------------------

FILE_CONTEXT = "records.attachment:7"
CONTENT = "面谈记录附件".encode() + bytes(range(256))


def test_file_content_round_trips(ring):
    blob = crypto.encrypt_bytes(CONTENT, context=FILE_CONTEXT)

    assert blob.startswith(b"mt1:k2:") and crypto.bytes_key_id(blob) == "k2"
    assert "面谈记录附件".encode() not in blob
    assert crypto.decrypt_bytes(blob, context=FILE_CONTEXT) == CONTENT


def test_a_changed_byte_of_a_file_makes_reading_fail(ring):
    blob = bytearray(crypto.encrypt_bytes(CONTENT, context=FILE_CONTEXT))
    blob[len(b"mt1:k2:") + 30] ^= 0x80

    with pytest.raises(DecryptionError, match="was changed or belongs elsewhere"):
        crypto.decrypt_bytes(bytes(blob), context=FILE_CONTEXT)


def test_a_file_does_not_open_for_another_context_or_without_its_key(settings, ring):
    blob = crypto.encrypt_bytes(CONTENT, context=FILE_CONTEXT)

    with pytest.raises(DecryptionError):
        crypto.decrypt_bytes(blob, context="records.attachment:8")
    settings.MIANTAN_DATA_KEYS = f"k1:{ring['k1']}"
    with pytest.raises(DecryptionError, match="sealed with key 'k2'"):
        crypto.decrypt_bytes(blob, context=FILE_CONTEXT)


def test_content_that_is_not_sealed_is_refused(ring):
    assert crypto.bytes_key_id(b"%PDF-1.7 k2:") == ""
    with pytest.raises(DecryptionError, match="not sealed content"):
        crypto.decrypt_bytes(b"%PDF-1.7 plain", context=FILE_CONTEXT)


def test_reseal_bytes_moves_a_file_to_the_current_key(settings, ring):
    settings.MIANTAN_DATA_KEYS = f"k1:{ring['k1']}"
    old = crypto.encrypt_bytes(CONTENT, context=FILE_CONTEXT)
    settings.MIANTAN_DATA_KEYS = f"k2:{ring['k2']},k1:{ring['k1']}"

    new = crypto.reseal_bytes(old, context=FILE_CONTEXT)

    assert crypto.bytes_key_id(new) == "k2"
    assert crypto.reseal_bytes(new, context=FILE_CONTEXT) == new
    assert crypto.decrypt_bytes(new, context=FILE_CONTEXT) == CONTENT


# --- the key ring -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "not set"),
        ("k1", "expected id:base64-key"),
        ("k1:" + base64.b64encode(bytes(16)).decode(), "16 bytes, at least 32"),
        ("k1:" + base64.b64encode(bytes(48)).decode(), "48 bytes, an AES-256 key has exactly 32"),
    ],
    ids=["unset", "malformed", "short", "long"],
)
def test_a_missing_or_malformed_ring_is_refused_before_anything_is_sealed(settings, spec, reason):
    settings.MIANTAN_DATA_KEYS = spec

    with pytest.raises(ImproperlyConfigured, match=reason):
        crypto.encrypt(TEXT, context=CONTEXT)


def test_production_refuses_a_data_key_that_is_not_exactly_32_bytes(tmp_path):
    long_key = f"k1:{key(48)}"
    env = environment(
        DJANGO_SETTINGS_MODULE="config.settings.prod",
        MIANTAN_VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        MIANTAN_DATA_KEYS=long_key,
        MIANTAN_AUDIT_KEYS=f"a1:{key()}",
        MIANTAN_SIGNING_KEYS=f"s1:{key()}",
        ALLOWED_HOSTS="miantan.example.com",
        CSRF_TRUSTED_ORIGINS="https://miantan.example.com",
        MIANTAN_BASE_URL="https://miantan.example.com",
    )

    refused = run("manage.py", "check", "--deploy", env=env)
    accepted = run(
        "manage.py", "check", "--deploy", env={**env, "MIANTAN_DATA_KEYS": f"k1:{key()}"}
    )

    assert data_keys_problem(long_key) == "key 'k1': 48 bytes, an AES-256 key has exactly 32"
    assert refused.returncode != 0
    assert "MIANTAN_DATA_KEYS is refused: key 'k1': 48 bytes" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
