"""The invitation travels through a real SMTP server (aiosmtpd on the loopback interface)."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from icalendar import Calendar

from miantan.interviews.enums import TalkEvent
from miantan.interviews.messages import queue_talk_notifications
from miantan.notifications.models import Notification
from miantan.notifications.services import deliver_due
from tests.notifications.builders import booked_talk, step
from tests.notifications.conftest import Mailbox
from tests.nudges.builders import switch_nudges_off
from tests.personas import Hospital


def test_the_invitation_arrives_with_the_calendar_file_attached(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)

    assert deliver_due() == 4

    received = {message["X-Envelope-To"]: message for message in smtp_server.messages}
    assert set(received) == {hospital.nurse_wang.email, hospital.head_nurse.email}
    message = received[hospital.nurse_wang.email]
    assert "季度绩效面谈" in str(message["Subject"])
    [attachment] = [part for part in message.iter_attachments()]
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    assert attachment.get_filename() == "invite.ics"
    calendar = Calendar.from_ical(attachment.get_content())
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == talk.uid and str(calendar["METHOD"]) == "REQUEST"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and f"/talks/{talk.pk}/" in body.get_content()


def test_deliver_notifications_sends_what_is_due_once(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    # The round also runs the nudge rules (tests/nudges); they stay out of this count.
    switch_nudges_off(hospital)
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)
    out = StringIO()

    call_command("deliver_notifications", stdout=out)
    call_command("deliver_notifications", stdout=out)

    assert len(smtp_server.messages) == 2
    assert out.getvalue() == "expired 0, sent 4\n"
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0
