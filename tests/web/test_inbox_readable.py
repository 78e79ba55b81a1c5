"""The inbox shows messages as a person reads them: the subject, a few lines of plain text and
a link to the talk, never a mail's headers, MIME parts, quoted-printable text or the full
address of the page. A mail keeps what only a mail needs (the attachment note, the address)."""

from __future__ import annotations

from collections.abc import Callable
from email.mime.text import MIMEText
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from miantan.interviews.enums import TalkEvent
from miantan.interviews.messages import queue_talk_notifications
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.rendering import inbox_entry, readable_text
from miantan.notifications.services import deliver_due
from miantan.people.models import Employee
from tests.notifications.builders import NOW, booked_talk, step, talk_between
from tests.personas import Hospital

Signer = Callable[[Employee], Client]


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def inbox_page(client: Client) -> str:
    html = client.get("/me/notifications/").content.decode()
    return html.split('data-testid="notifications"', 1)[1].split("</main>", 1)[0]


def test_inbox_shows_a_request_as_subject_text_and_a_link(
    hospital: Hospital, frozen: Any, client_as: Signer
):
    Employee.objects.filter(pk=hospital.head_nurse.pk).update(language="en")
    talk = step(talk_between(hospital), TalkEvent.REQUESTED)
    queue_talk_notifications(talk, TalkEvent.REQUESTED, actor=hospital.nurse_wang)
    deliver_due()

    page = inbox_page(client_as(hospital.head_nurse))

    assert "Talk requested: Quarterly review · 王芳" in page
    assert "王芳 asks you for a talk." in page and "Topic: Quarterly review" in page
    assert f'href="/talks/{talk.pk}/" data-testid="notification-link"' in page
    assert "http://" not in page and "Open the talk:" not in page


def test_inbox_leaves_out_the_calendar_attachment_note_of_the_mail(
    hospital: Hospital, frozen: Any, client_as: Signer
):
    Employee.objects.filter(pk__in=[hospital.head_nurse.pk, hospital.nurse_wang.pk]).update(
        language="en"
    )
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)
    deliver_due()

    page = inbox_page(client_as(hospital.nurse_wang))
    invitation = next(m for m in mail.outbox if m.to == [hospital.nurse_wang.email])

    assert "Time: 2026-03-04 (Wed) 10:00–10:45 (Asia/Shanghai)" in page
    assert "attached" not in page
    assert "The invitation for your calendar is attached." in invitation.body
    assert f"Open the talk: http://127.0.0.1:8000/talks/{talk.pk}/" in invitation.body


def test_inbox_in_chinese_uses_full_width_punctuation(
    hospital: Hospital, frozen: Any, client_as: Signer
):
    talk = step(booked_talk(hospital), TalkEvent.ACCEPTED)
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)
    deliver_due()

    row = Notification.objects.get(
        recipient=hospital.nurse_wang, channel=Channel.INBOX, kind="talk.accepted"
    )

    assert "主题：季度绩效面谈" in row.body
    assert "（星期三）" in row.body and "（Asia/Shanghai）" in row.body
    assert "：" in row.subject and ": " not in row.subject


def test_readable_text_takes_the_plain_part_of_a_whole_mail():
    message = EmailMultiAlternatives(
        "面谈已安排", "您的面谈已安排：周三 10:00。", to=["a@example.test"]
    )
    message.attach(MIMEText("BEGIN:VCALENDAR\nEND:VCALENDAR\n", "calendar", "utf-8"))

    text = readable_text(message.message().as_string())

    assert text.strip() == "您的面谈已安排：周三 10:00。"


def test_readable_text_decodes_quoted_printable():
    encoded = "=E6=82=A8=E7=9A=84=E9=9D=A2=E8=B0=88=E5=B7=B2=E5=AE=89=E6=8E=92=E3=80=82"

    assert readable_text(encoded) == "您的面谈已安排。"


def test_readable_text_decodes_encoded_words_of_a_subject():
    assert readable_text("=?utf-8?b?6Z2i6LCI5bey5a6J5o6S?=") == "面谈已安排"


def test_readable_text_leaves_plain_text_alone():
    text = "Topic: Quarterly review\nA = B, 3 = 3\n"

    assert readable_text(text) == text


def test_inbox_entry_of_a_mail_stored_whole_shows_its_text(hospital: Hospital, frozen: Any):
    talk = talk_between(hospital)
    whole = EmailMultiAlternatives(
        "Talk requested", f"王芳 asks you for a talk.\n\nOpen the talk: http://x/talks/{talk.pk}/"
    ).message()
    row = Notification.objects.create(
        organisation=hospital.organisation,
        recipient=hospital.head_nurse,
        kind="talk.requested",
        channel=Channel.INBOX,
        object_type="interviews.talk",
        object_id=str(talk.pk),
        key="whole",
        due_at=NOW,
        sent_at=NOW,
        subject="=?utf-8?q?Talk_requested?=",
        body=whole.as_string(),
    )

    entry = inbox_entry(row)

    assert entry.subject == "Talk requested"
    assert entry.lines == ["王芳 asks you for a talk."]
    assert entry.link == f"/talks/{talk.pk}/"


def test_inbox_entry_keeps_the_online_meeting_address(hospital: Hospital, frozen: Any):
    Employee.objects.filter(pk=hospital.nurse_wang.pk).update(language="en")
    talk = step(
        booked_talk(hospital, online_link="https://meeting.example/room/7"), TalkEvent.ACCEPTED
    )
    queue_talk_notifications(talk, TalkEvent.ACCEPTED, actor=hospital.head_nurse)
    deliver_due()

    row = Notification.objects.get(
        recipient=hospital.nurse_wang, channel=Channel.INBOX, kind="talk.accepted"
    )

    assert "Online meeting: https://meeting.example/room/7" in inbox_entry(row).lines
