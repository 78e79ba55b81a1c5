"""Every channel with its real format: mail over a real SMTP server on loopback (Message-ID
from the idempotency key, HTML and text, the sender's name), and the five group robots and
webhooks posted to local receivers that check each platform's payload and signature. Then
what people choose: quiet hours in their time zone, rest after a night shift on their roster,
urgent messages, the daily digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest
import time_machine

from miantan.notifications.enums import Channel
from miantan.notifications.models import Endpoint, Notification, Preference
from miantan.notifications.services import BACKOFF, deliver_due, notify
from miantan.scheduling.models import RosterEntry
from tests.notifications import receivers as receiving
from tests.notifications.builders import SHANGHAI, talk_between
from tests.notifications.conftest import Mailbox
from tests.personas import Hospital
from tests.scheduling.builders import shift_codes

MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI)
ROBOTS = ["wecom", "dingtalk", "feishu", "slack", "teams"]


@pytest.fixture
def receivers() -> Iterator[receiving.Receivers]:
    started = receiving.start()
    yield started
    started.stop()


@pytest.fixture
def robots(hospital: Hospital, receivers: receiving.Receivers) -> receiving.Receivers:
    for channel in ROBOTS:
        Endpoint.objects.create(
            organisation=hospital.organisation,
            channel=channel,
            name=f"心内科 {channel}",
            url=receivers.url(channel),
            secret=receiving.SECRETS.get(channel, ""),
        )
    return receivers


def _choose(person: Any, *channels: str, **fields: Any) -> Preference:
    values = {"channels": list(channels), "quiet_from": None, "quiet_until": None, **fields}
    preference, _created = Preference.objects.update_or_create(employee=person, defaults=values)
    return preference


def _request(hospital: Hospital, key: str = "one", **extra: Any) -> list[Notification]:
    talk = talk_between(hospital)
    return notify(
        hospital.nurse_wang,
        "talk.requested",
        key=f"talk:{talk.pk}:{key}",
        obj=talk,
        context={"event": "requested", "actor_id": hospital.head_nurse.pk, "actor_name": "周敏"},
        **extra,
    )


@pytest.mark.parametrize("channel", ROBOTS)
def test_each_robot_gets_its_platforms_payload_with_the_idempotency_key(
    hospital: Hospital, robots: receiving.Receivers, channel: str
) -> None:
    hospital.nurse_wang.phone = "13800001313"
    hospital.nurse_wang.save(update_fields=["phone"])
    _choose(hospital.nurse_wang, channel)
    with time_machine.travel(MONDAY_NOON, tick=False):
        rows = _request(hospital)
        assert {row.channel for row in rows} == {channel, Channel.INBOX}
        assert deliver_due() == 2

    assert robots.refused == []
    [received] = robots.received
    row = Notification.objects.get(channel=channel)
    assert received.channel == channel and received.key == row.idempotency_key
    text = str(received.payload)
    assert "周敏" in text
    if channel in ("wecom", "dingtalk"):
        assert "13800001313" in text  # the nurse is @-mentioned in the group


def test_a_robot_that_refuses_is_retried_with_backoff_and_then_delivered(
    hospital: Hospital, robots: receiving.Receivers
) -> None:
    _choose(hospital.nurse_wang, "dingtalk")
    robots.failing.add("dingtalk")
    with time_machine.travel(MONDAY_NOON, tick=False) as clock:
        _request(hospital)
        assert deliver_due() == 1  # the inbox row
        row = Notification.objects.get(channel="dingtalk")
        assert row.sent_at is None and row.attempts == 1
        assert "code 310000" in row.last_error and row.due_at == MONDAY_NOON + BACKOFF[0]
        robots.failing.clear()
        clock.shift(BACKOFF[0])
        assert deliver_due() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2
    assert list(robots.keys().values()) == [1]


def test_a_wrong_signing_secret_is_refused_by_the_platform_and_kept_as_the_error(
    hospital: Hospital, robots: receiving.Receivers
) -> None:
    endpoint = Endpoint.objects.get(channel="feishu")
    endpoint.secret = "not-the-secret"
    endpoint.save()
    _choose(hospital.nurse_wang, "feishu")
    with time_machine.travel(MONDAY_NOON, tick=False):
        _request(hospital)
        deliver_due()
    row = Notification.objects.get(channel="feishu")
    assert row.sent_at is None and "code 19021" in row.last_error
    assert robots.received == []


def test_a_department_endpoint_wins_over_the_organisations(
    hospital: Hospital, robots: receiving.Receivers
) -> None:
    other = receiving.start()
    try:
        Endpoint.objects.create(
            organisation=hospital.organisation,
            channel="slack",
            department=hospital.cardiology,
            name="心内科",
            url=other.url("slack"),
        )
        _choose(hospital.nurse_wang, "slack")
        with time_machine.travel(MONDAY_NOON, tick=False):
            _request(hospital)
            deliver_due()
        assert len(other.received) == 1 and robots.received == []
    finally:
        other.stop()


def test_no_robot_row_for_a_channel_nobody_set_up(hospital: Hospital) -> None:
    _choose(hospital.nurse_wang, "wecom", "email")
    rows = _request(hospital)
    assert {row.channel for row in rows} == {Channel.EMAIL, Channel.INBOX}


def test_the_mail_carries_the_key_html_text_and_the_senders_name(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    with time_machine.travel(MONDAY_NOON, tick=False):
        _request(hospital, sender=hospital.head_nurse)
        deliver_due()
    [message] = smtp_server.messages
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert message["Message-ID"] == row.message_id
    assert message["X-Miantan-Idempotency-Key"] == row.idempotency_key
    assert "周敏" in str(message["From"]) and hospital.head_nurse.email in str(message["Reply-To"])
    html = message.get_body(preferencelist=("html",))
    plain = message.get_body(preferencelist=("plain",))
    assert html is not None and plain is not None
    assert "<p>" in html.get_content() and "周敏" in plain.get_content()


def test_the_same_row_sent_again_keeps_its_message_id(hospital: Hospital) -> None:
    [mail_row, _inbox] = sorted(_request(hospital), key=lambda row: row.channel)
    again = Notification.objects.get(pk=mail_row.pk)
    assert again.message_id == mail_row.message_id
    other = _request(hospital, key="two")[0]
    assert other.idempotency_key != mail_row.idempotency_key


# --- quiet hours, night shifts, digest ------------------------------------------------------------


def test_quiet_hours_hold_a_mail_until_they_end_in_the_recipients_time_zone(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    _choose(hospital.nurse_wang, "email", quiet_from=time(22), quiet_until=time(7))
    late = datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)
    with time_machine.travel(late, tick=False) as clock:
        _request(hospital)
        assert deliver_due() == 1  # the inbox makes no sound: it is not held
        row = Notification.objects.get(channel=Channel.EMAIL)
        assert row.due_at == datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI) and row.attempts == 0
        assert smtp_server.messages == []
        clock.move_to(datetime(2026, 3, 3, 7, 0, tzinfo=SHANGHAI))
        assert deliver_due() == 1
    assert len(smtp_server.messages) == 1


def test_an_urgent_message_is_not_held(hospital: Hospital, smtp_server: Mailbox) -> None:
    _choose(hospital.nurse_wang, "email", quiet_from=time(22), quiet_until=time(7))
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI), tick=False):
        _request(hospital, urgent=True)
        assert deliver_due() == 2
    assert len(smtp_server.messages) == 1


def test_no_mail_to_a_night_nurse_at_ten_after_her_duty(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    """王芳 worked the night shift 20:00–08:00: at 10:00 she sleeps; the mail waits until
    16:00, eight hours after her duty ended."""
    codes = shift_codes(hospital.organisation)
    RosterEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        date=date(2026, 3, 1),
        shift_code=codes["夜班"],
    )
    _choose(hospital.nurse_wang, "email")
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        _request(hospital)
        deliver_due()
        row = Notification.objects.get(channel=Channel.EMAIL)
        assert row.sent_at is None
        assert row.due_at == datetime(2026, 3, 2, 16, 0, tzinfo=SHANGHAI)
        clock.move_to(datetime(2026, 3, 2, 16, 0, tzinfo=SHANGHAI))
        deliver_due()
    assert len(smtp_server.messages) == 1


def test_a_nurse_who_switched_rest_off_hears_at_once(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    codes = shift_codes(hospital.organisation)
    RosterEntry.objects.create(
        organisation=hospital.organisation,
        employee=hospital.nurse_wang,
        date=date(2026, 3, 1),
        shift_code=codes["夜班"],
    )
    _choose(hospital.nurse_wang, "email", rest_after_night=False)
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False):
        _request(hospital)
        deliver_due()
    assert len(smtp_server.messages) == 1


def test_the_daily_digest_sends_one_mail_with_every_message_of_the_day(
    hospital: Hospital, smtp_server: Mailbox
) -> None:
    _choose(hospital.nurse_wang, "email", digest=True, digest_at=time(8, 30))
    with time_machine.travel(MONDAY_NOON, tick=False) as clock:
        for key in ("one", "two", "three"):
            _request(hospital, key=key)
        rows = Notification.objects.filter(channel=Channel.EMAIL)
        assert {row.due_at for row in rows} == {datetime(2026, 3, 3, 8, 30, tzinfo=SHANGHAI)}
        assert deliver_due() == 3  # the inbox rows, at once
        clock.move_to(datetime(2026, 3, 3, 8, 30, tzinfo=SHANGHAI))
        assert deliver_due() == 3
    [digest] = smtp_server.messages
    assert "3" in str(digest["Subject"])
    body = digest.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().count("周敏") >= 3
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0
    # Sending the same digest again would carry the same Message-ID.
    assert digest["Message-ID"].endswith(">") and len(digest["Message-ID"]) > 20


def test_an_urgent_message_skips_the_digest(hospital: Hospital, smtp_server: Mailbox) -> None:
    _choose(hospital.nurse_wang, "email", digest=True)
    with time_machine.travel(MONDAY_NOON, tick=False):
        _request(hospital, urgent=True)
        assert deliver_due() == 2
    assert len(smtp_server.messages) == 1
    assert not Notification.objects.filter(digest=True).exists()


def test_delivery_reads_preferences_and_rosters_in_fixed_queries(
    hospital: Hospital, robots: receiving.Receivers, django_assert_max_num_queries: Any
) -> None:
    people = [hospital.nurse_wang, hospital.head_nurse, hospital.doctor_li, hospital.zhao]
    for person in people:
        _choose(person, "slack")
    with time_machine.travel(MONDAY_NOON, tick=False):
        for index in range(10):
            talk = talk_between(hospital)
            for person in people:
                notify(
                    person,
                    "talk.requested",
                    key=f"talk:{talk.pk}:{index}:{person.pk}",
                    obj=talk,
                    context={"event": "requested", "actor_name": "周敏"},
                )
        rows = Notification.objects.count()
        assert rows == 80
        # Per row: the attempt, the talk read by the template, the outcome.
        with django_assert_max_num_queries(12 + 4 * rows):
            assert deliver_due(limit=200) == 80
    assert len(robots.received) == 40
