"""Who hears what about an appeal (申诉) or an addendum: HR in scope of the employee when an
appeal is opened, the talk's two people when it is resolved, the other one of the two when an
addendum waits for their signature. Queued inside the writer's transaction and worded when
sent, in the recipient's language. Messages never quote a reason, a resolution or an
addendum: they say what happened and link to the page, which checks who may read it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.core.ids import as_id
from miantan.notifications.models import Notification
from miantan.notifications.rendering import register_context, register_link
from miantan.notifications.services import notify
from miantan.people.enums import Role
from miantan.people.models import Employee

from .models import Addendum, Appeal, AppealOutcome

OPENED = "opened"
RESOLVED = "resolved"
ADDENDUM = "addendum"

TITLES: dict[str, Promise] = {
    OPENED: pgettext_lazy("notification subject", "Appeal against a talk record"),
    RESOLVED: pgettext_lazy("notification subject", "Appeal resolved"),
    ADDENDUM: pgettext_lazy("notification subject", "Addendum to sign"),
}
HEADLINES: dict[str, Promise] = {
    OPENED: pgettext_lazy(
        "notification",
        "%(name)s signed the record of a talk and disagrees with it. Read the appeal and "
        "resolve it.",
    ),
    AppealOutcome.UPHELD: pgettext_lazy(
        "notification",
        "%(name)s resolved the appeal: the record stands as signed and is archived.",
    ),
    AppealOutcome.WITHDRAWN: pgettext_lazy(
        "notification",
        "%(name)s noted the appeal as withdrawn: the record stands as signed and is archived.",
    ),
    AppealOutcome.AMENDED: pgettext_lazy(
        "notification",
        "%(name)s resolved the appeal: the record is to be amended. Change it together, "
        "confirm it and sign it again.",
    ),
    ADDENDUM: pgettext_lazy(
        "notification",
        "%(name)s added to the archived record of your talk and signed the addendum. Read it "
        "and sign it too.",
    ),
}


def hr_partners_of(employee: Employee) -> QuerySet[Employee]:
    """The HR partners whose subtree holds the employee's department, still employed."""
    department_ids = [int(part) for part in employee.department.path.strip("/").split("/") if part]
    return (
        Employee.objects.filter(
            organisation_id=employee.organisation_id,
            left_on__isnull=True,
            role_assignments__role=Role.HR,
            role_assignments__department_id__in=department_ids,
        )
        .exclude(pk=employee.pk)
        .distinct()
        .order_by("pk")
    )


def queue_appeal_opened(appeal: Appeal) -> None:
    talk = appeal.record.talk
    for recipient in hr_partners_of(talk.employee).exclude(pk=talk.counterpart_id):
        _queue(appeal, OPENED, actor=appeal.opened_by, recipient=recipient)


def queue_appeal_resolved(appeal: Appeal) -> None:
    talk = appeal.record.talk
    for recipient in (talk.employee, talk.counterpart):
        _queue(appeal, RESOLVED, actor=appeal.resolved_by, recipient=recipient)


def _queue(appeal: Appeal, event: str, *, actor: Employee | None, recipient: Employee) -> None:
    notify(
        recipient,
        f"archive.appeal_{event}",
        key=f"appeal:{appeal.pk}:{event}:{recipient.pk}",
        obj=appeal,
        context={
            "event": event,
            "actor": actor.pk if actor is not None else None,
            "appeal": appeal.pk,
        },
    )


def queue_addendum_to_sign(addendum: Addendum) -> None:
    talk = addendum.record.talk
    other = talk.counterpart if addendum.written_by_id == talk.employee_id else talk.employee
    notify(
        other,
        "archive.addendum",
        key=f"addendum:{addendum.pk}:{other.pk}",
        obj=addendum,
        context={"event": ADDENDUM, "actor": addendum.written_by_id, "talk": talk.pk},
    )


def addendum_context(notification: Notification) -> dict[str, Any] | None:
    pk = as_id(notification.object_id)
    addendum = (
        Addendum.objects.select_related("record__talk", "written_by").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if addendum is None:
        return None
    talk = addendum.record.talk
    return {
        "addendum": addendum,
        "talk": talk,
        "topic": talk.get_topic_display(),
        "title": TITLES[ADDENDUM],
        "headline": str(HEADLINES[ADDENDUM]) % {"name": addendum.written_by.name},
        "url": f"{settings.MIANTAN_BASE_URL}/talks/{talk.pk}/record/#addenda",
    }


def appeal_url(appeal: Appeal) -> str:
    return f"{settings.MIANTAN_BASE_URL}/appeals/{appeal.pk}/"


def appeal_context(notification: Notification) -> dict[str, Any] | None:
    pk = as_id(notification.object_id)
    appeal = (
        Appeal.objects.select_related("record__talk", "resolved_by", "opened_by")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if appeal is None:
        return None
    event = str(notification.context.get("event", ""))
    actor = appeal.opened_by if event == OPENED else appeal.resolved_by
    headline = HEADLINES.get(OPENED if event == OPENED else appeal.outcome)
    talk = appeal.record.talk
    return {
        "appeal": appeal,
        "talk": talk,
        "topic": talk.get_topic_display(),
        "title": TITLES.get(event, ""),
        "headline": str(headline) % {"name": actor.name if actor else ""} if headline else "",
        "url": appeal_url(appeal),
    }


register_context(Appeal._meta.label_lower, appeal_context)
register_context(Addendum._meta.label_lower, addendum_context)
register_link(
    Addendum._meta.label_lower,
    lambda notification: f"/talks/{as_id(notification.context.get('talk'))}/record/#addenda",
    pgettext_lazy("notification", "Open the record"),
)
register_link(
    Appeal._meta.label_lower,
    lambda notification: f"/appeals/{as_id(notification.context.get('appeal'))}/",
    pgettext_lazy("notification", "Open the appeal"),
)
