"""The navigation a signed-in user sees follows their roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from miantan.interviews.enums import OPEN_STATES
from miantan.interviews.models import Talk
from miantan.people.rules import can_import_org
from miantan.people.scopes import scope_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    scope = scope_for(user)
    if scope.employee is None:
        return {"nav": []}
    items: list[tuple[str, Any, str]] = [("me", _("My profile"), reverse("web:me"))]
    if scope.has_reports:
        items.append(("team", _("My team"), reverse("web:team")))
    if scope.has_reports or scope.department_paths or scope.is_admin:
        items.append(("people", _("People"), reverse("web:people")))
    items.append(("departments", _("Departments"), reverse("web:departments")))
    items.append(("access_log", _("Who viewed my records"), reverse("web:access_log")))
    if scope.is_hr or scope.is_admin:
        if can_import_org.test(user):
            items.append(("org_import", _("Import organisation"), reverse("web:org_import")))
            items.append(("metrics_import", _("Import KPI values"), reverse("web:metrics_import")))
            items.append(("kpi_catalogue", _("KPI catalogue"), reverse("web:kpi_catalogue")))
        items.append(("cycles", _("Review cycles"), reverse("web:cycles")))
        items.append(("roles", _("Roles"), reverse("web:roles")))
    current = request.resolver_match.url_name if request.resolver_match else ""
    return {
        "nav": [
            {
                "key": k,
                "label": label,
                "url": url,
                "current": k == current or (current or "").startswith(k),
            }
            for k, label, url in items
        ],
        "current_employee": scope.employee,
    }


def talks_waiting(request: HttpRequest) -> dict[str, Any]:
    """The badge on the Talks entry: open talks waiting for the user's answer. One COUNT,
    run only when a template reads it (pages with the navigation)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        own = scope_for(user).employee
        if own is None or not own.is_active:
            return 0
        return Talk.objects.filter(awaiting_id=own.pk, state__in=sorted(OPEN_STATES)).count()

    return {"talks_waiting": count}
