"""/me/notifications/: the signed-in person's inbox, and marking a notification read."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from miantan.notifications.enums import Channel
from miantan.notifications.models import Notification
from miantan.notifications.queries import inbox_of, unread_count
from miantan.notifications.services import deliver_due, notify
from miantan.people.models import Employee
from tests.personas import Hospital

SignIn = Callable[[Employee], Client]


def arrived(recipient: Employee, key: str) -> Notification:
    notify(recipient, "talk.reminder", key=key, obj=None, channels=[Channel.INBOX])
    deliver_due()
    return Notification.objects.get(key=f"{key}#inbox")


def test_inbox_lists_my_notifications_newest_first(hospital: Hospital, client_as: SignIn) -> None:
    first = arrived(hospital.nurse_wang, "one")
    second = arrived(hospital.nurse_wang, "two")
    arrived(hospital.zhao, "zhao")

    response = client_as(hospital.nurse_wang).get("/me/notifications/")

    assert response.status_code == 200
    assert [row.pk for row in response.context["page"]] == [second.pk, first.pk]


def test_inbox_leaves_out_messages_not_due_yet_and_mail(hospital: Hospital) -> None:
    notify(
        hospital.nurse_wang,
        "talk.reminder",
        key="later",
        obj=None,
        due_at=timezone.now() + timezone.timedelta(hours=1),
    )

    assert list(inbox_of(hospital.nurse_wang.user)) == []


def test_mark_read_marks_my_notification(hospital: Hospital, client_as: SignIn) -> None:
    notification = arrived(hospital.nurse_wang, "one")
    client = client_as(hospital.nurse_wang)

    response = client.post(f"/me/notifications/{notification.pk}/read/")

    assert response.status_code == 302 and response["Location"] == "/me/notifications/"
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert unread_count(hospital.nurse_wang.user) == 0


def test_mark_read_of_someone_elses_notification_is_404(
    hospital: Hospital, client_as: SignIn
) -> None:
    notification = arrived(hospital.zhao, "zhao")

    response = client_as(hospital.nurse_wang).post(f"/me/notifications/{notification.pk}/read/")

    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_read_goes_back_to_a_local_page_only(hospital: Hospital, client_as: SignIn) -> None:
    notification = arrived(hospital.nurse_wang, "one")

    response = client_as(hospital.nurse_wang).post(
        f"/me/notifications/{notification.pk}/read/", {"next": "https://evil.example/"}
    )

    assert response["Location"] == "/me/notifications/"


def test_inbox_pages_need_a_sign_in(hospital: Hospital) -> None:
    notification = arrived(hospital.nurse_wang, "one")

    assert Client().get("/me/notifications/").status_code == 302
    assert Client().post(f"/me/notifications/{notification.pk}/read/").status_code == 302


def test_mark_read_answers_get_with_405(hospital: Hospital, client_as: SignIn) -> None:
    notification = arrived(hospital.nurse_wang, "one")

    response = client_as(hospital.nurse_wang).get(f"/me/notifications/{notification.pk}/read/")

    assert response.status_code == 405


@pytest.mark.parametrize("rows", [1, 25])
def test_inbox_page_queries_do_not_grow_with_the_rows(
    hospital: Hospital, client_as: SignIn, rows: int
) -> None:
    for number in range(rows):
        notify(hospital.nurse_wang, "talk.reminder", key=f"k{number}", obj=None)
    deliver_due()
    client = client_as(hospital.nurse_wang)
    client.get("/me/notifications/")

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/me/notifications/")

    assert len(response.context["page"]) == rows
    assert len(queries) == EXPECTED_QUERIES, [q["sql"][:80] for q in queries.captured_queries]


# The session, the user, the scope and the navigation (4), the talks waiting for an answer
# (the navigation's badge), the count and the page.
EXPECTED_QUERIES = 8
