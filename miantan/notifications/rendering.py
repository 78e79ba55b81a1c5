"""Wording a notification at send time, in the recipient's language and time zone.

The app that queues a kind of notification registers, per object type, a function that loads
what the templates need (`register_context`, called from that app's messages.py). Templates
are `notifications/<kind>_subject.txt` and `_body.txt` (dots in the kind become
underscores), falling back to the ones named after the kind's first part ("talk").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import select_template
from django.utils import timezone, translation

from .models import Notification

ContextBuilder = Callable[[Notification], dict[str, Any] | None]

_builders: dict[str, ContextBuilder] = {}


def register_context(object_type: str, builder: ContextBuilder) -> None:
    """`builder(notification)` returns the template context, or None when the message is
    no longer worth sending (the object is gone, or has moved on)."""
    _builders[object_type] = builder


def render(notification: Notification) -> tuple[str, str] | None:
    """(subject, body) in the recipient's language and time zone; None to drop the message."""
    recipient = notification.recipient
    with translation.override(recipient.language), timezone.override(recipient.time_zone):
        context: dict[str, Any] = {
            **notification.context,
            "notification": notification,
            "recipient": recipient,
            "time_zone": recipient.time_zone,
        }
        builder = _builders.get(notification.object_type)
        if builder is not None:
            extra = builder(notification)
            if extra is None:
                return None
            context.update(extra)
        subject = select_template(_names(notification.kind, "subject")).render(context)
        body = select_template(_names(notification.kind, "body")).render(context)
    return " ".join(subject.split())[:255], body.strip() + "\n"


def _names(kind: str, part: str) -> list[str]:
    names = [f"notifications/{kind.replace('.', '_')}_{part}.txt"]
    family = kind.split(".", 1)[0]
    if family != kind:
        names.append(f"notifications/{family}_{part}.txt")
    return names
