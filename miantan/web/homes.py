"""The start pages: which ones a signed-in person has, which one they land on, and the reads
that combine apps (failed imports of the organisation and of KPI values).

Everyone with an employee record has the employee's page; managers and department heads the
team page; HR partners and administrators the HR page; executives and administrators the
overview of aggregates; administrators the set-up page. A person lands on the most specific
one and reaches the others through tabs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.interviews.cycle_rules import can_manage_cycles
from miantan.metrics.enums import ImportStatus as MetricsImportStatus
from miantan.metrics.uploads import metrics_imports_visible_to
from miantan.people.enums import ImportStatus
from miantan.people.importing import org_imports_visible_to
from miantan.people.rules import can_see_organisation_aggregates
from miantan.people.scopes import scope_for

EMPLOYEE, MANAGER, HR, EXECUTIVE, ADMIN = "employee", "manager", "hr", "executive", "admin"


@dataclass(frozen=True)
class Home:
    key: str
    label: Promise
    url_name: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


# In the order of the tabs; the last one a person has is where they land.
HOMES = (
    Home(EMPLOYEE, pgettext_lazy("start page", "Me"), "web:home_employee"),
    Home(MANAGER, pgettext_lazy("start page", "My team"), "web:home_manager"),
    Home(EXECUTIVE, pgettext_lazy("start page", "Overview"), "web:home_executive"),
    Home(HR, pgettext_lazy("start page", "HR"), "web:home_hr"),
    Home(ADMIN, pgettext_lazy("start page", "Set-up"), "web:home_admin"),
)


def homes_of(user: Any) -> list[Home]:
    """The start pages the user may open (none for a login without an active employee)."""
    scope = scope_for(user)
    own = scope.employee
    if own is None or not own.is_active:
        return []
    has = {
        EMPLOYEE: True,
        MANAGER: scope.has_reports or scope.is_department_head,
        EXECUTIVE: bool(can_see_organisation_aggregates.test(user)),
        HR: bool(can_manage_cycles.test(user)),
        ADMIN: scope.is_admin,
    }
    return [home for home in HOMES if has[home.key]]


def landing_home(user: Any) -> Home | None:
    """Where the user lands after signing in: their most specific start page."""
    homes = homes_of(user)
    return homes[-1] if homes else None


# --- imports that went wrong --------------------------------------------------------------------


@dataclass(frozen=True)
class FailedImport:
    kind: str
    label: Promise
    upload: Any
    url: str

    @property
    def problems(self) -> int:
        return len((self.upload.report or {}).get("errors", []))


IMPORT_KINDS: tuple[tuple[str, Promise, str], ...] = (
    ("org", pgettext_lazy("import kind", "Organisation"), "web:org_import_detail"),
    ("metrics", pgettext_lazy("import kind", "KPI values"), "web:metrics_import_detail"),
)


def failed_imports(
    user: Any, *, days: int = 30, limit: int = 5, now: datetime | None = None
) -> list[FailedImport]:
    """Organisation and KPI imports of the last `days` days that were rejected or failed and
    have not been followed by a successful import of the same kind, newest first. Four
    queries; none for someone who may not import."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    found: list[FailedImport] = []
    sources: dict[str, QuerySet[Any]] = {
        "org": org_imports_visible_to(user),
        "metrics": metrics_imports_visible_to(user),
    }
    bad = {
        "org": (ImportStatus.FAILED, ImportStatus.REJECTED),
        "metrics": (MetricsImportStatus.FAILED, MetricsImportStatus.REJECTED),
    }
    for kind, label, url_name in IMPORT_KINDS:
        imports = sources[kind]
        last_success = imports.filter(status="done").aggregate(at=Max("created_at"))["at"]
        after = max(since, last_success) if last_success else since
        rows = imports.filter(status__in=bad[kind], created_at__gt=after).order_by(
            "-created_at", "-pk"
        )
        found.extend(
            FailedImport(kind, label, row, reverse(url_name, args=[row.pk])) for row in rows[:limit]
        )
    found.sort(key=lambda item: item.upload.created_at, reverse=True)
    return found[:limit]
