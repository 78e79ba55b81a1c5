"""Who hears what when a talk changes (interviews/messages.py), and the SLA reminder."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from miantan.interviews.enums import TalkEvent, TalkState
from miantan.interviews.messages import queue_talk_notifications
from miantan.interviews.models import Proposal
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.services import deliver_due
from tests.notifications.builders import NOW, TEN, booked_talk, step, talk_between
from tests.personas import Hospital

SLA = timedelta(hours=48)


@pytest.fixture
def frozen(settings: Any) -> Any:
    settings.MIANTAN_REQUEST_SLA_HOURS = 48
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def messages(kind: str | None = None, channel: str = Channel.EMAIL) -> list[Notification]:
    rows = Notification.objects.filter(channel=channel).exclude(
        kind__in=["talk.reminder", "talk.prepare"]
    )
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.select_related("recipient").order_by("pk"))


def reminders(pending: bool = True) -> list[Notification]:
    return list(
        Notification.objects.filter(
            kind="talk.reminder", channel=Channel.INBOX, cancelled_at__isnull=pending
        ).order_by("pk")
    )


def test_a_request_goes_to_the_other_side_by_mail_and_inbox(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)

    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)

    assert [row.recipient for row in messages()] == [hospital.head_nurse]
    assert [row.recipient for row in messages(channel=Channel.INBOX)] == [hospital.head_nurse]
    assert messages()[0].ics == ""


@pytest.mark.parametrize("event", [TalkEvent.PROPOSED, TalkEvent.DECLINED, TalkEvent.RESCHEDULED])
def test_the_actor_does_not_hear_of_their_own_step(
    hospital: Hospital, frozen: Any, event: str
) -> None:
    talk = step(talk_between(hospital, state=TalkState.NEGOTIATING), event)

    queue_talk_notifications(talk, event, actor=hospital.head_nurse)

    assert [row.recipient for row in messages()] == [hospital.nurse_wang]


def test_an_expiry_goes_to_both_sides(hospital: Hospital, frozen: Any) -> None:
    talk = step(talk_between(hospital, state=TalkState.EXPIRED, awaiting=None), "expired")

    queue_talk_notifications(talk, TalkEvent.EXPIRED, actor=None)

    assert {row.recipient for row in messages()} == {hospital.nurse_wang, hospital.head_nurse}
    assert all(row.ics == "" for row in messages())


def test_an_accepted_time_sends_both_sides_the_invitation(hospital: Hospital, frozen: Any) -> None:
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)

    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)

    rows = messages()
    assert {row.recipient for row in rows} == {hospital.nurse_wang, hospital.head_nurse}
    assert {row.ics_method for row in rows} == {"REQUEST"}
    assert all(talk.uid in row.ics and "METHOD:REQUEST" in row.ics for row in rows)


def test_cancelling_a_booked_talk_sends_both_sides_the_cancellation(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(booked_talk(hospital, state=TalkState.CANCELLED, sequence=1), "cancelled")

    queue_talk_notifications(talk, TalkEvent.CANCELLED, actor=hospital.nurse_wang)

    rows = messages()
    assert {row.recipient for row in rows} == {hospital.nurse_wang, hospital.head_nurse}
    assert {row.ics_method for row in rows} == {"CANCEL"}
    assert all("STATUS:CANCELLED" in row.ics and "SEQUENCE:1" in row.ics for row in rows)


def test_cancelling_a_request_tells_the_other_side_only(hospital: Hospital, frozen: Any) -> None:
    talk = step(talk_between(hospital, state=TalkState.CANCELLED, awaiting=None), "cancelled")

    queue_talk_notifications(talk, TalkEvent.CANCELLED, actor=hospital.nurse_wang)

    assert [(row.recipient, row.ics) for row in messages()] == [(hospital.head_nurse, "")]


def test_an_agenda_change_goes_to_the_other_inbox_only(hospital: Hospital, frozen: Any) -> None:
    talk = step(booked_talk(hospital), TalkEvent.AGENDA_EDITED)

    queue_talk_notifications(talk, TalkEvent.AGENDA_EDITED, actor=hospital.nurse_wang)

    assert messages() == []
    assert [row.recipient for row in messages(channel=Channel.INBOX)] == [hospital.head_nurse]


def test_starting_a_talk_tells_nobody(hospital: Hospital, frozen: Any) -> None:
    talk = step(booked_talk(hospital, state=TalkState.IN_PROGRESS), TalkEvent.STARTED)

    queue_talk_notifications(talk, TalkEvent.STARTED, actor=hospital.head_nurse)

    assert Notification.objects.count() == 0


def test_a_repeated_call_within_one_step_queues_nothing_more(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
    count = Notification.objects.count()

    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)

    assert Notification.objects.count() == count
    assert len(reminders()) == 1


def test_two_proposals_at_the_same_sequence_are_two_messages(
    hospital: Hospital, frozen: Any
) -> None:
    talk = talk_between(hospital, state=TalkState.NEGOTIATING, awaiting=hospital.nurse_wang)
    for hour in (10, 14):
        Proposal.objects.filter(talk=talk).update(state="superseded")
        start = TEN.replace(hour=hour)
        Proposal.objects.create(
            talk=talk,
            proposed_by=hospital.head_nurse,
            start=start,
            end=start + timedelta(minutes=45),
        )
        step(talk, TalkEvent.PROPOSED)
        queue_talk_notifications(talk, TalkEvent.PROPOSED, actor=hospital.head_nurse)

    rows = messages("talk.proposed")
    assert len(rows) == 2
    starts = [datetime.fromisoformat(row.context["start"]) for row in rows]
    assert starts == [TEN.replace(hour=10), TEN.replace(hour=14)]


def test_an_urgent_talk_says_so_in_the_subject(hospital: Hospital, frozen: Any) -> None:
    hospital.head_nurse.language = "en"
    hospital.head_nurse.save(update_fields=["language"])
    talk = step(talk_between(hospital, urgency="urgent"), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)

    deliver_due()

    assert [message.subject for message in mail.outbox] == [
        "[Urgent] Talk requested: Quarterly review · 王芳"
    ]
    body = mail.outbox[0].body
    assert "护理部示教室" in body and "想聊聊本季度的夜班安排" in body
    assert f"http://127.0.0.1:8000/talks/{talk.pk}/" in body


# --- the SLA reminder ---------------------------------------------------------------------------


def test_a_waiting_talk_reminds_the_awaited_person_after_the_sla(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
    deliver_due()
    mail.outbox.clear()

    [reminder] = reminders()
    assert reminder.recipient == hospital.head_nurse and reminder.due_at == NOW + SLA
    frozen.shift(SLA - timedelta(minutes=1))
    assert deliver_due() == 0
    frozen.shift(timedelta(minutes=1))
    assert deliver_due() == 2
    assert [message.to for message in mail.outbox] == [[hospital.head_nurse.email]]
    assert "王芳" in mail.outbox[0].body


def test_each_step_replaces_the_reminder_for_whoever_is_awaited_now(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
    frozen.shift(timedelta(hours=5))

    step(talk, TalkEvent.PROPOSED, state=TalkState.NEGOTIATING, awaiting=hospital.nurse_wang)
    queue_talk_notifications(talk, TalkEvent.PROPOSED, actor=hospital.head_nurse)

    [pending] = reminders()
    assert pending.recipient == hospital.nurse_wang
    assert pending.due_at == NOW + timedelta(hours=5) + SLA
    assert [row.recipient for row in reminders(pending=False)] == [hospital.head_nurse]


def test_the_reminder_is_withdrawn_once_the_talk_no_longer_waits(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)

    step(
        talk,
        TalkEvent.ACCEPTED,
        state=TalkState.SCHEDULED,
        awaiting=None,
        scheduled_start=TEN,
        scheduled_end=TEN + timedelta(minutes=45),
    )
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)

    assert reminders() == []
    assert (
        Notification.objects.filter(
            kind="talk.reminder", cancelled_at__isnull=True, sent_at__isnull=True
        ).count()
        == 0
    )


def test_a_reminder_for_a_talk_that_moved_on_unseen_is_dropped_at_send_time(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
    deliver_due()
    mail.outbox.clear()
    # Changed without a step (an administrator's repair, say): no one withdrew the reminder.
    talk.awaiting = hospital.nurse_wang
    talk.save(update_fields=["awaiting"])

    frozen.shift(SLA)
    assert deliver_due() == 0
    assert mail.outbox == []
    assert reminders() == [] and timezone.now() == NOW + SLA


def test_an_accepted_time_queues_a_preparation_reminder_for_both_a_day_before(
    hospital: Hospital, frozen: Any, settings: Any
) -> None:
    settings.MIANTAN_PREPARATION_HOURS = 24
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)

    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)

    prepare = Notification.objects.filter(kind="talk.prepare", channel=Channel.EMAIL)
    assert {row.recipient for row in prepare} == {hospital.nurse_wang, hospital.head_nurse}
    assert {row.due_at for row in prepare} == {TEN - timedelta(hours=24)}
    deliver_due()  # the invitations, due at once
    mail.outbox.clear()
    with time_machine.travel(TEN - timedelta(hours=23), tick=False):
        deliver_due()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [hospital.nurse_wang.email, hospital.head_nurse.email]
    )


def test_a_cancelled_talk_withdraws_its_preparation_reminders(
    hospital: Hospital, frozen: Any
) -> None:
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)

    step(talk, TalkEvent.CANCELLED, state=TalkState.CANCELLED, sequence=1)
    queue_talk_notifications(talk, TalkEvent.CANCELLED, actor=hospital.nurse_wang)

    pending = Notification.objects.filter(kind="talk.prepare", cancelled_at__isnull=True)
    assert not pending.exists()


def test_queue_new_talks_writes_the_rows_one_call_per_talk_would(
    hospital: Hospital, frozen: Any
) -> None:
    from miantan.interviews.messages import queue_new_talks

    def build() -> list[Any]:
        talks = []
        for awaiting in (hospital.nurse_wang, hospital.head_nurse):
            talk = step(
                talk_between(hospital, awaiting=awaiting, state=TalkState.NEGOTIATING),
                TalkEvent.REQUESTED,
            )
            Proposal.objects.create(
                talk=talk, proposed_by=hospital.head_nurse, start=TEN, end=TEN + SLA / 64
            )
            talks.append(talk)
        return talks

    def spelled(talks: list[Any]) -> set[tuple[Any, ...]]:
        """The rows with the talk as its place in the list and the step as "step"."""
        place = {str(talk.pk): index for index, talk in enumerate(talks)}
        rows = set()
        for r in Notification.objects.all():
            key, channel = r.key.split("#")
            _talk, talk_id, *middle, _step = key.split(":")
            start = (r.context.get("start") or "")[:19]
            shape = (place[talk_id], *middle, channel, r.recipient_id, r.kind, r.due_at, start)
            rows.add(shape)
        return rows

    first = build()
    for talk in first:
        queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.hr_partner)
    one_by_one = spelled(first)
    Notification.objects.all().delete()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    talks = build()
    with CaptureQueriesContext(connection) as queries:
        queue_new_talks(talks, actor=hospital.hr_partner)

    assert spelled(talks) == one_by_one and len(one_by_one) == 12
    # Steps, proposals, preferences, endpoints, and the insert.
    assert len(queries) <= 5
