"""The notification settings page (everyone) and the delivery page (administrators), in both
languages: choices saved and shown again, refusals shown by field with nothing saved, robots
set up and removed, a given-up message sent again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from miantan.notifications.models import Endpoint, Notification, Preference
from miantan.people.models import Employee
from tests.personas import Hospital

ClientAs = Callable[[Employee], Client]


@pytest.mark.parametrize(
    ("language", "title"), [("zh-hans", "通知设置"), ("en", "Notification settings")]
)
def test_the_settings_page_saves_quiet_hours_and_shows_them(
    hospital: Hospital, client_as: ClientAs, language: str, title: str
) -> None:
    hospital.nurse_wang.language = language
    hospital.nurse_wang.save(update_fields=["language"])
    client = client_as(hospital.nurse_wang)
    page = client.get("/me/notifications/settings/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200 and title in page.content.decode()
    saved = client.post(
        "/me/notifications/settings/",
        {
            "channels": ["email"],
            "quiet_from": "22:30",
            "quiet_until": "06:00",
            "rest_after_night": "on",
            "digest_at": "08:30",
        },
    )
    assert saved.status_code == 302
    preference = Preference.objects.get(employee=hospital.nurse_wang)
    assert preference.channels == ["email", "inbox"] and str(preference.quiet_from) == "22:30:00"
    again = client.get("/me/notifications/settings/").content.decode()
    assert 'value="22:30"' in again and 'value="06:00"' in again


def test_half_a_quiet_time_is_refused_on_the_page_and_nothing_saved(
    hospital: Hospital, client_as: ClientAs
) -> None:
    client = client_as(hospital.nurse_wang)
    answer = client.post(
        "/me/notifications/settings/", {"channels": ["email"], "quiet_from": "22:00"}
    )
    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()
    assert not Preference.objects.exists()


def test_only_the_administrator_sees_the_delivery_page_and_it_works(
    hospital: Hospital, client_as: ClientAs
) -> None:
    assert client_as(hospital.hr_partner).get("/settings/delivery/").status_code == 403
    admin = client_as(hospital.admin)
    assert "/settings/delivery/" in admin.get("/me/notifications/settings/").content.decode()
    added = admin.post(
        "/settings/delivery/",
        {
            "channel": "wecom",
            "name": "全院通知群",
            "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        },
    )
    assert added.status_code == 302
    endpoint = Endpoint.objects.get()
    page = admin.get("/settings/delivery/").content.decode()
    assert "全院通知群" in page and "key=abc" not in page
    row = Notification.objects.create(
        organisation=hospital.organisation,
        recipient=hospital.zhao,
        kind="talk.requested",
        channel="wecom",
        key="given-up#wecom",
        due_at=timezone.now(),
        failed_at=timezone.now(),
        attempts=6,
        last_error="WebhookRefused: code 93000: invalid webhook url",
    )
    assert "invalid webhook url" in admin.get("/settings/delivery/").content.decode()
    assert admin.post(f"/settings/delivery/notifications/{row.pk}/retry/").status_code == 302
    row.refresh_from_db()
    assert row.failed_at is None
    assert admin.post(f"/settings/delivery/endpoints/{endpoint.pk}/delete/").status_code == 302
    assert not Endpoint.objects.exists()


def test_a_bad_webhook_address_is_refused_by_field(hospital: Hospital, client_as: ClientAs) -> None:
    answer = client_as(hospital.admin).post(
        "/settings/delivery/", {"channel": "slack", "name": "", "url": "hooks.slack.com"}
    )
    assert answer.status_code == 400 and not Endpoint.objects.exists()
    assert answer.content.decode().count('role="alert"') >= 2
