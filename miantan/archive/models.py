"""Signatures, the snapshots they sign, appeals, and the archive's chain (PRODUCT.md D1–D4).

A record both sides confirmed is signed by each: the signature keeps its evidence (who, when
by the server's clock in UTC, from which address and browser, how they re-authenticated, the
template version, the SHA-256 of the record's canonical snapshot) and the server's Ed25519
signature over that evidence. Once both sides signed one version and no appeal is open on it,
the record is archived: it joins its organisation's chain (`ArchiveEntry`), and neither it,
its blocks, its snapshots, signatures nor chain entries can be changed any more (services have
no path; the admin is read-only; database triggers refuse UPDATE and DELETE).

Free text (snapshots, dissent reasons, appeal texts, handwritten signatures) is sealed at rest.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.core.fields import EncryptedTextField
from miantan.people.models import Employee, Organisation
from miantan.records.models import Record


class SigningSide(models.TextChoices):
    EMPLOYEE = "employee", pgettext_lazy("side", "employee")
    MANAGER = "manager", pgettext_lazy("side", "manager")


class AuthMethod(models.TextChoices):
    PASSWORD = "password", _("password")


class Snapshot(models.Model):
    """The canonical JSON of a record at one version (`archive.snapshots`), as signed."""

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="snapshots")
    version = models.PositiveIntegerField()
    content = EncryptedTextField(_("snapshot"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("record snapshot")
        verbose_name_plural = _("record snapshots")
        constraints = [
            models.UniqueConstraint(fields=["record", "version"], name="snapshot_once_per_version")
        ]

    def __str__(self) -> str:
        return f"snapshot of record {self.record_id} v{self.version}"


class AddendumState(models.TextChoices):
    AWAITING = "awaiting", pgettext_lazy("addendum state", "waiting for the other signature")
    ARCHIVED = "archived", pgettext_lazy("addendum state", "signed by both and archived")


class Addendum(models.Model):
    """补充说明: a later change to an archived record, which itself stays as it is. Written and
    signed by one of the talk's two people, signed by the other, then archived in the chain as
    an entry of its own. `amends_sha256` is the hash of the archived snapshot it adds to: the
    link to the original, inside what both sign (`content`, canonical JSON)."""

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="addenda")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    record_version = models.PositiveIntegerField()
    amends_sha256 = models.CharField(max_length=64)
    side = models.CharField(max_length=10, choices=SigningSide.choices)
    written_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField()
    text = EncryptedTextField(_("addendum"))
    content = EncryptedTextField(_("addendum as signed"))
    sha256 = models.CharField(max_length=64)
    state = models.CharField(
        max_length=10, choices=AddendumState.choices, default=AddendumState.AWAITING
    )
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("addendum")
        verbose_name_plural = _("addenda")
        ordering = ["record", "number"]
        constraints = [
            models.UniqueConstraint(fields=["record", "number"], name="addendum_number_once")
        ]

    def __str__(self) -> str:
        return f"addendum {self.number} to record {self.record_id}"


class Signature(models.Model):
    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="signatures")
    # Set for a signature of an addendum (its `snapshot_sha256` is then the addendum's hash).
    addendum = models.ForeignKey(
        Addendum, on_delete=models.PROTECT, null=True, blank=True, related_name="signatures"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    record_version = models.PositiveIntegerField()
    side = models.CharField(max_length=10, choices=SigningSide.choices)
    signer = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    template_version = models.PositiveIntegerField()
    snapshot_sha256 = models.CharField(max_length=64)
    method = models.CharField(max_length=12, choices=AuthMethod.choices)
    dissent = models.BooleanField(default=False)
    dissent_reason = EncryptedTextField(_("reason for disagreeing"), blank=True)
    # A drawn signature, PNG as base64 ("" when none was drawn).
    handwriting = EncryptedTextField(_("handwritten signature"), blank=True)
    handwriting_sha256 = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=40, default="builtin")
    key_id = models.CharField(max_length=40)
    server_signature = models.CharField(max_length=512)
    provider_evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["record", "record_version", "signed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "record_version", "side"],
                condition=models.Q(addendum__isnull=True),
                name="one_signature_per_side",
            ),
            models.UniqueConstraint(
                fields=["addendum", "side"],
                condition=models.Q(addendum__isnull=False),
                name="one_addendum_signature_per_side",
            ),
        ]

    def __str__(self) -> str:
        if self.addendum_id is not None:
            return f"{self.side} signature of addendum {self.addendum_id}"
        return f"{self.side} signature of record {self.record_id} v{self.record_version}"


class AppealState(models.TextChoices):
    OPEN = "open", pgettext_lazy("appeal state", "open")
    RESOLVED = "resolved", pgettext_lazy("appeal state", "resolved")


class AppealOutcome(models.TextChoices):
    # The record stands as signed; the disagreement stays in the file.
    UPHELD = "upheld", pgettext_lazy("appeal outcome", "record upheld")
    # The record is reopened for both sides to amend; they confirm and sign the new version.
    AMENDED = "amended", pgettext_lazy("appeal outcome", "record to be amended")
    # The employee took the appeal back; the record stands as signed.
    WITHDRAWN = "withdrawn", pgettext_lazy("appeal outcome", "appeal withdrawn")


class Appeal(models.Model):
    """申诉: opened by the employee signing with "I disagree", resolved by HR in scope."""

    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="appeals")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="appeal")
    record_version = models.PositiveIntegerField()
    opened_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    reason = EncryptedTextField(_("reason"))
    state = models.CharField(max_length=10, choices=AppealState.choices, default=AppealState.OPEN)
    outcome = models.CharField(max_length=10, choices=AppealOutcome.choices, blank=True)
    resolution = EncryptedTextField(_("resolution"), blank=True)
    resolved_by = models.ForeignKey(
        Employee, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "state"], name="appeal_org_state_idx")]

    def __str__(self) -> str:
        return f"appeal on record {self.record_id} v{self.record_version}"


class ArchiveEntry(models.Model):
    """One archived record in its organisation's chain (miantan.core.chain, sealed with the
    deployment's Ed25519 key): the snapshot's hash and both signatures, linked to the entry
    before it."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="archive_entries")
    record_version = models.PositiveIntegerField()
    # Set for the entry of an addendum to the record (`snapshot_sha256` is then its hash).
    addendum = models.OneToOneField(
        Addendum, on_delete=models.PROTECT, null=True, blank=True, related_name="entry"
    )
    snapshot_sha256 = models.CharField(max_length=64)
    # The server signatures of the signatures it archives, by side.
    signatures = models.JSONField(default=dict)
    archived_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=128)
    hash = models.CharField(max_length=128)
    key_id = models.CharField(max_length=40)

    class Meta:
        verbose_name = _("archive entry")
        verbose_name_plural = _("archive entries")
        ordering = ["organisation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="archive_seq_once"),
            models.UniqueConstraint(
                fields=["record", "record_version"],
                condition=models.Q(addendum__isnull=True),
                name="archive_record_version_once",
            ),
        ]

    def __str__(self) -> str:
        return f"archive #{self.seq} of organisation {self.organisation_id}"

    def link_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "organisation": self.organisation_id,
            "record": self.record_id,
            "version": self.record_version,
            "snapshot_sha256": self.snapshot_sha256,
            "signatures": self.signatures,
            "archived_at": self.archived_at,
        }
        if self.addendum_id is not None:
            fields["addendum"] = self.addendum_id
        return fields


class ArchiveHead(models.Model):
    """The newest entry of an organisation's chain, written with it: an entry cut off the end
    (or a forged one added) disagrees with it. Its row is the lock appends take in turn."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("archive head")
        verbose_name_plural = _("archive heads")

    def __str__(self) -> str:
        return f"archive head of organisation {self.organisation_id}: #{self.seq}"
