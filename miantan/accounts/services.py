"""Sign-in limits (counted before the password is checked) and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from miantan.audit.enums import Outcome
from miantan.audit.services import record
from miantan.core.errors import DomainError

from .models import ApiToken, SignInLimit

TOKEN_PREFIX = "mt_"  # noqa: S105 (a public marker, not a secret)


@dataclass(frozen=True)
class Lockout:
    """Sign-in is refused without checking the password until `until`."""

    until: datetime


def reserve_password_check(username: str, *, ip: str | None) -> Lockout | None:
    """Counts one password check for the account name and for the client address, before the
    password is checked; returns a Lockout instead when either has used up its checks.

    Each count is one conditional UPDATE (or the INSERT that opens a window), so simultaneous
    attempts are counted one after another and at most MIANTAN_LOGIN_MAX_FAILURES of them
    reach the password hasher; the others are refused, the right password as well. The check
    that uses up the last one starts a lock of MIANTAN_LOGIN_LOCKOUT_SECONDS.
    """
    now = timezone.now()
    limits = [(_account_key(username), settings.MIANTAN_LOGIN_MAX_FAILURES)]
    if ip:
        limits.append((_address_key(ip), settings.MIANTAN_LOGIN_MAX_FAILURES_PER_ADDRESS))
    reserved: list[str] = []
    for key, limit in limits:
        if not _count(key, limit, now=now):
            for done in reserved:
                _give_back(done)
            until = SignInLimit.objects.filter(key=key).values_list("window_ends_at", flat=True)
            return Lockout(until=until.first() or now)
        reserved.append(key)
    return None


def note_refused_login(username: str, *, lockout: Lockout) -> None:
    record(
        "accounts.login.locked_out",
        actor=None,
        outcome=Outcome.DENIED,
        object_type="auth.user",
        data={"username": username[:150], "until": lockout.until.isoformat()},
    )


def note_failed_login(username: str) -> None:
    record(
        "accounts.login.failed",
        actor=None,
        outcome=Outcome.DENIED,
        object_type="auth.user",
        data={"username": username[:150]},
    )


def note_successful_login(user: Any, *, ip: str | None) -> None:
    """A right password clears the account's count and gives the address its check back."""
    with transaction.atomic():
        SignInLimit.objects.filter(key=_account_key(user.get_username())).delete()
        if ip:
            _give_back(_address_key(ip))
        record("accounts.login.succeeded", actor=user, obj=user)


def _count(key: str, limit: int, *, now: datetime) -> bool:
    """Takes one check from the key's window; False when none is left."""
    if _count_in_window(key, limit, now=now):
        return True
    if SignInLimit.objects.filter(key=key).exists():
        # Either the window is used up, or a simultaneous attempt opened it after the update
        # above found no row: once more, which counts in the second case only.
        return _count_in_window(key, limit, now=now)
    # A window that has ended counts like no row at all; clear them as new ones open.
    SignInLimit.objects.filter(window_ends_at__lte=now).delete()
    try:
        with transaction.atomic():
            SignInLimit.objects.create(key=key, checks=1, window_ends_at=_window_end(now))
        return True
    except IntegrityError:
        # A simultaneous attempt opened the window first: count against its row.
        return _count_in_window(key, limit, now=now)


def _count_in_window(key: str, limit: int, *, now: datetime) -> bool:
    # A window whose end has passed starts again at one check; the check that uses up the
    # last one moves the end to now plus the lock, so a lock always lasts the full period.
    expired = Q(window_ends_at__lte=now)
    counted = SignInLimit.objects.filter(Q(key=key) & (expired | Q(checks__lt=limit))).update(
        checks=Case(When(expired, then=Value(1)), default=F("checks") + 1),
        window_ends_at=Case(
            When(expired | Q(checks__gte=limit - 1), then=Value(_window_end(now))),
            default=F("window_ends_at"),
        ),
    )
    return counted > 0


def _window_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.MIANTAN_LOGIN_LOCKOUT_SECONDS)


def _give_back(key: str) -> None:
    SignInLimit.objects.filter(key=key, checks__gt=0).update(checks=F("checks") - 1)


def _account_key(username: str) -> str:
    return _digest(f"account:{username.strip().lower()}")


def _address_key(ip: str) -> str:
    return _digest(f"address:{ip}")


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
    """Only the token's owner revokes it (PermissionDenied; no actor: the command line)."""
    if actor is not None and token.user_id != actor.pk:
        raise PermissionDenied
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
