"""Reads of notifications, scoped to the viewer: everyone reads only their own inbox."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from miantan.people.scopes import scope_for

from .enums import Channel
from .models import Notification


def inbox_of(user: Any) -> QuerySet[Notification]:
    """The signed-in user's inbox notifications that have arrived, newest first."""
    own = scope_for(user).employee
    if own is None or not own.is_active:
        return Notification.objects.none()
    return Notification.objects.filter(
        recipient_id=own.pk, channel=Channel.INBOX, sent_at__isnull=False
    ).order_by("-sent_at", "-pk")


def unread_count(user: Any) -> int:
    return inbox_of(user).filter(read_at__isnull=True).count()
