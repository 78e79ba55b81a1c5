"""Who hears what when a record changes: a comment, a confirmation, a confirmation withdrawn
by a change, the record ready to sign. Queued inside the writer's transaction, worded when
sent in the recipient's language (`record_context`). Messages never quote the record's text:
they say what happened and link to the page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.core.ids import as_id
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.rendering import register_context, register_link
from miantan.notifications.services import CHOSEN, notify
from miantan.people.models import Employee

from .enums import RecordEvent
from .models import Record

READY = "ready"
MENTIONED = "mentioned"

TITLES: dict[str, Promise] = {
    RecordEvent.COMMENTED: pgettext_lazy("notification subject", "New comment on the record"),
    RecordEvent.CONFIRMED: pgettext_lazy("notification subject", "Record confirmed"),
    RecordEvent.WITHDRAWN: pgettext_lazy("notification subject", "Confirmation withdrawn"),
    READY: pgettext_lazy("notification subject", "Record ready to sign"),
    MENTIONED: pgettext_lazy("notification subject", "You were mentioned in a talk record"),
}
HEADLINES: dict[str, Promise] = {
    RecordEvent.COMMENTED: pgettext_lazy(
        "notification", "%(name)s commented on the record of your talk."
    ),
    RecordEvent.CONFIRMED: pgettext_lazy(
        "notification", "%(name)s confirmed the record of your talk. Read it and confirm yours."
    ),
    RecordEvent.WITHDRAWN: pgettext_lazy(
        "notification",
        "%(name)s changed the record after it was confirmed; the confirmation is withdrawn."
        " Read the change and confirm again.",
    ),
    READY: pgettext_lazy(
        "notification", "Both of you confirmed the record of your talk: it is ready to sign."
    ),
    MENTIONED: pgettext_lazy(
        "notification", "%(name)s mentioned you in the record of a talk; you may read that part."
    ),
}
_INBOX_ONLY = frozenset({RecordEvent.COMMENTED})


def queue_record_notification(
    record: Record,
    event: str,
    *,
    actor: Employee | None,
    data: dict[str, Any] | None = None,
    recipients: list[Employee] | None = None,
) -> None:
    """Tell the record's people (or `recipients`) what `actor` did."""
    data = data or {}
    talk = record.talk
    kind = event
    if event == RecordEvent.CONFIRMED and data.get("both"):
        kind = READY
    if recipients is None:
        people = [talk.employee, talk.counterpart]
        recipients = [p for p in people if kind == READY or actor is None or p.pk != actor.pk]
    stamp = timezone.now().isoformat(timespec="microseconds")
    channels = (Channel.INBOX,) if kind in _INBOX_ONLY else CHOSEN
    for recipient in recipients:
        notify(
            recipient,
            f"record.{kind}",
            key=f"record:{record.pk}:{kind}:{record.version}:{recipient.pk}:{stamp}",
            obj=record,
            context={
                "event": kind,
                "actor": actor.pk if actor is not None else None,
                "talk": record.talk_id,
            },
            channels=channels,
        )


def record_url(record: Record) -> str:
    return f"{settings.MIANTAN_BASE_URL}/talks/{record.talk_id}/record/"


def record_context(notification: Notification) -> dict[str, Any] | None:
    pk = as_id(notification.object_id)
    record = (
        Record.objects.select_related("talk", "talk__employee", "talk__counterpart")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if record is None:
        return None
    event = str(notification.context.get("event", ""))
    actor_id = as_id(notification.context.get("actor"))
    actor = Employee.objects.filter(pk=actor_id).first() if actor_id is not None else None
    talk = record.talk
    headline = HEADLINES.get(event)
    return {
        "record": record,
        "talk": talk,
        "topic": talk.get_topic_display(),
        "title": TITLES.get(event, ""),
        "headline": str(headline) % {"name": actor.name if actor else ""} if headline else "",
        "url": record_url(record),
    }


register_context(Record._meta.label_lower, record_context)
register_link(
    Record._meta.label_lower,
    lambda notification: f"/talks/{as_id(notification.context.get('talk'))}/record/",
    pgettext_lazy("notification", "Open the record"),
)
