"""Queuing and delivering notifications.

`notify` writes due rows (idempotent on the key), `cancel_pending` withdraws rows that are
no longer wanted, and `deliver_due` (the worker loop) claims due rows and sends each one once:
several workers never claim the same row, and a row claimed by a worker that died is claimed
again when its lease has run out. Between the mail server accepting a message and `sent_at`
being written there is a short window in which a crash sends the message a second time; a
message is never lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.mime.text import MIMEText
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone

from miantan.people.models import Employee
from miantan.people.scopes import scope_for

from .enums import Channel
from .models import Notification
from .rendering import render

logger = logging.getLogger(__name__)

# How long a claimed row belongs to its worker; past it, another worker may take it over.
LEASE = timedelta(minutes=10)
# Waits after the 1st, 2nd, … failed attempt; after the last one the row is given up.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
ALL_CHANNELS = (Channel.EMAIL, Channel.INBOX)


@dataclass(frozen=True)
class CalendarFile:
    """An ICS file sent with a mail (`method` REQUEST or CANCEL, as in its METHOD line)."""

    content: bytes
    method: str


def notify(
    recipient: Employee,
    kind: str,
    *,
    key: str,
    obj: Model | None,
    due_at: datetime | None = None,
    context: dict[str, Any] | None = None,
    ics: CalendarFile | None = None,
    channels: Sequence[str] = ALL_CHANNELS,
) -> list[Notification]:
    """Queue one message to `recipient` on each channel (no mail to someone without an
    address), due at `due_at` (now by default). `key` names the message: a second call with
    the same key creates nothing. Returns the rows created. The ICS file goes with the mail."""
    due_at = due_at or timezone.now()
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None else ""
    created = []
    for channel in channels:
        if channel == Channel.EMAIL and not recipient.email:
            continue
        attachment = ics if channel == Channel.EMAIL else None
        row, new = Notification.objects.get_or_create(
            key=_row_key(key, channel),
            defaults={
                "organisation_id": recipient.organisation_id,
                "recipient": recipient,
                "kind": kind,
                "channel": channel,
                "object_type": object_type,
                "object_id": object_id,
                "context": context or {},
                "due_at": due_at,
                "ics": attachment.content.decode() if attachment else "",
                "ics_method": attachment.method if attachment else "",
            },
        )
        if new:
            created.append(row)
    return created


def cancel_pending(key_prefix: str, *, keep: str | None = None) -> int:
    """Withdraw the unsent rows whose key starts with `key_prefix`, except those of the
    message `keep` (a key given to `notify`). Returns how many were withdrawn."""
    rows = _pending().filter(key__startswith=key_prefix)
    if keep is not None:
        rows = rows.exclude(key__startswith=_row_key(keep, ""))
    # A row a worker is sending right now keeps its claim: the worker still records the send.
    return rows.update(cancelled_at=timezone.now())


def claim_due(
    *, now: datetime | None = None, limit: int = 100, worker: str | None = None
) -> list[Notification]:
    """Take up to `limit` due rows for this worker and return them.

    PostgreSQL skips rows another worker has locked; on SQLite the write lock taken at the
    start of the transaction queues the workers. On both, the UPDATE repeats the condition,
    so a row another worker claimed in between is left to it."""
    now = now or timezone.now()
    worker = worker or uuid.uuid4().hex
    with transaction.atomic():
        ids = _candidate_ids(now, limit)
        claimed = (
            _claimable(now)
            .filter(pk__in=ids)
            .update(claimed_by=worker, claimed_until=now + LEASE, attempts=F("attempts") + 1)
        )
    if not claimed:
        return []
    return list(
        Notification.objects.filter(claimed_by=worker, sent_at__isnull=True)
        .select_related("recipient")
        .order_by("due_at", "pk")
    )


def deliver_due(now: datetime | None = None, limit: int = 100) -> int:
    """Send the due rows (mail through Django's mail backend, inbox rows by showing them).
    Returns how many were sent. A failure is kept in `last_error` and retried later."""
    now = now or timezone.now()
    rows = claim_due(now=now, limit=limit)
    mailer = _Mailer()
    sent = 0
    try:
        for row in rows:
            sent += _deliver(row, now=now, mailer=mailer)
    finally:
        mailer.close()
    return sent


def mark_read(notification: Notification, *, user: Any) -> Notification:
    """The recipient has read an inbox notification (nobody else may mark it)."""
    own = scope_for(user).employee
    if own is None or own.pk != notification.recipient_id:
        raise PermissionDenied
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


# --- delivery ---------------------------------------------------------------------------------


def _deliver(row: Notification, *, now: datetime, mailer: _Mailer) -> int:
    if not row.recipient.is_active:
        _close(row, cancelled_at=timezone.now())
        return 0
    try:
        worded = render(row)
        if worded is not None and row.channel == Channel.EMAIL:
            mailer.send(_mail(row, *worded))
    except Exception as error:
        _failed(row, error, now=now)
        return 0
    if worded is None:
        _close(row, cancelled_at=timezone.now())
        return 0
    subject, body = worded
    return _close(row, sent_at=timezone.now(), subject=subject, body=body, last_error="")


def _mail(row: Notification, subject: str, body: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject, body, to=[row.recipient.email])
    if row.ics:
        part = MIMEText(row.ics, "calendar", "utf-8")
        part.set_param("method", row.ics_method or "REQUEST")
        part.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message.attach(part)
    return message


def _failed(row: Notification, error: Exception, *, now: datetime) -> None:
    # The id and the error class only: the message may carry an address (no personal data
    # in logs).
    logger.warning("notification %s failed: %s", row.pk, type(error).__name__)
    attempts = row.attempts
    changes: dict[str, Any] = {"last_error": f"{type(error).__name__}: {error}"[:2000]}
    if attempts >= MAX_ATTEMPTS:
        changes["failed_at"] = now
    else:
        changes["due_at"] = now + BACKOFF[max(attempts, 1) - 1]
    _close(row, **changes)


def _close(row: Notification, **changes: Any) -> int:
    """Write the outcome and release the claim, if the row is still this worker's."""
    return Notification.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
        claimed_by="", claimed_until=None, **changes
    )


class _Mailer:
    """One SMTP connection for a round, opened at the first mail, reopened after a failure."""

    def __init__(self) -> None:
        self.connection: Any = None

    def send(self, message: EmailMultiAlternatives) -> None:
        if self.connection is None:
            self.connection = get_connection()
            self.connection.open()
        message.connection = self.connection
        try:
            message.send()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


# --- claiming ---------------------------------------------------------------------------------


def _pending() -> QuerySet[Notification]:
    return Notification.objects.filter(
        sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True
    )


def _claimable(now: datetime) -> QuerySet[Notification]:
    return _pending().filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lte=now), due_at__lte=now
    )


def _candidate_ids(now: datetime, limit: int) -> list[int]:
    due = _claimable(now).order_by("due_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due.values_list("pk", flat=True)[:limit])


def _row_key(key: str, channel: str) -> str:
    return f"{key}#{channel}"
