"""The agenda written when a talk is confirmed (PRODUCT.md A7): the points every talk of its
topic covers, then what is open: the brief's suggested objectives (flagged KPIs, each with its
numbers) and unfinished action items of earlier talks. Both sides edit it afterwards."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _

from miantan.metrics.brief import brief_for
from miantan.metrics.enums import BriefTopic

from .enums import Topic
from .models import Talk

_TOPIC_POINTS: dict[str, tuple[Any, ...]] = {
    Topic.QUARTERLY_REVIEW: (
        _("Look back at the quarter: results against targets"),
        _("What went well, and what got in the way"),
        _("Goals and support for the next quarter"),
    ),
    Topic.CAREER: (
        _("Where the employee wants to be in two to three years"),
        _("Skills and training that lead there"),
        _("Next steps and who supports them"),
    ),
    Topic.PROJECT_RECOGNITION: (
        _("The project's results and the employee's part in them"),
        _("What the team can learn from it"),
    ),
    Topic.IMPROVEMENT: (
        _("The facts: where results fall short, with the data"),
        _("The employee's view of the causes"),
        _("An improvement plan: goals, steps, dates and support"),
    ),
    Topic.PROMOTION: (
        _("The position's requirements against what has been reached"),
        _("What is still missing, and how to get there"),
    ),
    Topic.OTHER: (_("The employee's questions and concerns"),),
}
_CLOSING = _("Agree the action items: owner and due date for each")


def build_agenda(talk: Talk, *, viewer: Any) -> list[dict[str, Any]]:
    """Agenda items as stored on the talk, in the active language. The brief is read as
    `viewer` (so it is audited as theirs); a viewer who may not see the employee's data (an
    executive) gets the topic's points only."""
    items: list[dict[str, Any]] = [
        {"text": str(point), "source": "topic", "data": {}} for point in _TOPIC_POINTS[talk.topic]
    ]
    topic = talk.topic if talk.topic in BriefTopic.values else BriefTopic.QUARTERLY_REVIEW
    try:
        brief = brief_for(talk.employee_id, topic, viewer)
    except Http404:
        brief = None
    if brief is not None:
        for objective in brief.objectives:
            items.append(
                {
                    "text": objective.text,
                    "source": "flag" if objective.kind != "strength" else "strength",
                    "data": {"kpi": objective.kpi_code, **_plain(objective.data)},
                }
            )
        for action in brief.open_action_items:
            items.append({"text": str(action), "source": "action", "data": _action_data(action)})
    items.append({"text": str(_CLOSING), "source": "topic", "data": {}})
    return items


def _action_data(action: Any) -> dict[str, Any]:
    """An unfinished action item carried over: its id, due date and status."""
    due = getattr(action, "due_on", None)
    return _plain(
        {
            "action": getattr(action, "pk", None),
            "due_on": due.isoformat() if due is not None else None,
            "status": getattr(action, "status", None),
        }
    )


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Numbers and strings only, so the agenda stays JSON."""
    return {
        key: value
        for key, value in data.items()
        if isinstance(value, str | int | float | bool) or value is None
    }
