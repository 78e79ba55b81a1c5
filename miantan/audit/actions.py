"""Human labels for audit action codes, shown to data subjects in their access log."""

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "people.employee.viewed": _("opened the profile"),
    "people.employee.created": _("created the profile"),
    "people.employee.updated": _("changed the profile"),
    "people.employee.manager_changed": _("changed the manager"),
    "people.employee.left": _("recorded the leaving date"),
    "people.employee.language_changed": _("changed the language"),
    "people.role.assigned": _("assigned a role"),
    "people.role.revoked": _("revoked a role"),
}


def label_for(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
