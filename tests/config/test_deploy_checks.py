"""Production refuses example, short or patterned secrets and malformed key rings, both in
`manage.py check --deploy` and when the production settings are loaded."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.core.management.utils import get_random_secret_key

from miantan.archive.pdf import ensure_certificate
from miantan.core.checks import base_url_is_public, data_keys_are_valid, secret_key_is_strong
from miantan.core.secret_strength import data_keys_problem, secret_key_problem
from miantan.core.signing import new_key_spec
from tests.config.settings_process import environment, run


def random_key_ring(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def production(tmp_path: Path) -> dict[str, str]:
    """A complete, valid production environment (SQLite under a temporary folder), with a
    document-signing certificate of its own for the PDFs."""
    certificate, private_key = _pdf_certificate(tmp_path / "pdf")
    return environment(
        DJANGO_SETTINGS_MODULE="config.settings.prod",
        MIANTAN_VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        MIANTAN_DATA_KEYS=random_key_ring(),
        MIANTAN_AUDIT_KEYS=random_key_ring("a1"),
        MIANTAN_SIGNING_KEYS=new_key_spec("s1"),
        MIANTAN_PDF_CERTIFICATE=str(certificate),
        MIANTAN_PDF_PRIVATE_KEY=str(private_key),
        ALLOWED_HOSTS="miantan.example.com",
        CSRF_TRUSTED_ORIGINS="https://miantan.example.com",
        MIANTAN_BASE_URL="https://miantan.example.com",
    )


def _pdf_certificate(folder: Path) -> tuple[Path, Path]:
    from django.test import override_settings

    with override_settings(MIANTAN_PDF_CERTIFICATE_DIR=str(folder)):
        return ensure_certificate()


def check_deploy(env: dict[str, str]):
    return run("manage.py", "check", "--deploy", env=env)


def test_check_deploy_passes_a_valid_production_configuration(production):
    done = check_deploy(production)

    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr


def test_check_deploy_refuses_the_example_secret_key(production):
    done = check_deploy({**production, "SECRET_KEY": "change-me"})

    assert done.returncode != 0
    assert "SECRET_KEY is refused: it is an example or placeholder value" in done.stderr


def test_check_deploy_refuses_a_malformed_data_key_ring(production):
    done = check_deploy({**production, "MIANTAN_DATA_KEYS": "x"})

    assert done.returncode != 0
    assert "MIANTAN_DATA_KEYS is refused" in done.stderr


def test_check_deploy_refuses_the_example_data_key_ring(production):
    done = check_deploy({**production, "MIANTAN_DATA_KEYS": "k1:REPLACE_WITH_BASE64_32_BYTES"})

    assert done.returncode != 0
    assert "MIANTAN_DATA_KEYS is refused: key 'k1': not valid base64" in done.stderr


# Some values are drawn at random; the test ids name the reason instead, so that every
# collection (several workers included) sees the same tests.
REASON_IDS = {
    "example or placeholder",
    "empty",
    "1 characters; at least 50",
    "characters; at least 50",
    "too regular",
    "key 1: expected id:base64-key",
    "no key given",
    "16 bytes, at least 32",
    "repeat too much",
    "readable text",
    "used twice",
    "key 'old'",
}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("change-me", "example or placeholder"),
        ("django-insecure-" + get_random_secret_key(), "example or placeholder"),
        ("test-secret-key-not-for-production-use-0123456789abcdef", "example or placeholder"),
        ("", "empty"),
        ("x", "1 characters; at least 50"),
        (secrets.token_urlsafe(30), "characters; at least 50"),
        ("a" * 64, "too regular"),
        ("Zq3!" * 16, "too regular"),
        ("abcdefghijklmnopqrstuvwxyz" * 2, "too regular"),
    ],
    ids=lambda value: value if value in REASON_IDS else "key",
)
def test_secret_key_check_names_why_a_key_is_refused(settings, value, reason):
    settings.SECRET_KEY = value or "unset"
    if not value:
        assert "empty" in (secret_key_problem(value) or "")
        return

    [error] = secret_key_is_strong()

    assert error.id == "core.E001"
    assert reason in error.msg


@pytest.mark.parametrize(
    "value",
    [secrets.token_urlsafe(50), secrets.token_hex(32), get_random_secret_key()],
    ids=["token_urlsafe", "token_hex", "django"],
)
def test_secret_key_check_accepts_generated_keys(settings, value):
    settings.SECRET_KEY = value

    assert secret_key_is_strong() == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x", "key 1: expected id:base64-key"),
        ("", "no key given"),
        ("k1:" + base64.b64encode(os.urandom(16)).decode(), "16 bytes, at least 32"),
        ("k1:" + base64.b64encode(bytes(32)).decode(), "repeat too much"),
        ("dev:ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE=", "readable text"),
        (f"{random_key_ring()},{random_key_ring()}", "used twice"),
        (f"{random_key_ring()},old:AAAA", "key 'old'"),
    ],
    ids=lambda value: value if value in REASON_IDS else "key",
)
def test_data_keys_check_names_why_a_key_ring_is_refused(settings, value, reason):
    settings.MIANTAN_DATA_KEYS = value

    [error] = data_keys_are_valid()

    assert error.id == "core.E002"
    assert reason in error.msg


def test_data_keys_check_accepts_a_ring_of_random_keys(settings):
    settings.MIANTAN_DATA_KEYS = f"{random_key_ring('k2')},{random_key_ring('k1')}"

    assert data_keys_problem(settings.MIANTAN_DATA_KEYS) is None
    assert data_keys_are_valid() == []


def test_base_url_check_warns_when_links_point_at_this_machine(settings):
    settings.MIANTAN_BASE_URL = "http://127.0.0.1:8000"

    [warning] = base_url_is_public()

    assert warning.id == "core.W001"


def test_base_url_check_accepts_a_public_address(settings):
    settings.MIANTAN_BASE_URL = "https://miantan.example.com"

    assert base_url_is_public() == []


def test_deploy_checks_are_errors_that_fail_check_deploy(settings):
    settings.SECRET_KEY = "change-me"

    with pytest.raises(SystemCheckError, match=r"core\.E001"):
        call_command("check", deploy=True, tags=["security"])


def test_check_deploy_refuses_a_missing_signing_key(production):
    done = check_deploy({**production, "MIANTAN_SIGNING_KEYS": ""})

    assert done.returncode != 0
    assert "archive.E001" in done.stderr
