"""Notifications: due rows (DESIGN.md "Timed work"), one per message and channel.

A row is queued with the data it needs (`context`, an ICS file captured at that moment) and
is worded only when it is sent, in the recipient's language and time zone. The worker claims
due rows (`claimed_by` / `claimed_until`, a lease on the database's clock), records the
attempt (`sending_since`, `attempts`) before it sends, and sets `sent_at` after; an inbox row
is "sent" when it appears in the recipient's inbox. Each row's idempotency key (`message_id`)
goes with every send of it, so a receiver can tell a repeat from a new message.

`Preference` is what a person chose (channels, quiet hours, rest after night shifts, a daily
digest); `Endpoint` is a group robot or webhook an administrator set up for the organisation
or for a department.
"""

from __future__ import annotations

import hashlib
from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedTextField
from miantan.people.models import Department, Employee, Organisation

from .enums import Channel

_PENDING = Q(sent_at__isnull=True, cancelled_at__isnull=True, failed_at__isnull=True)


class Notification(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(
        Employee,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=60)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    # Unique per message and channel: queuing the same message twice creates nothing.
    key = models.CharField(max_length=200, unique=True)
    context = models.JSONField(default=dict, blank=True)
    # The calendar file and the worded text carry what people typed (an agenda, a request's
    # message, a reason): sealed at rest like the talk they come from.
    ics = EncryptedTextField(_("calendar file"), blank=True)
    ics_method = models.CharField(max_length=10, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    # Who the message comes from, when a person sends it (a manager's invitation): the mail
    # carries their name and answers go to them.
    sender = models.ForeignKey(
        Employee, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Urgent messages go out in quiet hours and are never held for the digest.
    urgent = models.BooleanField(_("urgent"), default=False)
    # Held for the recipient's daily digest: sent together with the others due with it.
    digest = models.BooleanField(_("in the digest"), default=False)
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Written and committed just before a send: a row with it and without `sent_at` was in
    # flight when its worker stopped, and may have reached its receiver.
    sending_since = models.DateTimeField(_("sending since"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    failed_at = models.DateTimeField(_("given up"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = EncryptedTextField(_("text"), blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-due_at", "-pk"]
        indexes = [
            models.Index(fields=["due_at"], condition=_PENDING, name="notification_due_idx"),
            models.Index(
                fields=["recipient", "channel", "-sent_at"], name="notification_inbox_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id} ({self.channel})"

    @property
    def is_pending(self) -> bool:
        return self.sent_at is None and self.cancelled_at is None and self.failed_at is None

    @property
    def idempotency_key(self) -> str:
        """The same for every send of this row, different for every other row."""
        return hashlib.sha256(f"{settings.SECRET_KEY[:8]}:{self.key}".encode()).hexdigest()[:32]

    @property
    def message_id(self) -> str:
        """The mail's Message-ID, built from the idempotency key."""
        return f"<{self.idempotency_key}@{settings.MIANTAN_MAIL_DOMAIN}>"


def _default_channels() -> list[str]:
    return ["email", "inbox"]


class Preference(models.Model):
    """How one person wants to be told: channels, quiet hours, rest after night shifts, and
    whether messages that are not urgent wait for a daily digest."""

    employee = models.OneToOneField(
        Employee, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels = models.JSONField(_("channels"), default=_default_channels)
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    rest_after_night = models.BooleanField(
        _("quiet while resting after a night shift"), default=True
    )
    digest = models.BooleanField(_("daily digest"), default=False)
    digest_at = models.TimeField(_("digest time"), default=time(8, 30))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"preferences of {self.employee_id}"


class Endpoint(models.Model):
    """A group robot (WeCom, DingTalk, Feishu) or an incoming webhook (Slack, Teams) that
    messages of this organisation, or of one department and those under it, are posted to."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    department = models.ForeignKey(
        Department,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("department"),
    )
    name = models.CharField(_("name"), max_length=100)
    # The webhook address carries the robot's key or token: sealed at rest like the secret.
    url = EncryptedTextField(_("webhook address"))
    secret = EncryptedTextField(_("signing secret"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("channel endpoint")
        verbose_name_plural = _("channel endpoints")
        ordering = ["channel", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "channel", "department"],
                name="endpoint_unique_per_department",
            ),
            models.UniqueConstraint(
                fields=["organisation", "channel"],
                condition=models.Q(department__isnull=True),
                name="endpoint_unique_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.name}"
