"""A nudge rule of an organisation, and the mark that spaces scans out among workers.

A nudge is a notification (notifications.Notification) whose key names the rule, the person
and the occasion (`nudge:<rule>:<person>:<occasion>`): the unique key is what makes a rule run
twice, or by two workers at once, queue nothing new."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from miantan.core.models import TimeStampedModel
from miantan.people.models import Organisation

from .enums import NudgeKind


class NudgeRule(TimeStampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="nudge_rules"
    )
    kind = models.CharField(_("kind"), max_length=30, choices=NudgeKind.choices)
    # Empty: the kind's own name and description, in the reader's language.
    name = models.CharField(_("name"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    params = models.JSONField(_("settings"), default=dict, blank=True)
    enabled = models.BooleanField(_("on"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_count = models.PositiveIntegerField(_("nudged at the last run"), default=0)

    class Meta:
        verbose_name = _("nudge rule")
        verbose_name_plural = _("nudge rules")
        ordering = ["organisation", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind"], name="nudge_rule_kind_unique"),
        ]

    def __str__(self) -> str:
        return self.name or str(self.get_kind_display())


class ScanMark(models.Model):
    """When the last scan started: a worker scans only when it moves this mark forward itself
    (one conditional UPDATE), so several workers scan at most once per interval."""

    name = models.CharField(max_length=30, unique=True)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("nudge scan")
        verbose_name_plural = _("nudge scans")

    def __str__(self) -> str:
        return f"{self.name}: {self.started_at}"
