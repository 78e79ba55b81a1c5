"""How nudges are worded (PRODUCT.md F1, F2), in the recipient's language when sent.

A nudge about a talk (`nudge.talk_tomorrow`) is about the talk: it is worded with the talk's
own context (interviews.messages: dropped when the talk moved or was cancelled) and adds the
link to the data brief. Every other nudge is about its rule: the facts are in the row's
context, the builder below adds the sentences and the page to open, and drops a reminder whose
action item or milestone was done meanwhile. Messages name no KPI values and quote nothing a
person wrote: they say what is due and link to the page, which checks who may read it."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.core.ids import as_id
from miantan.notifications.models import Notification
from miantan.notifications.rendering import register_context, register_link
from miantan.plans.models import OPEN_STATES as ACTION_OPEN_STATES
from miantan.plans.models import ActionItem, PlanMilestone

from .enums import NudgeKind
from .models import NudgeRule

TITLES: dict[str, Promise] = {
    NudgeKind.PERIOD_END_LOW_KPI: pgettext_lazy(
        "notification subject", "Some KPIs are behind: ask for a talk"
    ),
    NudgeKind.TALK_TOMORROW: pgettext_lazy("notification subject", "Your talk is tomorrow"),
    NudgeKind.ACTION_DUE: pgettext_lazy("notification subject", "Action item due soon"),
    NudgeKind.PLAN_MILESTONE: pgettext_lazy(
        "notification subject", "Improvement plan milestone due soon"
    ),
    NudgeKind.NO_TALK_FOR: pgettext_lazy("notification subject", "Time for a talk with your team"),
    NudgeKind.TRAINING_FINISHED: pgettext_lazy(
        "notification subject", "Training finished: talk about what comes next"
    ),
}
HEADLINES: dict[str, Promise] = {
    NudgeKind.PERIOD_END_LOW_KPI: pgettext_lazy(
        "notification",
        "%(behind)s of your KPIs are below %(threshold)s %% of their targets in %(period)s, "
        "which ends on %(end)s. A talk with your manager now leaves time to catch up: ask "
        "for one.",
    ),
    NudgeKind.ACTION_DUE: pgettext_lazy(
        "notification", "The action item “%(title)s” is due on %(date)s."
    ),
    NudgeKind.PLAN_MILESTONE: pgettext_lazy(
        "notification",
        "The milestone “%(title)s” of the improvement plan “%(plan)s” is due on %(date)s.",
    ),
    NudgeKind.NO_TALK_FOR: pgettext_lazy(
        "notification",
        "You have not had a talk with %(reports)s of your direct reports for %(weeks)s weeks "
        "or more. Ask them for a talk.",
    ),
    NudgeKind.TRAINING_FINISHED: pgettext_lazy(
        "notification",
        "You finished a training on %(date)s. A talk about what you learned and how to use "
        "it is a good next step: ask your manager for one.",
    ),
}


def rule_context(notification: Notification) -> dict[str, Any] | None:
    """The sentences and the page of a nudge; None drops one that is no longer due."""
    rule = NudgeRule.objects.filter(pk=as_id(notification.object_id) or 0).first()
    if rule is None:
        return None
    data = notification.context
    facts: dict[str, Any] | None = {}
    if rule.kind == NudgeKind.PERIOD_END_LOW_KPI:
        facts = {
            "behind": data.get("behind", 0),
            "threshold": data.get("threshold", ""),
            "period": data.get("period", ""),
            "end": _day(data.get("period_end")),
        }
    elif rule.kind == NudgeKind.ACTION_DUE:
        facts = _action_facts(data)
    elif rule.kind == NudgeKind.PLAN_MILESTONE:
        facts = _milestone_facts(data)
    elif rule.kind == NudgeKind.NO_TALK_FOR:
        facts = {"reports": data.get("reports", 0), "weeks": data.get("weeks", "")}
    elif rule.kind == NudgeKind.TRAINING_FINISHED:
        facts = {"date": _day(data.get("completed_on"))}
    if facts is None:
        return None
    path = str(data.get("path", ""))
    headline = HEADLINES.get(rule.kind)
    return {
        "rule": rule,
        "title": TITLES.get(rule.kind, ""),
        "headline": str(headline) % facts if headline else "",
        "url": f"{settings.MIANTAN_BASE_URL}{path}" if path else "",
    }


def _action_facts(data: dict[str, Any]) -> dict[str, Any] | None:
    item = ActionItem.objects.filter(pk=as_id(data.get("action")) or 0).first()
    if item is None or item.status not in ACTION_OPEN_STATES:
        return None
    return {"title": item.title, "date": _day(item.due_on.isoformat())}


def _milestone_facts(data: dict[str, Any]) -> dict[str, Any] | None:
    milestone = (
        PlanMilestone.objects.select_related("plan")
        .filter(pk=as_id(data.get("milestone")) or 0)
        .first()
    )
    if milestone is None or milestone.done_at is not None:
        return None
    return {
        "title": milestone.title,
        "plan": milestone.plan.title,
        "date": _day(milestone.due_on.isoformat()),
    }


def _day(value: Any) -> str:
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return ""


register_context(NudgeRule._meta.label_lower, rule_context)
register_link(
    NudgeRule._meta.label_lower,
    lambda notification: str(notification.context.get("path", "")),
    pgettext_lazy("notification", "Open"),
)
