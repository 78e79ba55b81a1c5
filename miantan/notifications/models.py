"""Notifications: due rows (DESIGN.md "Timed work"), one per message and channel.

A row is queued with the data it needs (`context`, an ICS file captured at that moment) and
is worded only when it is sent, in the recipient's language and time zone. The worker claims
due rows (`claimed_by` / `claimed_until`), sends them and sets `sent_at`; an inbox row is
"sent" when it appears in the recipient's inbox.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from miantan.core.fields import EncryptedTextField
from miantan.people.models import Employee, Organisation

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
    claimed_by = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
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
