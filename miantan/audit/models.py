"""Append-only, hash-chained record of who read and changed what.

Rows are never updated or deleted through the ORM; anything done to the table behind the ORM's
back is found by `manage.py verify_audit`: every event is signed with a key held outside the
database over its contents and its predecessor's hash, and signed checkpoints of the chain's
head kept elsewhere show a tail that was cut off or rewritten.

Each organisation has a chain of its own (`chain` is the organisation's id); events without an
organisation, and every event written before the chains were split, are in the global chain
(`hashing.GLOBAL_CHAIN`). Sequence numbers run from 1 within a chain; `pk` orders events across
chains.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .enums import Outcome
from .hashing import chain_name


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit records cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")


class AppendOnly(models.Model):
    """Rows are inserted once; the ORM refuses to change or remove them."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit records cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit records cannot be deleted")


class AuditEvent(AppendOnly):
    chain = models.BigIntegerField(_("chain"))
    seq = models.BigIntegerField(_("sequence"))
    at = models.DateTimeField(_("time"), db_index=True)
    organisation_id = models.BigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor name"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    # The employee whose personal record was read or changed: drives "who viewed my records".
    subject_id = models.BigIntegerField(_("data subject"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    # HMAC-SHA256 with the key `key_id` of MIANTAN_AUDIT_KEYS (miantan.core.chain).
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, default="")

    objects: ClassVar[models.Manager[AuditEvent]] = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq_uniq")
        ]
        indexes = [
            models.Index(fields=["subject_id", "-id"], name="audit_subject_recent_idx"),
            # Verification reads each chain in storage order too (rows are written in sequence
            # order within a chain).
            models.Index(fields=["chain", "id"], name="audit_chain_position_idx"),
        ]

    def __str__(self) -> str:
        return f"{chain_name(self.chain)} #{self.seq} {self.action} {self.outcome}"

    @property
    def action_label(self) -> str:
        from .actions import label_for

        return label_for(self.action)


class AuditChainHead(models.Model):
    """One row per chain: its last sequence number and hash, locked while an event is appended
    to that chain (appends to other chains do not wait)."""

    chain = models.BigIntegerField(_("chain"), unique=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain head")
        ordering = ["chain"]

    def __str__(self) -> str:
        return f"{chain_name(self.chain)} #{self.seq} {self.hash[:12]}"


class AuditCheckpoint(AppendOnly):
    """A chain's head at a moment, signed (miantan.core.chain.Checkpoint). A copy is also
    written outside the database (MIANTAN_AUDIT_CHECKPOINT_FILE), where deleting the tail of
    the chain together with these rows cannot reach it."""

    chain = models.BigIntegerField(_("chain"))
    seq = models.BigIntegerField(_("sequence"))
    hash = models.CharField(max_length=64)
    first_hash = models.CharField(max_length=64)
    at = models.DateTimeField(_("time"))
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=64)

    objects: ClassVar[models.Manager[AuditCheckpoint]] = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit checkpoint")
        verbose_name_plural = _("audit checkpoints")
        ordering = ["chain", "seq", "pk"]
        indexes = [models.Index(fields=["chain", "seq"], name="audit_checkpoint_chain_idx")]

    def __str__(self) -> str:
        return f"{chain_name(self.chain)} #{self.seq} {self.hash[:12]} {self.at:%Y-%m-%d %H:%M}"
