"""The talk brief (B4, B5): the data for one talk topic and the objectives it suggests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from miantan.core.errors import DomainError
from miantan.metrics.brief import Objective, brief_for
from miantan.metrics.enums import BriefTopic

# What the numbers behind an objective are called on the page, in the order shown. Keys that
# are not listed (rule thresholds, ids) are left out.
DATA_LABELS = {
    "period": pgettext_lazy("brief data", "Period"),
    "actual": pgettext_lazy("brief data", "Actual"),
    "target": pgettext_lazy("brief data", "Target"),
    "required": pgettext_lazy("brief data", "Position requirement"),
    "completion": pgettext_lazy("brief data", "Completion"),
    "team_average": pgettext_lazy("brief data", "Team average"),
    "worse_pct": pgettext_lazy("brief data", "Worse than the team"),
    "team_size": pgettext_lazy("brief data", "Colleagues compared"),
    "values": pgettext_lazy("brief data", "Values"),
    "streak": pgettext_lazy("brief data", "Periods in a row"),
    "skill": pgettext_lazy("brief data", "Skill"),
    "hours": pgettext_lazy("brief data", "Training hours"),
    "project": pgettext_lazy("brief data", "Project"),
    "role": pgettext_lazy("brief data", "Role"),
    "date": pgettext_lazy("brief data", "Date"),
    "met": pgettext_lazy("brief data", "Requirement"),
}
PERCENT = {"completion", "worse_pct"}


@dataclass(frozen=True)
class ObjectiveRow:
    """An objective as the page shows it: the sentence and its numbers, labelled."""

    text: str
    kind: str
    kpi_code: str
    data: list[tuple[str, str]]
    # The KPI's row is in the table on the page, so the objective links to it.
    in_table: bool


@login_required
def brief(request: HttpRequest, employee_id: int) -> HttpResponse:
    topic = request.GET.get("topic") or BriefTopic.QUARTERLY_REVIEW
    topics = [(value, label) for value, label in BriefTopic.choices]
    try:
        result = brief_for(employee_id, topic, request.user)
    except DomainError as error:
        # Nothing about the person: the topic is checked before access is.
        context = {"error": error.message, "topics": topics, "employee_id": employee_id}
        return render(request, "web/brief.html", context, status=400)
    shown = {gap.kpi.code for gap in result.kpis}
    return render(
        request,
        "web/brief.html",
        {
            "brief": result,
            "employee": result.employee,
            "employee_id": employee_id,
            "topics": topics,
            "objectives": [_row(objective, shown) for objective in result.objectives],
        },
    )


def _row(objective: Objective, kpis_shown: set[str]) -> ObjectiveRow:
    data = [
        (str(label), _shown(key, objective.data[key]))
        for key, label in DATA_LABELS.items()
        if objective.data.get(key) not in (None, "")
    ]
    code = objective.kpi_code
    return ObjectiveRow(objective.text, objective.kind, code, data, code in kpis_shown)


def _shown(key: str, value: Any) -> str:
    if key == "met":
        met = pgettext_lazy("requirement", "met")
        return str(met if value else pgettext_lazy("requirement", "not met"))
    if isinstance(value, float):
        value = f"{value:.2f}".rstrip("0").rstrip(".")
    if key == "hours":
        return str(_("%(hours)s h") % {"hours": value})
    return f"{value} %" if key in PERCENT else str(value)
