"""`manage.py deliver_notifications`: each round expires overdue requests, then sends."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import time_machine
from django.core import mail
from django.core.management import call_command

from miantan.interviews.enums import TalkEvent, TalkState
from miantan.interviews.messages import queue_talk_notifications
from miantan.notifications.models import Notification
from tests.notifications.builders import NOW, step, talk_between
from tests.nudges.builders import switch_nudges_off
from tests.personas import Hospital


def test_a_round_expires_an_overdue_request_and_tells_both_sides(hospital: Hospital) -> None:
    # The round also runs the nudge rules (tests/nudges); they stay out of this count.
    switch_nudges_off(hospital)
    with time_machine.travel(NOW, tick=False):
        talk = talk_between(hospital, expires_at=NOW + timedelta(hours=24))
        step(talk, TalkEvent.REQUESTED)
        queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
        call_command("deliver_notifications", stdout=StringIO())
    mail.outbox.clear()

    with time_machine.travel(NOW + timedelta(hours=25), tick=False):
        out = StringIO()
        call_command("deliver_notifications", stdout=out)

    talk.refresh_from_db()
    assert talk.state == TalkState.EXPIRED
    assert out.getvalue() == "expired 1, sent 4\n"
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [hospital.nurse_wang.email, hospital.head_nurse.email]
    )
    # The reminder due at 48 hours went with the request.
    assert not Notification.objects.filter(
        kind="talk.reminder", sent_at__isnull=True, cancelled_at__isnull=True
    ).exists()
