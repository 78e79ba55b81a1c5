"""Queuing due rows: idempotent on the key, one row per channel, withdrawn by key prefix."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.services import CalendarFile, cancel_pending, notify
from tests.notifications.builders import talk_between
from tests.personas import Hospital


def test_notify_queues_one_row_per_channel_due_now(hospital: Hospital) -> None:
    talk = talk_between(hospital)

    rows = notify(hospital.head_nurse, "talk.requested", key="k:1", obj=talk)

    assert sorted(row.channel for row in rows) == [Channel.EMAIL, Channel.INBOX]
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert (row.recipient, row.object_type, row.object_id) == (
        hospital.head_nurse,
        "interviews.talk",
        str(talk.pk),
    )
    assert row.organisation_id == hospital.organisation.pk
    assert row.due_at <= timezone.now() and row.sent_at is None and row.subject == ""


def test_notify_twice_with_the_same_key_creates_nothing_the_second_time(
    hospital: Hospital,
) -> None:
    talk = talk_between(hospital)
    notify(hospital.head_nurse, "talk.requested", key="k:1", obj=talk)

    again = notify(hospital.head_nurse, "talk.requested", key="k:1", obj=talk)

    assert again == []
    assert Notification.objects.count() == 2


def test_notify_sends_no_mail_to_someone_without_an_address(hospital: Hospital) -> None:
    hospital.zhao.email = ""
    hospital.zhao.save(update_fields=["email"])

    rows = notify(hospital.zhao, "talk.requested", key="k:zhao", obj=None)

    assert [row.channel for row in rows] == [Channel.INBOX]


def test_notify_keeps_the_calendar_file_with_the_mail_only(hospital: Hospital) -> None:
    invitation = CalendarFile(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "REQUEST")

    notify(hospital.head_nurse, "talk.accepted", key="k:ics", obj=None, ics=invitation)

    mail = Notification.objects.get(channel=Channel.EMAIL)
    inbox = Notification.objects.get(channel=Channel.INBOX)
    assert (mail.ics, mail.ics_method) == ("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "REQUEST")
    assert (inbox.ics, inbox.ics_method) == ("", "")


def test_cancel_pending_withdraws_unsent_rows_under_the_prefix_only(hospital: Hospital) -> None:
    later = timezone.now() + timedelta(hours=48)
    notify(hospital.head_nurse, "talk.reminder", key="talk:7:reminder:1", obj=None, due_at=later)
    notify(hospital.head_nurse, "talk.reminder", key="talk:71:reminder:1", obj=None, due_at=later)
    sent = notify(hospital.head_nurse, "talk.requested", key="talk:7:reminder:0", obj=None)
    Notification.objects.filter(pk__in=[row.pk for row in sent]).update(sent_at=timezone.now())

    withdrawn = cancel_pending("talk:7:reminder:")

    assert withdrawn == 2
    assert not Notification.objects.filter(key__startswith="talk:71:", cancelled_at__isnull=False)
    assert not Notification.objects.filter(sent_at__isnull=False, cancelled_at__isnull=False)


def test_cancel_pending_keeps_the_message_named_in_keep(hospital: Hospital) -> None:
    notify(hospital.head_nurse, "talk.reminder", key="talk:7:reminder:1:10", obj=None)
    notify(hospital.head_nurse, "talk.reminder", key="talk:7:reminder:1:11", obj=None)

    cancel_pending("talk:7:reminder:", keep="talk:7:reminder:1:11")

    pending = Notification.objects.filter(cancelled_at__isnull=True)
    assert {row.key.split("#")[0] for row in pending} == {"talk:7:reminder:1:11"}
