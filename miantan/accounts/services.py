"""Sign-in throttling and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import DomainError

from .models import ApiToken, FailedLogin

TOKEN_PREFIX = "mt_"  # noqa: S105 (a public marker, not a secret)


def is_locked_out(username: str) -> bool:
    since = timezone.now() - timedelta(seconds=settings.MIANTAN_LOGIN_LOCKOUT_SECONDS)
    recent = FailedLogin.objects.filter(username=username.lower(), at__gte=since).count()
    return recent >= settings.MIANTAN_LOGIN_MAX_FAILURES


def note_failed_login(username: str, *, ip: str | None) -> None:
    with transaction.atomic():
        FailedLogin.objects.create(username=username.lower()[:150], ip=ip)
        record(
            "accounts.login.failed",
            actor=None,
            outcome=Outcome.DENIED,
            object_type="auth.user",
            data={"username": username[:150]},
        )


def note_successful_login(user: Any) -> None:
    with transaction.atomic():
        FailedLogin.objects.filter(username=user.get_username().lower()).delete()
        record("accounts.login.succeeded", actor=user, obj=user)


def create_token(user: Any, *, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Returns the token and its secret; the secret is not stored and cannot be shown again."""
    name = name.strip()
    if not name:
        raise DomainError(_("Give the token a name."))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=days) if days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            prefix=secret[:10],
            digest=_digest(secret),
            expires_at=expires,
        )
        record("accounts.token.created", actor=user, obj=token, data={"name": token.name})
    return token, secret


def revoke_token(token: ApiToken, *, actor: Any) -> None:
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record("accounts.token.revoked", actor=actor, obj=token)


def user_for_token(secret: str) -> Any | None:
    """The active user behind a token, or None. Revoked, expired and leavers' tokens fail."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(digest=_digest(secret)).first()
    now = timezone.now()
    if token is None or token.revoked_at or (token.expires_at and token.expires_at <= now):
        return None
    if not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
