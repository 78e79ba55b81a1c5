"""The navigation a signed-in user sees follows their roles.

Six sections at most stand in the bar (home, talks, plans, team, people, departments), the pages
for HR and administrators sit in one "Manage" group, and the pages about oneself in the
account menu. Exactly one of them is marked as the current section, worked out from the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.urls import get_script_prefix
from django.urls import reverse as django_reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.interviews.cycle_rules import can_manage_cycles
from miantan.interviews.enums import OPEN_STATES
from miantan.interviews.models import Talk
from miantan.notifications.rules import may_manage_delivery
from miantan.nudges.rules import can_view_nudge_rules
from miantan.people.rules import can_import_org, can_manage_organisation, is_hr
from miantan.people.scopes import scope_for
from miantan.plans.rules import may_manage_catalogue
from miantan.records.rules import can_view_record_templates
from miantan.scheduling.rules import can_view_holidays, can_view_work_patterns

MANAGE = "manage"
ACCOUNT = "account"

# The navigation's addresses take no arguments, so each is worked out once per script prefix
# (the prefix is the same for every request of an installation) rather than on every page.
_URLS: dict[tuple[str, str], str] = {}


def reverse(name: str) -> str:
    key = (get_script_prefix(), name)
    url = _URLS.get(key)
    if url is None:
        url = _URLS[key] = django_reverse(name)
    return url


@dataclass
class NavItem:
    key: str
    label: Promise | str
    url: str
    current: bool = False
    testid: str = ""


@dataclass
class NavGroup:
    key: str
    label: Promise | str
    items: list[NavItem] = field(default_factory=list)
    current: bool = False


def management_items(user: Any) -> list[NavItem]:
    """The pages for HR partners and administrators that this user may open."""
    items: list[NavItem] = []
    if is_hr.test(user):
        items.append(NavItem("appeals", _("Appeals"), reverse("web:appeals")))
    if may_manage_catalogue(user):
        items.append(
            NavItem("training_catalogue", _("Training catalogue"), reverse("web:plan_courses"))
        )
    if can_manage_cycles.test(user):
        items.append(NavItem("cycles", _("Review cycles"), reverse("web:cycles")))
    if can_import_org.test(user):
        items.append(NavItem("org_import", _("Import organisation"), reverse("web:org_import")))
        items.append(
            NavItem("metrics_import", _("Import KPI values"), reverse("web:metrics_import"))
        )
        items.append(NavItem("kpi_catalogue", _("KPI catalogue"), reverse("web:kpi_catalogue")))
    if can_view_record_templates.test(user):
        items.append(
            NavItem("record_templates", _("Talk record templates"), reverse("web:record_templates"))
        )
        items.append(NavItem("scripts", _("Talk scripts"), reverse("web:scripts")))
    if can_view_nudge_rules.test(user):
        items.append(NavItem("nudge_rules", _("Nudges"), reverse("web:nudge_rules")))
    own = scope_for(user).employee
    if own is not None and can_view_work_patterns.test(user, own.organisation):
        items.append(NavItem("shift_codes", _("Shift codes"), reverse("web:shift_codes")))
        items.append(NavItem("working_hours", _("Working hours"), reverse("web:working_hours")))
    if can_view_holidays.test(user):
        items.append(NavItem("holidays", _("Holiday calendar"), reverse("web:holidays")))
    if can_manage_organisation.test(user):
        items.append(NavItem("roles", _("Roles"), reverse("web:roles")))
    if may_manage_delivery(scope_for(user)):
        items.append(NavItem("delivery", _("Message delivery"), reverse("web:delivery_admin")))
    return items


def account_items() -> list[NavItem]:
    """The pages about oneself, in the account menu."""
    return [
        NavItem("me", _("My profile"), reverse("web:me")),
        NavItem("access_log", _("Who viewed my records"), reverse("web:access_log")),
        NavItem("notifications", _("Notifications"), reverse("web:notifications")),
        NavItem(
            "notification_settings",
            _("Notification settings"),
            reverse("web:notification_settings"),
        ),
        NavItem("calendar_settings", _("Calendar subscription"), reverse("web:calendar_settings")),
        NavItem("tokens", _("API tokens"), reverse("accounts:tokens")),
    ]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": []}
    scope = scope_for(user)
    if scope.employee is None:
        return {"nav": []}
    items = [
        NavItem("home", pgettext_lazy("navigation", "Home"), reverse("web:home")),
        NavItem("talks", _("Talks"), reverse("web:talks"), testid="nav-talks"),
        NavItem("plans", _("Plans"), reverse("web:plans"), testid="nav-plans"),
    ]
    if scope.has_reports:
        items.append(NavItem("team", _("My team"), reverse("web:team")))
    if scope.has_reports or scope.department_paths or scope.is_admin:
        items.append(NavItem("people", _("People"), reverse("web:people")))
    items.append(NavItem("departments", _("Departments"), reverse("web:departments")))
    manage = NavGroup(MANAGE, pgettext_lazy("navigation", "Manage"), management_items(user))
    account = NavGroup(ACCOUNT, _("Account"), account_items())
    _mark_current(request.path, items, manage, account)
    return {
        "nav": items,
        "nav_manage": manage if manage.items else None,
        "nav_account": account,
        "current_employee": scope.employee,
    }


# Sections by the start of the path; the first that matches (and is in the bar) wins.
_SECTIONS = (
    ("/home/", ("home",)),
    ("/talks/", ("talks",)),
    ("/appeals/", ("talks",)),
    ("/plans/", ("plans",)),
    ("/team/", ("team", "people")),
    ("/people/", ("people", "team", ACCOUNT)),
    ("/departments/", ("departments",)),
    ("/me/", (ACCOUNT,)),
    ("/accounts/", (ACCOUNT,)),
)


def _mark_current(path: str, items: list[NavItem], manage: NavGroup, account: NavGroup) -> None:
    """Mark one section as current: a bar item, the Manage group (and its page) or the account
    menu (and its page)."""
    for group in (manage, account):
        page = _longest_prefix(path, group.items)
        if page is not None:
            page.current = group.current = True
            return
    present = {item.key: item for item in items}
    if path == "/":
        present["home"].current = True
        return
    for prefix, keys in _SECTIONS:
        if not path.startswith(prefix):
            continue
        for key in keys:
            if key == ACCOUNT:
                account.current = True
                return
            if key in present:
                present[key].current = True
                return
        return


def _longest_prefix(path: str, items: list[NavItem]) -> NavItem | None:
    matches = [item for item in items if path.startswith(item.url)]
    return max(matches, key=lambda item: len(item.url)) if matches else None


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
