"""Who hears what when a talk changes, and how the message is worded (PRODUCT.md A5).

`transition` calls `queue_talk_notifications` inside its transaction, after writing the
talk's activity: the rows commit or roll back with the change. The other side hears of a
request, a proposal, a decline, a new time, a cancellation or an agenda change; both sides
get the invitation when a time is accepted and the cancellation of a booked talk, each with
the ICS file as it was at that moment. While the talk waits for someone's answer, one SLA
reminder to that person is pending; every step replaces it, and it is withdrawn once the
talk no longer waits.

Messages are worded when they are sent (`talk_context`), in the recipient's language and
time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from miantan.core.ids import as_id
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.rendering import register_context, register_link
from miantan.notifications.services import (
    CHOSEN,
    CalendarFile,
    Message,
    cancel_pending,
    notify,
    queue_many,
)
from miantan.people.models import Employee
from miantan.scheduling.calendar import CANCEL, REQUEST, talk_ics, talk_url

from .enums import OPEN_STATES, ProposalState, TalkEvent, TalkState, Urgency
from .models import Proposal, Talk, TalkActivity

REMINDER = "reminder"
# The preparation reminder to both sides before a booked talk (A8).
PREPARE = "prepare"
# Both sides hear of these, the actor included: their calendars change.
_CALENDAR_EVENTS = frozenset({TalkEvent.ACCEPTED, TalkEvent.CANCELLED, TalkEvent.EXPIRED})
# The archive tells people of signatures and appeals in its own words.
_SILENT = frozenset({TalkEvent.STARTED, TalkEvent.REMINDED, TalkEvent.ARCHIVED, TalkEvent.AMENDED})
_INBOX_ONLY = frozenset({TalkEvent.AGENDA_EDITED})

TITLES: dict[str, Promise] = {
    TalkEvent.REQUESTED: pgettext_lazy("notification subject", "Talk requested"),
    TalkEvent.PROPOSED: pgettext_lazy("notification subject", "Time proposed"),
    TalkEvent.ACCEPTED: pgettext_lazy("notification subject", "Talk booked"),
    TalkEvent.DECLINED: pgettext_lazy("notification subject", "Talk declined"),
    TalkEvent.RESCHEDULED: pgettext_lazy("notification subject", "New time proposed"),
    TalkEvent.CANCELLED: pgettext_lazy("notification subject", "Talk cancelled"),
    TalkEvent.EXPIRED: pgettext_lazy("notification subject", "Request expired"),
    TalkEvent.KEPT: pgettext_lazy("notification subject", "Booked time kept"),
    TalkEvent.AGENDA_EDITED: pgettext_lazy("notification subject", "Agenda changed"),
    REMINDER: pgettext_lazy("notification subject", "Waiting for your answer"),
    PREPARE: pgettext_lazy("notification subject", "Prepare for your talk"),
}
# What happened, told to the other side (%(name)s did it) and to the one who did it.
HEADLINES: dict[str, Promise] = {
    TalkEvent.REQUESTED: pgettext_lazy("notification", "%(name)s asks you for a talk."),
    TalkEvent.PROPOSED: pgettext_lazy(
        "notification", "%(name)s proposed a time for your talk. Accept it or propose another."
    ),
    TalkEvent.ACCEPTED: pgettext_lazy(
        "notification", "%(name)s accepted the time: the talk is booked."
    ),
    TalkEvent.DECLINED: pgettext_lazy("notification", "%(name)s declined the talk."),
    TalkEvent.RESCHEDULED: pgettext_lazy(
        "notification",
        "%(name)s proposed a new time for your talk. Until you accept it, the booked time stays.",
    ),
    TalkEvent.CANCELLED: pgettext_lazy("notification", "%(name)s cancelled the talk."),
    TalkEvent.EXPIRED: pgettext_lazy("notification", "The talk expired: nobody answered in time."),
    TalkEvent.KEPT: pgettext_lazy(
        "notification",
        "The new time was not answered in time: the talk stays at its booked time.",
    ),
    TalkEvent.AGENDA_EDITED: pgettext_lazy("notification", "%(name)s changed the agenda."),
    REMINDER: pgettext_lazy(
        "notification", "%(name)s is still waiting for your answer about this talk."
    ),
    PREPARE: pgettext_lazy(
        "notification",
        "Your talk with %(name)s is coming up: the agenda and the data brief are ready to look at.",
    ),
}
OWN_HEADLINES: dict[str, Promise] = {
    TalkEvent.ACCEPTED: pgettext_lazy("notification", "You accepted the time: the talk is booked."),
    TalkEvent.CANCELLED: pgettext_lazy("notification", "You cancelled the talk."),
}


def queue_talk_notifications(talk: Talk, event: str, *, actor: Employee | None) -> None:
    """Queue the messages of one step of the talk, and keep its SLA reminder up to date.

    Keys name the talk, the event, the calendar sequence, the recipient and the step (the
    talk's latest activity): each step gets its own messages, and calling this twice within
    one step queues nothing more."""
    event = TalkEvent(event).value
    step = _step(talk)
    if event not in _SILENT:
        invitation = _invitation(talk, event)
        context = _context(talk, event, actor)
        channels = (Channel.INBOX,) if event in _INBOX_ONLY else CHOSEN
        for recipient in _recipients(talk, event, actor):
            notify(
                recipient,
                f"talk.{event}",
                key=f"talk:{talk.pk}:{event}:{talk.sequence}:{recipient.pk}:{step}",
                obj=talk,
                context=context,
                ics=invitation,
                channels=channels,
                sender=actor if actor is not None and actor.pk != recipient.pk else None,
            )
    _keep_reminder(talk, step)
    _keep_preparation(talk, event, step)


def queue_new_talks(talks: Sequence[Talk], *, actor: Employee | None) -> int:
    """`queue_talk_notifications(talk, "requested", actor=actor)` for many talks just created
    (a review cycle's launch), with the same rows and keys, in a fixed number of queries:
    the steps and the proposals are read at once and the rows inserted in bulk. Returns the
    number of rows queued."""
    ids = [talk.pk for talk in talks]
    steps = dict(
        TalkActivity.objects.filter(talk_id__in=ids)
        .values("talk_id")
        .annotate(latest=Max("pk"))
        .values_list("talk_id", "latest")
    )
    proposals = {
        talk_id: (start, end)
        for talk_id, start, end in Proposal.objects.filter(
            talk_id__in=ids, state=ProposalState.OPEN
        ).values_list("talk_id", "start", "end")
    }
    now = timezone.now()
    reminder_due = now + timedelta(hours=settings.MIANTAN_REQUEST_SLA_HOURS)
    event = TalkEvent.REQUESTED.value

    messages: list[Message] = []

    def add(
        recipient: Employee,
        kind: str,
        key: str,
        talk: Talk,
        due: Any,
        context: Any,
        sender: Employee | None = None,
    ) -> None:
        messages.append(
            Message(
                recipient=recipient,
                kind=kind,
                key=key,
                object_type=Talk._meta.label_lower,
                object_id=str(talk.pk),
                context=context,
                due_at=due,
                sender=sender,
            )
        )

    for talk in talks:
        step = steps.get(talk.pk, 0)
        start, end = proposals.get(talk.pk, (talk.scheduled_start, talk.scheduled_end))
        context = {
            "event": event,
            "actor_id": actor.pk if actor is not None else None,
            "actor_name": actor.name if actor is not None else "",
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        }
        for recipient in _recipients(talk, event, actor):
            key = f"talk:{talk.pk}:{event}:{talk.sequence}:{recipient.pk}:{step}"
            # A cycle's invitation comes from the manager who holds the talk, not from HR.
            sender = talk.counterpart if recipient.pk != talk.counterpart_id else None
            add(recipient, f"talk.{event}", key, talk, now, context, sender)
        awaiting = talk.awaiting
        if awaiting is not None and talk.state in OPEN_STATES:
            key = f"talk:{talk.pk}:{REMINDER}:{awaiting.pk}:{step}"
            add(awaiting, f"talk.{REMINDER}", key, talk, reminder_due, {"event": REMINDER})
    return queue_many(messages)


def talk_context(notification: Notification) -> dict[str, Any] | None:
    """What the talk templates show, read when the message is sent; None drops a reminder
    that is no longer due (the talk stopped waiting for the recipient)."""
    pk = as_id(notification.object_id)
    talk = (
        Talk.objects.select_related("employee", "counterpart").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if talk is None:
        return None
    data = notification.context
    event = str(data.get("event", ""))
    recipient = notification.recipient
    if event == REMINDER and not (talk.awaiting_id == recipient.pk and talk.state in OPEN_STATES):
        return None
    if event == PREPARE and not (
        talk.state == TalkState.SCHEDULED
        and talk.scheduled_start is not None
        and data.get("start")
        and talk.scheduled_start == datetime.fromisoformat(str(data["start"]))
    ):
        return None
    other = talk.counterpart if recipient.pk == talk.employee_id else talk.employee
    start, end = _when(talk, data)
    return {
        "talk": talk,
        "topic": talk.get_topic_display(),
        "other": other,
        "title": TITLES.get(event, ""),
        "headline": _headline(event, data, recipient=recipient, other=other),
        "start": start,
        "end": end,
        "place": talk.location,
        "link": talk.online_link,
        "message": talk.message if event == TalkEvent.REQUESTED else "",
        "reason": talk.closing_reason if event in (TalkEvent.DECLINED, TalkEvent.CANCELLED) else "",
        "urgent": talk.urgency == Urgency.URGENT,
        "url": talk_url(talk),
        "ics_method": notification.ics_method,
    }


register_context(Talk._meta.label_lower, talk_context)
register_link(
    Talk._meta.label_lower,
    lambda notification: f"/talks/{notification.object_id}/",
    pgettext_lazy("notification", "Open the talk"),
)


# --- who, what, when --------------------------------------------------------------------------


def _recipients(talk: Talk, event: str, actor: Employee | None) -> list[Employee]:
    people = [talk.employee, talk.counterpart]
    if event == TalkEvent.ACCEPTED or (
        event in _CALENDAR_EVENTS and talk.scheduled_start is not None
    ):
        return people
    return [person for person in people if actor is None or person.pk != actor.pk]


def _invitation(talk: Talk, event: str) -> CalendarFile | None:
    """The ICS file as it is now: REQUEST for an accepted time, CANCEL for a booked talk
    that is called off (or whose new time was never agreed and expired)."""
    if talk.scheduled_start is None:
        return None
    if event == TalkEvent.ACCEPTED:
        return CalendarFile(talk_ics(talk, REQUEST), REQUEST)
    if event in (TalkEvent.CANCELLED, TalkEvent.EXPIRED):
        return CalendarFile(talk_ics(talk, CANCEL), CANCEL)
    return None


def _context(talk: Talk, event: str, actor: Employee | None) -> dict[str, Any]:
    """Language-neutral facts of the step, kept with the row: the time it was about."""
    start, end = talk.scheduled_start, talk.scheduled_end
    if event in (TalkEvent.REQUESTED, TalkEvent.PROPOSED, TalkEvent.RESCHEDULED):
        proposal = talk.open_proposal()
        if proposal is not None:
            start, end = proposal.start, proposal.end
    return {
        "event": event,
        "actor_id": actor.pk if actor is not None else None,
        "actor_name": actor.name if actor is not None else "",
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
    }


def _keep_reminder(talk: Talk, step: int) -> None:
    prefix = f"talk:{talk.pk}:{REMINDER}:"
    awaiting = talk.awaiting
    if awaiting is None or talk.state not in OPEN_STATES:
        cancel_pending(prefix)
        return
    key = f"{prefix}{awaiting.pk}:{step}"
    notify(
        awaiting,
        f"talk.{REMINDER}",
        key=key,
        obj=talk,
        due_at=timezone.now() + timedelta(hours=settings.MIANTAN_REQUEST_SLA_HOURS),
        context={"event": REMINDER},
    )
    cancel_pending(prefix, keep=key)


def _keep_preparation(talk: Talk, event: str, step: int) -> None:
    """On a newly accepted time, replace the preparation reminders of both sides, due
    MIANTAN_PREPARATION_HOURS before the talk (none when that moment has passed); on a
    cancellation withdraw them. A reminder whose talk moved is dropped when it is due."""
    prefix = f"talk:{talk.pk}:{PREPARE}:"
    if event == TalkEvent.CANCELLED:
        cancel_pending(prefix)
        return
    if event != TalkEvent.ACCEPTED or talk.scheduled_start is None:
        return
    cancel_pending(prefix)
    due = talk.scheduled_start - timedelta(hours=settings.MIANTAN_PREPARATION_HOURS)
    if due <= timezone.now():
        return
    for person in (talk.employee, talk.counterpart):
        notify(
            person,
            f"talk.{PREPARE}",
            key=f"{prefix}{person.pk}:{step}",
            obj=talk,
            due_at=due,
            context={
                "event": PREPARE,
                "start": talk.scheduled_start.isoformat(),
                "end": talk.scheduled_end.isoformat() if talk.scheduled_end else None,
            },
        )


def _step(talk: Talk) -> int:
    latest = (
        TalkActivity.objects.filter(talk_id=talk.pk)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return latest or 0


def _when(talk: Talk, data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    if data.get("event") == REMINDER:
        proposal = talk.open_proposal()
        if proposal is not None:
            return proposal.start, proposal.end
        return talk.scheduled_start, talk.scheduled_end
    start, end = data.get("start"), data.get("end")
    if not start or not end:
        return None, None
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def _headline(event: str, data: dict[str, Any], *, recipient: Employee, other: Employee) -> str:
    if data.get("actor_id") == recipient.pk and event in OWN_HEADLINES:
        return str(OWN_HEADLINES[event])
    template = HEADLINES.get(event)
    if template is None:
        return ""
    return str(template) % {"name": data.get("actor_name") or other.name}
