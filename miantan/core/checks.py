"""Deploy checks (`manage.py check --deploy`): secrets and addresses fit for production."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .secret_strength import data_keys_problem, secret_key_problem

RANDOM_KEY_HINT = (
    "Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    " and keep it out of the repository; see docs/operations.md."
)
DATA_KEYS_HINT = (
    "Set MIANTAN_DATA_KEYS to id:base64-key, a random key of 32 bytes, e.g."
    " python3 -c \"import os,base64;print('k1:'+base64.b64encode(os.urandom(32)).decode())\"."
)


@register(Tags.security, deploy=True)
def secret_key_is_strong(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problem = secret_key_problem(str(settings.SECRET_KEY))
    if problem is None:
        return []
    return [Error(f"SECRET_KEY is refused: {problem}.", hint=RANDOM_KEY_HINT, id="core.E001")]


@register(Tags.security, deploy=True)
def data_keys_are_valid(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problem = data_keys_problem(str(getattr(settings, "MIANTAN_DATA_KEYS", "")))
    if problem is None:
        return []
    return [Error(f"MIANTAN_DATA_KEYS is refused: {problem}.", hint=DATA_KEYS_HINT, id="core.E002")]


@register(deploy=True)
def base_url_is_public(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    host = urlsplit(settings.MIANTAN_BASE_URL).hostname or ""
    if not _is_loopback(host):
        return []
    return [
        Warning(
            f"MIANTAN_BASE_URL is {settings.MIANTAN_BASE_URL}: links in mail and calendar"
            " entries would point at this machine, not at the address people open.",
            hint="Set MIANTAN_BASE_URL to the public address, e.g. https://miantan.example.com.",
            id="core.W001",
        )
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
