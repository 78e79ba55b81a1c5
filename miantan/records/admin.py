"""Talk records on the technical admin site: for the installation's superusers only, read
only, and without the records' text.

What people wrote (sections, revisions, comments, notes, file names and contents, after-talk
feedback) is read through the scoped, audited pages and API, never here: the pages below show
what a record is made of (its state, its template, who wrote a note in which tier, which files
of which size, who was mentioned where), not what it says. Sections, revisions and comments are
not registered at all. A note shows "sealed" where its text would be: a private note is
sealed under its author's key and nobody else, superusers included, is given it.
Organisation administrators (staff, not superusers) get 403 here, as for every model outside
their organisation's structure.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .models import Attachment, Feedback, Mention, Note, Record, Template, TemplateVersion


class SuperuserReadOnlyAdmin(admin.ModelAdmin):
    """Looked at by superusers; changed only through the services, never here."""

    def _superuser(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields or ()


@admin.register(Template)
class TemplateAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "key", "organisation", "builtin", "is_active", "current"]
    list_filter = ["is_active"]
    list_select_related = ["organisation", "current"]
    fields = ["organisation", "key", "name", "description", "topics", "builtin", "is_active"]


@admin.register(TemplateVersion)
class TemplateVersionAdmin(SuperuserReadOnlyAdmin):
    list_display = ["template", "number", "created_at"]
    list_select_related = ["template"]
    fields = ["template", "number", "created_by", "created_at", "definition"]


@admin.register(Record)
class RecordAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "organisation", "state", "version", "created_at", "confirmed_at"]
    list_filter = ["state"]
    list_select_related = ["organisation"]
    # Not `hints`: it quotes the employee's figures and last plan.
    fields = [
        "talk",
        "organisation",
        "template_version",
        "state",
        "version",
        "employee_confirmed_at",
        "employee_confirmed_version",
        "manager_confirmed_at",
        "manager_confirmed_version",
        "confirmed_at",
        "created_at",
        "updated_at",
    ]


@admin.register(Note)
class NoteAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "record", "author", "tier", "text", "created_at", "promoted_at"]
    list_filter = ["tier"]
    list_select_related = ["record", "author"]
    fields = ["record", "author", "tier", "text", "created_at", "updated_at", "promoted_at"]

    @admin.display(description=pgettext_lazy("note", "text"))
    def text(self, note: Note) -> str:
        # Never opened here, whatever the tier: see the module's docstring.
        return str(_("sealed"))


@admin.register(Attachment)
class AttachmentAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "record", "section", "uploaded_by", "content_type", "size"]
    list_select_related = ["record", "uploaded_by"]
    # Not `name` (sealed; people name files after what they hold) nor the file itself.
    fields = [
        "record",
        "section",
        "uploaded_by",
        "content_type",
        "size",
        "sha256",
        "created_at",
        "removed_at",
    ]


@admin.register(Mention)
class MentionAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "record", "section", "employee", "mentioned_by", "created_at"]
    list_select_related = ["record", "employee", "mentioned_by"]
    fields = ["record", "section", "employee", "mentioned_by", "created_at"]


@admin.register(Feedback)
class FeedbackAdmin(SuperuserReadOnlyAdmin):
    list_display = ["__str__", "record", "satisfaction", "employee_at", "manager_at"]
    list_select_related = ["record"]
    # The ratings, not the takeaways and requirements people wrote.
    fields = ["record", "satisfaction", "employee_at", "manager_at"]
