"""Who hears what about an improvement plan: the employee, when HR publishes it (acknowledge
it) and when a later change makes a new version (acknowledge again). Queued inside the writer's
transaction, worded when sent in the recipient's language; a message never quotes the plan, it
links to the page, which checks who may read it. Check-ins that fall due are reminded by the
nudge rules, not here."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.core.ids import as_id
from miantan.notifications.models import Notification
from miantan.notifications.rendering import register_context, register_link
from miantan.notifications.services import notify
from miantan.people.models import Employee

from .models import ImprovementPlan

PUBLISHED = "published"
REVISED = "revised"

TITLES: dict[str, Promise] = {
    PUBLISHED: pgettext_lazy("notification subject", "Improvement plan to acknowledge"),
    REVISED: pgettext_lazy("notification subject", "Improvement plan changed: acknowledge again"),
}
HEADLINES: dict[str, Promise] = {
    PUBLISHED: pgettext_lazy(
        "notification",
        "%(name)s published an improvement plan for you. Read it and acknowledge it.",
    ),
    REVISED: pgettext_lazy(
        "notification",
        "%(name)s changed your improvement plan (version %(version)s). See what changed and "
        "acknowledge it again.",
    ),
}


def queue_plan_published(plan: ImprovementPlan, *, actor: Employee | None) -> None:
    """Version 1 asks for an acknowledgement; every later version asks again. One message
    per plan and version, however often this is called."""
    event = PUBLISHED if plan.version <= 1 else REVISED
    notify(
        plan.employee,
        f"plan.{event}",
        key=f"plan:{plan.pk}:v{plan.version}:{plan.employee_id}",
        obj=plan,
        context={
            "event": event,
            "plan": plan.pk,
            "version": plan.version,
            "actor": actor.pk if actor is not None else None,
        },
    )


def plan_url(plan: ImprovementPlan) -> str:
    return f"{settings.MIANTAN_BASE_URL}/plans/{plan.pk}/"


def plan_context(notification: Notification) -> dict[str, Any] | None:
    pk = as_id(notification.object_id)
    plan = ImprovementPlan.objects.filter(pk=pk).first() if pk is not None else None
    if plan is None:
        return None
    event = str(notification.context.get("event", PUBLISHED))
    actor = Employee.objects.filter(pk=as_id(notification.context.get("actor")) or 0).first()
    headline = HEADLINES.get(event, HEADLINES[PUBLISHED])
    return {
        "plan": plan,
        "title": TITLES.get(event, TITLES[PUBLISHED]),
        "headline": str(headline)
        % {
            "name": actor.name if actor else "",
            "version": notification.context.get("version", plan.version),
        },
        "url": plan_url(plan),
    }


register_context(ImprovementPlan._meta.label_lower, plan_context)
register_link(
    ImprovementPlan._meta.label_lower,
    lambda notification: f"/plans/{as_id(notification.context.get('plan'))}/",
    pgettext_lazy("notification", "Open the plan"),
)
