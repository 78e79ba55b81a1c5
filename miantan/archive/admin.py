"""The archive on the technical admin site: for the installation's superusers only, and read
only (PRODUCT.md D3). An archived record changes through no path at all; the admin cannot add,
change or delete a signature, appeal or chain entry either, even of a record still being
signed.

What people wrote stays out of it: no snapshot (the record's text) is registered, and a
signature or appeal shows whether a disagreement, a reason or a drawn signature exists, not
what it says. Hashes, key ids and the chain's links are shown, so that a superuser can compare
them with `manage.py verify_archive`.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from miantan.records.admin import SuperuserReadOnlyAdmin

from .models import Appeal, ArchiveEntry, ArchiveHead, Signature


@admin.register(Signature)
class SignatureAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "organisation", "side", "signer", "signed_at", "dissent", "key_id"]
    list_filter = ["side", "dissent", "provider"]
    list_select_related = ["organisation", "signer"]
    fields = [
        "record",
        "organisation",
        "record_version",
        "side",
        "signer",
        "signed_at",
        "ip",
        "user_agent",
        "template_version",
        "snapshot_sha256",
        "method",
        "dissent",
        "drawn",
        "handwriting_sha256",
        "provider",
        "key_id",
        "server_signature",
    ]

    @admin.display(boolean=True, description=_("drawn signature"))
    def drawn(self, obj: Signature) -> bool:
        return bool(obj.handwriting_sha256)


@admin.register(Appeal)
class AppealAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "organisation", "state", "outcome", "opened_at", "resolved_at"]
    list_filter = ["state", "outcome"]
    list_select_related = ["organisation"]
    fields = [
        "record",
        "organisation",
        "signature",
        "record_version",
        "opened_by",
        "opened_at",
        "state",
        "outcome",
        "resolved_by",
        "resolved_at",
    ]


@admin.register(ArchiveEntry)
class ArchiveEntryAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "organisation", "seq", "record", "record_version", "archived_at"]
    list_select_related = ["organisation"]
    fields = [
        "organisation",
        "seq",
        "record",
        "record_version",
        "snapshot_sha256",
        "signatures",
        "archived_at",
        "prev_hash",
        "hash",
        "key_id",
    ]


@admin.register(ArchiveHead)
class ArchiveHeadAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "organisation", "seq", "hash"]
    list_select_related = ["organisation"]
    fields = ["organisation", "seq", "hash"]
