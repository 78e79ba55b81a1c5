"""Delivering due rows: each is sent once, with several workers and after a worker died;
failures are kept and retried later; the text is worded at send time in the recipient's
language."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from miantan.core.clock import database_now
from miantan.notifications import services
from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.services import (
    BACKOFF,
    MAX_ATTEMPTS,
    claim_due,
    deliver_due,
    notify,
)
from tests.notifications.builders import NOW, talk_between
from tests.personas import Hospital


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def requested(hospital: Hospital, frozen: Any) -> Hospital:
    talk = talk_between(hospital)
    notify(
        hospital.head_nurse,
        "talk.requested",
        key=f"talk:{talk.pk}:requested",
        obj=talk,
        context={"event": "requested", "actor_id": hospital.nurse_wang.pk, "actor_name": "王芳"},
    )
    return hospital


def test_deliver_due_sends_each_row_once_over_two_rounds(requested: Hospital) -> None:
    first = deliver_due()
    second = deliver_due()

    assert (first, second) == (2, 0)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [requested.head_nurse.email]
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0


def test_deliver_due_leaves_rows_that_are_not_due_yet(hospital: Hospital, frozen: Any) -> None:
    notify(
        hospital.head_nurse,
        "talk.reminder",
        key="later",
        obj=None,
        due_at=timezone.now() + timedelta(hours=1),
    )

    assert deliver_due() == 0
    frozen.shift(timedelta(hours=1))
    assert deliver_due() == 2


def test_a_row_claimed_by_another_worker_meanwhile_is_left_to_it(
    requested: Hospital, monkeypatch: pytest.MonkeyPatch
) -> None:
    picked = services._candidate_ids
    taken: list[Notification] = []

    def race(now: Any, limit: int, *, clock: Any) -> list[int]:
        ids = picked(now, limit, clock=clock)
        # Another worker claims the same rows between our read and our UPDATE.
        monkeypatch.setattr(services, "_candidate_ids", picked)
        taken.extend(claim_due(now=now, worker="other"))
        return ids

    monkeypatch.setattr(services, "_candidate_ids", race)

    assert deliver_due() == 0
    assert len(taken) == 2
    assert mail.outbox == []
    assert set(Notification.objects.values_list("claimed_by", flat=True)) == {"other"}
    # A claim is not an attempt: nothing was sent yet.
    assert set(Notification.objects.values_list("attempts", flat=True)) == {0}


def test_workers_claim_disjoint_rows(requested: Hospital) -> None:
    one = claim_due(worker="one", limit=1)
    two = claim_due(worker="two", limit=5)
    three = claim_due(worker="three")

    assert len(one) == 1 and len(two) == 1 and three == []
    assert one[0].pk != two[0].pk


def test_a_row_of_a_worker_that_died_is_sent_once_its_lease_ran_out(
    requested: Hospital, frozen: Any
) -> None:
    claim_due(worker="died")

    assert deliver_due() == 0
    # Leases run on the database's clock, which the frozen test clock does not move.
    Notification.objects.update(claimed_until=database_now() - timedelta(seconds=1))
    assert deliver_due() == 2
    assert deliver_due() == 0
    assert len(mail.outbox) == 1
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_a_failed_mail_is_kept_and_retried_with_backoff(
    requested: Hospital, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Any, message: Any) -> None:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(services._Mailer, "send", refuse)

    assert deliver_due() == 1  # the inbox row
    row = Notification.objects.get(channel=Channel.EMAIL)
    assert row.sent_at is None and row.attempts == 1 and row.claimed_by == ""
    assert row.last_error == "ConnectionRefusedError: mail server down"
    assert row.due_at == NOW + BACKOFF[0]

    monkeypatch.undo()
    assert deliver_due() == 0
    frozen.shift(BACKOFF[0])
    assert deliver_due() == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.last_error == "" and len(mail.outbox) == 1


def test_a_mail_that_keeps_failing_is_given_up(
    requested: Hospital, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Any, message: Any) -> None:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(services._Mailer, "send", refuse)
    for _attempt in range(MAX_ATTEMPTS):
        deliver_due()
        frozen.shift(max(BACKOFF))

    row = Notification.objects.get(channel=Channel.EMAIL)
    assert row.attempts == MAX_ATTEMPTS and row.failed_at is not None
    assert claim_due(now=timezone.now() + timedelta(days=30)) == []


def test_the_text_is_worded_at_send_time_in_the_recipients_language(
    requested: Hospital,
) -> None:
    requested.head_nurse.language = "en"
    requested.head_nurse.save(update_fields=["language"])

    deliver_due()

    inbox = Notification.objects.get(channel=Channel.INBOX)
    assert inbox.subject.startswith("Talk requested: Quarterly review")
    assert "王芳 asks you for a talk." in inbox.body
    assert mail.outbox[0].subject == inbox.subject


def test_a_message_to_someone_who_left_is_dropped(requested: Hospital) -> None:
    requested.head_nurse.status = "left"
    requested.head_nurse.save(update_fields=["status"])

    assert deliver_due() == 0
    assert mail.outbox == []
    assert Notification.objects.filter(cancelled_at__isnull=False).count() == 2
