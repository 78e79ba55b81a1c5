"""The first-run checklist: what a new organisation still lacks before talks work well.

`setup_checklist(organisation, viewer=user)` returns the items in order (people, KPI catalogue,
KPI values, working hours, public holidays, shift codes), each done or not, with a short detail
and the page that fixes it. With a viewer, a link they may not open is left out (`url` None).
Shift codes are optional unless the organisation imports rosters.

It costs the same few queries whatever the size of the organisation: one for all the counts,
two for the holiday years, and at most one for the viewer's reach. Show it with
`{% include "web/_setup_checklist.html" with checklist=checklist %}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from miantan.metrics.models import Kpi, KpiValue
from miantan.people.enums import EmploymentStatus, Role
from miantan.people.models import Employee, Organisation
from miantan.people.rules import can_import_org
from miantan.scheduling.models import RosterEntry, ShiftCode, WorkingHours
from miantan.scheduling.queries import year_states
from miantan.scheduling.rules import can_view_holidays, can_view_work_patterns


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    detail: str
    # The page that fixes it; None when the viewer may not open it.
    url: str | None
    # Needed only by some organisations (shift codes: only with rosters).
    optional: bool = False


class Checklist(list[ChecklistItem]):
    """The items, in order, and whether everything that is needed is done."""

    @property
    def missing(self) -> int:
        return sum(1 for item in self if not item.done and not item.optional)

    @property
    def complete(self) -> bool:
        return self.missing == 0


def setup_checklist(
    organisation: Organisation, viewer: Any = None, *, today: date | None = None
) -> Checklist:
    """What the organisation has and lacks, as checklist items (see the module docstring)."""
    today = today or timezone.localdate()
    facts = _facts(organisation)
    years = year_states(organisation.pk, [today.year, today.year + 1])
    reach = _Reach(viewer, organisation)
    return Checklist(
        [
            _people(facts, reach),
            _kpis(facts, reach),
            _values(facts, reach),
            _working_hours(facts, reach),
            _holidays(years, reach),
            _shift_codes(facts, reach),
        ]
    )


def _count(queryset: Any) -> Coalesce:
    """A correlated COUNT of `queryset` (already filtered on OuterRef("pk"))."""
    counted = queryset.order_by().values("organisation").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _facts(organisation: Organisation) -> dict[str, Any]:
    """Every count and yes/no the items need, in one query."""
    here = OuterRef("pk")
    staff = Employee.objects.filter(organisation=here, status=EmploymentStatus.ACTIVE).exclude(
        role_assignments__role=Role.ADMIN
    )
    return (
        Organisation.objects.filter(pk=organisation.pk)
        .annotate(
            staff=_count(staff),
            kpi_count=_count(Kpi.objects.filter(organisation=here)),
            # Through the KPIs: the values table has no index on the organisation.
            has_values=Exists(KpiValue.objects.filter(kpi__organisation=here)),
            shift_codes=_count(ShiftCode.objects.filter(organisation=here, retired_at=None)),
            rostered=Exists(RosterEntry.objects.filter(organisation=here)),
            has_hours=Exists(WorkingHours.objects.filter(organisation=here, employee=None)),
        )
        .values("staff", "kpi_count", "has_values", "shift_codes", "rostered", "has_hours")
        .get()
    )


class _Reach:
    """Which of the pages the viewer may open (everything when there is no viewer)."""

    def __init__(self, viewer: Any, organisation: Organisation) -> None:
        self.viewer = viewer
        self.organisation = organisation
        self._imports: bool | None = None

    def url(self, name: str) -> str | None:
        if self.viewer is not None and not self._may_open(name):
            return None
        return reverse(name)

    def _may_open(self, name: str) -> bool:
        if name in ("web:org_import", "web:kpi_catalogue", "web:metrics_import"):
            if self._imports is None:
                self._imports = bool(can_import_org.test(self.viewer))
            return self._imports
        if name == "web:holidays":
            return bool(can_view_holidays.test(self.viewer))
        return bool(can_view_work_patterns.test(self.viewer, self.organisation))


def _people(facts: dict[str, Any], reach: _Reach) -> ChecklistItem:
    count = facts["staff"]
    detail = (
        ngettext(
            "%(count)s person besides the administrators.",
            "%(count)s people besides the administrators.",
            count,
        )
        % {"count": count}
        if count
        else _("Only the administrators so far: import the organisation file.")
    )
    return ChecklistItem(
        "people", _("People imported"), bool(count), detail, reach.url("web:org_import")
    )


def _kpis(facts: dict[str, Any], reach: _Reach) -> ChecklistItem:
    count = facts["kpi_count"]
    detail = (
        ngettext("%(count)s KPI.", "%(count)s KPIs.", count) % {"count": count}
        if count
        else _("Empty: load an industry pack or import KPI definitions.")
    )
    return ChecklistItem(
        "kpis", _("KPI catalogue"), bool(count), detail, reach.url("web:kpi_catalogue")
    )


def _values(facts: dict[str, Any], reach: _Reach) -> ChecklistItem:
    done = bool(facts["has_values"])
    detail = _("Imported.") if done else _("None yet: import a file of KPI values.")
    return ChecklistItem(
        "kpi_values", _("KPI values imported"), done, detail, reach.url("web:metrics_import")
    )


def _working_hours(facts: dict[str, Any], reach: _Reach) -> ChecklistItem:
    done = bool(facts["has_hours"])
    detail = (
        _("Set.")
        if done
        else _("Not set: Monday to Friday, 09:00–12:00 and 13:00–18:00 are assumed.")
    )
    return ChecklistItem(
        "working_hours", _("Working hours"), done, detail, reach.url("web:working_hours")
    )


def _holidays(years: dict[int, Any], reach: _Reach) -> ChecklistItem:
    """This year's holidays known and their adjusted working days confirmed; next year's
    known (its schedule is published only in the autumn)."""
    this_year, next_year = sorted(years)
    parts = []
    for year, state in sorted(years.items()):
        if not state.known:
            status = _("not known")
        elif state.confirmed:
            status = _("confirmed")
        else:
            status = _("estimated, adjusted working days not confirmed")
        parts.append(_("%(year)s: %(status)s.") % {"year": year, "status": status})
    done = years[this_year].confirmed and years[next_year].known
    label = _("Public holidays of %(year)s and %(next)s") % {"year": this_year, "next": next_year}
    return ChecklistItem("holidays", label, done, " ".join(parts), reach.url("web:holidays"))


def _shift_codes(facts: dict[str, Any], reach: _Reach) -> ChecklistItem:
    count, rostered = facts["shift_codes"], bool(facts["rostered"])
    if count:
        detail = ngettext("%(count)s shift code.", "%(count)s shift codes.", count) % {
            "count": count
        }
    else:
        detail = _("Only needed to import rosters (排班表).")
    return ChecklistItem(
        "shift_codes",
        _("Shift codes"),
        bool(count),
        detail,
        reach.url("web:shift_codes"),
        optional=not rostered,
    )
