"""Calendar subscription links: a secret URL that calendar apps poll for a person's talks.

The link works without signing in, so it carries a random token; only its SHA-256 is kept
and the token is shown once, like a personal API token. Creating a link revokes the previous
one; every change and every fetch of a feed is audited (`scheduling.feed_token.created`,
`.revoked`, `scheduling.feed.read`), with the employee as data subject.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from miantan.audit.services import record
from miantan.people.models import Employee
from miantan.people.rules import is_self

from .calendar import feed_ics
from .models import CalendarFeedToken

TOKEN_PREFIX = "cal_"  # noqa: S105 (a public marker, not a secret)


def create_feed_token(employee: Employee, *, actor: Any) -> str:
    """A new subscription token for the employee (the old one stops working). Returns the
    token; it is not stored and cannot be shown again. Only the person themself (no actor:
    the command line)."""
    _ensure_own(actor, employee)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        _revoke_active(employee, actor=actor)
        feed = CalendarFeedToken.objects.create(employee=employee, digest=_digest(token))
        record(
            "scheduling.feed_token.created",
            actor=actor,
            obj=feed,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
        )
    return token


def revoke_feed_token(employee: Employee, *, actor: Any) -> bool:
    """Stop the employee's subscription link; False when there was none. Only the person
    themself (no actor: the command line)."""
    _ensure_own(actor, employee)
    with transaction.atomic():
        return _revoke_active(employee, actor=actor)


def active_feed_token(employee: Employee) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(employee=employee, revoked_at__isnull=True).first()


def employee_for_feed_token(token: str) -> Employee | None:
    """The active employee behind an active token, or None."""
    feed = _feed_for(token)
    return feed.employee if feed is not None else None


def read_feed(token: str) -> bytes | None:
    """The ICS feed behind the token (audited as a read of the employee's talks), or None
    for an unknown, revoked or departed employee's token."""
    feed = _feed_for(token)
    if feed is None:
        return None
    employee = feed.employee
    now = timezone.now()
    with transaction.atomic():
        # Calendar apps poll every few minutes: note the use at most every five.
        if feed.last_used_at is None or now - feed.last_used_at > timedelta(minutes=5):
            CalendarFeedToken.objects.filter(pk=feed.pk).update(last_used_at=now)
        record(
            "scheduling.feed.read",
            actor=None,
            obj=feed,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
        )
    return feed_ics(employee)


def _feed_for(token: str) -> CalendarFeedToken | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    feed = (
        CalendarFeedToken.objects.select_related("employee")
        .filter(digest=_digest(token), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not feed.employee.is_active:
        return None
    return feed


def _revoke_active(employee: Employee, *, actor: Any) -> bool:
    active = list(
        CalendarFeedToken.objects.select_for_update().filter(
            employee=employee, revoked_at__isnull=True
        )
    )
    now = timezone.now()
    for feed in active:
        feed.revoked_at = now
        feed.save(update_fields=["revoked_at"])
        record(
            "scheduling.feed_token.revoked",
            actor=actor,
            obj=feed,
            subject_id=employee.pk,
            organisation_id=employee.organisation_id,
        )
    return bool(active)


def _ensure_own(actor: Any, employee: Employee) -> None:
    if actor is not None and not is_self.test(actor, employee):
        raise PermissionDenied


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
